"""An output folder is published whole or not at all.

A run writes its files (``assignments.csv``, ``analysis.json``, ``writing.json``, ``model/``,
the memo) into a hidden sibling of the output folder; only when every file is written is the
sibling swapped in for the folder, by two renames on the same file system. A kill or an error
before the swap leaves the old folder as it was (the hidden sibling is removed on the next run);
a kill between the two renames leaves the old folder under a hidden name, which the next run
puts back first. A re-run never leaves files of an earlier run beside new ones (an old
``writing.json`` naming other segments): what a run produces is replaced as a set. Files no run
produces (the user's own, a glossary's versions) are carried over into the new folder.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from copilot.core import InputError

# Every name a segmentation run writes at the top of its folder; a new run replaces all of them
# (one it does not write again is dropped: it described other segments).
PRODUCED = frozenset({
    "analysis.json", "assignments.csv", "writing.json", "model", "memo.md", "memo_files",
    "crm.csv", "levels", "summary.md", "assignments.parquet",
})
_STAGE = ".{name}.staging-"
_OLD = ".{name}.previous-"


def produced_input(out_dir: str | Path, *inputs: str | Path) -> Path | None:
    """The first of ``inputs`` that a run into ``out_dir`` would replace, if any."""
    out = Path(out_dir).expanduser().resolve()
    for given in inputs:
        path = Path(given).expanduser().resolve()
        if out in path.parents and path.relative_to(out).parts[0] in PRODUCED:
            return Path(given)
    return None


def check_out_dir(out: Path) -> None:
    """Refuse, before any work, an output folder the swap must not replace: a file, the
    current folder or one above it, or a folder of other files than a run's."""
    if out.exists() and not out.is_dir():
        raise InputError(f"The output path {out} is a file; give a folder with --out-dir.")
    resolved, here = out.resolve(), Path.cwd().resolve()
    if resolved == here or resolved in here.parents or resolved == Path.home().resolve():
        raise InputError(f"--out-dir {out} is the current folder or one that holds it, which a "
                         "run replaces as a whole; give a folder of its own, e.g. "
                         "--out-dir segment-out.")
    if out.is_dir() and not (out / "analysis.json").exists():
        others = sorted(p.name for p in out.iterdir() if p.name not in PRODUCED)
        if others:
            raise InputError(f"{out} already holds files that are not a segmentation run's "
                             f"(such as {others[0]}); choose a new or empty folder for "
                             "--out-dir.")


def recover(out_dir: str | Path) -> None:
    """Put back a folder a killed swap left under its hidden name; drop stale staging."""
    out = Path(out_dir).expanduser()
    parent = out.resolve().parent if out.parent.exists() else None
    if parent is None:
        return
    name = out.name
    for old in sorted(parent.glob(_OLD.format(name=name) + "*")):
        if not out.exists():
            os.replace(old, out)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for stage in parent.glob(_STAGE.format(name=name) + "*"):
        shutil.rmtree(stage, ignore_errors=True)


@contextmanager
def staged_folder(out_dir: str | Path) -> Iterator[Path]:
    """Yield a hidden sibling of ``out_dir`` to write a run into; on success, swap it in.

    An exception (or Ctrl-C) inside the block removes the sibling and leaves ``out_dir`` as it
    was. ``InputError`` when ``out_dir`` is a file.
    """
    out = Path(out_dir).expanduser()
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    parent = out.resolve().parent
    stage = Path(tempfile.mkdtemp(prefix=_STAGE.format(name=out.name), dir=parent))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(stage, 0o777 & ~mask)  # a folder like any other, not mkdtemp's private 0700
    try:
        yield stage
        if out.exists():
            _carry_over(out, stage)
        swap_in(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def swap_in(stage: Path, out: Path) -> None:
    """Put the complete folder ``stage`` (a sibling of ``out``) in the place of ``out``: one
    atomic exchange where the system has it, else two renames that ``recover`` can undo."""
    if not out.exists():
        os.replace(stage, out)
    elif _exchange(stage, out):  # one atomic step: no moment without the folder
        shutil.rmtree(stage, ignore_errors=True)  # the previous run's files
    else:
        old = out.resolve().parent / (_OLD.format(name=out.name) + secrets.token_hex(4))
        os.replace(out, old)  # killed after this: recover() puts it back
        os.replace(stage, out)
        shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _carry_over(out: Path, stage: Path) -> None:
    """Copy into the new folder what no run produces (the user's files, glossary history)."""
    for child in out.iterdir():
        if child.name in PRODUCED or (stage / child.name).exists():
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.copytree(child, stage / child.name, symlinks=True)
        else:
            shutil.copy2(child, stage / child.name, follow_symlinks=False)

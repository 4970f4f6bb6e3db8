"""Files written atomically, and the refusal to overwrite an input.

A crash or a full disk mid-write must never leave a half-written file where a good one was:
each file is written beside its destination under a temporary name, flushed, then renamed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from copilot.core.errors import InputError


def refuse_overwrite(out: str | Path, *inputs: str | Path) -> None:
    """Raise ``InputError`` when writing ``out`` would overwrite one of ``inputs``.

    A file input is overwritten when ``out`` is the same file (by path with symlinks followed,
    or by inode: hard links, case-insensitive file systems); a folder input (a saved model)
    when ``out`` lies inside it. Call it before any work, so a refusal writes nothing.
    """
    target = Path(out).expanduser()
    for given in inputs:
        source = Path(given).expanduser()
        if source.is_dir():
            if _inside(target, source):
                raise InputError(f"{out} is inside the input folder {given}, so writing it "
                                 "could destroy that input; choose a path outside it.")
        elif same_file(target, source):
            raise InputError(f"{out} is the input {given}, so writing it would overwrite that "
                             "input; choose another path.")


def same_file(a: Path, b: Path) -> bool:
    """The same file by path (symlinks followed) or, when both exist, by inode."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        resolved, home = path.resolve(), folder.resolve()
        if resolved == home or home in resolved.parents:
            return True
        # By inode too: the same folder reached under another spelling.
        return any(p.exists() and os.path.samefile(p, folder)
                   for p in (resolved, *resolved.parents))
    except OSError:
        return False


def _umask_mode() -> int:
    mask = os.umask(0)  # the only way to read the umask; set back at once (at import)
    os.umask(mask)
    return 0o666 & ~mask


_NEW_FILE_MODE = _umask_mode()


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never a part."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file beside it, fsync, rename)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file path, such as {path / 'out.csv'}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            # mkstemp makes the file private (0600); give it the mode a plain open() would:
            # the replaced file's, else the user's umask.
            os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else _NEW_FILE_MODE)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(
            f"Cannot write {path} ({exc.strerror or exc}); choose a path in a folder you can "
            "write to."
        ) from None
    return path

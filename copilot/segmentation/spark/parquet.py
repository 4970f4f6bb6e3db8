"""Writing a Spark result as a Parquet folder, published whole or not at all.

Spark writes the folder beside its destination under a hidden name; only a complete write is
renamed into place, so a failed or killed job leaves the previous output (or nothing). An
existing destination is replaced only when it is a Parquet folder such a run writes: never a
file, nor a folder holding anything else.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any

from copilot.core import InputError
from copilot.segmentation.outputs import recover, swap_in

_SPARK_FILES = ("part-", "_SUCCESS", "._SUCCESS.crc", ".part-", "_committed", "_started")


def is_spark_output(folder: Path) -> bool:
    """A folder of Parquet parts and Spark's markers only (what ``write_parquet`` leaves)."""
    return folder.is_dir() and all(p.name.startswith(_SPARK_FILES) for p in folder.iterdir())


def check_parquet_out(out: Path) -> None:
    """Refuse, before any work, a destination a Parquet output must not replace."""
    if out.exists() and not is_spark_output(out):
        what = "a file" if not out.is_dir() else "a folder of other files"
        raise InputError(f"{out} is {what}, not a Parquet output of an earlier run, so it will "
                         "not be replaced; choose a new path for --out.")


def write_parquet(frame: Any, out: str | Path) -> Path:
    """Write ``frame`` to the Parquet folder ``out`` (checked with ``check_parquet_out``)."""
    out = Path(out).expanduser()
    check_parquet_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)  # a swap killed half-way puts the previous output back first
    stage = out.parent / f".{out.name}.staging-{secrets.token_hex(4)}"
    try:
        frame.write.mode("errorifexists").parquet(str(stage.resolve()))
        swap_in(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return out

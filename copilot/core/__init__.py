"""What every layer shares: the user-facing errors, the frozen base of typed results, atomic
file writes, the one number formatter and lazy package faces."""

from typing import TYPE_CHECKING

from copilot.core.errors import ColumnError, CopilotError, DataError, InputError, SettingsError
from copilot.core.faces import lazy_face
from copilot.core.files import atomic_write_bytes, atomic_write_text, refuse_overwrite, same_file
from copilot.core.numbers import (
    count,
    figure,
    fixed,
    measured,
    number,
    number_pair,
    percent,
    percent_number,
    round_sig,
)

if TYPE_CHECKING:
    from copilot.core.frozen import Frozen


def __getattr__(name: str):
    # Frozen brings pydantic: loaded when a module defines a result, not when the command
    # line is built (cli.py imports the errors from here).
    if name == "Frozen":
        from copilot.core.frozen import Frozen

        return Frozen
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ColumnError",
    "CopilotError",
    "DataError",
    "Frozen",
    "InputError",
    "SettingsError",
    "atomic_write_bytes",
    "atomic_write_text",
    "count",
    "figure",
    "fixed",
    "lazy_face",
    "measured",
    "number",
    "number_pair",
    "percent",
    "percent_number",
    "refuse_overwrite",
    "round_sig",
    "same_file",
]

"""What every layer shares: the user-facing errors, the frozen base of typed results, atomic
file writes and the one number formatter."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from copilot.core.frozen import Frozen


def __getattr__(name: str):
    # Frozen brings pydantic: loaded when a module defines a result, not when the command
    # line is built (cli.py imports the errors from here).
    if name == "Frozen":
        from copilot.core.frozen import Frozen

        return Frozen
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


from copilot.core.errors import ColumnError, CopilotError, DataError, InputError, SettingsError
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
    "measured",
    "number",
    "number_pair",
    "percent",
    "percent_number",
    "refuse_overwrite",
    "round_sig",
    "same_file",
]

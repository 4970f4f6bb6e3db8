"""One error base class with a user-facing sentence.

Every error a user can cause (bad file, bad column name, impossible k) is raised as a
``CopilotError`` subclass whose ``str()`` is one sentence saying what is wrong and how to fix
it. Front ends map the class to an exit code (CLI) or a notification (TUI) and never show a
traceback for these.
"""

from __future__ import annotations


class CopilotError(Exception):
    """Base class: ``str(err)`` is one clear sentence for the user."""

    exit_code: int = 1


class InputError(CopilotError):
    """The user's input (file, column, option) cannot be used as given."""

    exit_code = 2


class DataError(InputError):
    """The data file is missing, unreadable, empty or unusable for segmentation."""


class ColumnError(InputError):
    """A column named by the user does not exist or cannot play the asked role."""


class SettingsError(InputError):
    """An option value is impossible for this data (for example k larger than the rows)."""

"""Reading the JSON documents segment-copilot writes (models, glossaries, sessions).

Each document names its format and a version. A reader refuses, in one sentence each, a file
that is missing, unreadable, someone else's, or written by a newer segment-copilot: an older
engine must never guess at a shape it does not know.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from copilot.core import InputError


def read_document(path: Path, *, what: str, fmt: str, version_key: str, max_version: int,
                  exact: bool = False, find: str, fix: str) -> dict[str, Any]:
    """The parsed JSON of ``path``, a segment-copilot ``what`` (e.g. "model") of format ``fmt``.

    ``find`` says where a right file comes from (for a missing or foreign one); ``fix`` what
    to do with a corrupt one. ``exact`` refuses older versions too (no migration exists).
    """
    if not path.is_file():
        raise InputError(f"There is no saved {what} in {path.parent} ({path.name} is missing); "
                         f"{find}.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        # RecursionError: JSON nested thousands deep, which no saved file of ours is.
        raise InputError(f"The {what} file {path} is corrupt ({type(err).__name__}); "
                         f"{fix}.") from None
    if not isinstance(raw, dict) or raw.get("format") != fmt:
        raise InputError(f"{path} is not a segment-copilot {what}; {find}.")
    version = raw.get(version_key)
    if not isinstance(version, int) or version > max_version or (exact and version != max_version):
        newer = isinstance(version, int) and version > max_version
        raise InputError(f"The {what} file {path} has version {version!r}, "
                         f"{'newer than' if newer else 'not'} the version this segment-copilot "
                         f"reads ({max_version}); "
                         f"{'upgrade segment-copilot' if newer else fix}.")
    return raw

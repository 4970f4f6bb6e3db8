"""What the CLI fork server imports before its first run (see tests/cli_helpers.py): every
module of the product, which brings pandas, scikit-learn, SciPy, pyarrow and pydantic."""

from __future__ import annotations

import importlib
import pkgutil

import copilot


def _import_all() -> None:
    for module in pkgutil.walk_packages(copilot.__path__, "copilot."):
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is not installed: its run imports it late
            pass


_import_all()

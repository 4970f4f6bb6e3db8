"""What the CLI fork server imports before its first run (see tests/cli_helpers.py): every
module of the product, which brings pandas, scikit-learn, SciPy, pyarrow and pydantic, and the
libraries the product imports inside its functions (the OpenAI client alone was ~1 s of every
run that wrote with a model: openai 0.78 s, langchain_openai 0.21 s)."""

from __future__ import annotations

import importlib
import pkgutil

import copilot

# Imported where they are used, so a user's run that needs none of them starts without them.
LATE = ("duckdb", "openai", "langchain_openai", "httpx", "openpyxl", "sklearn.cluster",
        "sklearn.mixture", "sklearn.preprocessing", "sklearn.feature_extraction.text",
        "scipy.cluster.hierarchy", "pyarrow.parquet", "pyarrow.csv", "pyarrow.json",
        "charset_normalizer")


def _import_all() -> None:
    for module in pkgutil.walk_packages(copilot.__path__, "copilot."):
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is not installed: its run imports it late
            pass
    for name in LATE:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


_import_all()

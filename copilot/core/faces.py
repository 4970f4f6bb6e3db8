"""Package faces that import on first use.

A face (a package's ``__init__``) lists what the package exports as imports under
``if TYPE_CHECKING:``, where readers, type checkers and import-linter see them; ``lazy_face``
reads that block and imports each name's module only when the name is first used. So
``import copilot.segmentation`` costs nothing until the engine is used (no pandas, no
scikit-learn, and none of what scikit-learn pulls in, such as rich), and importing one engine
module does not load the other three floors.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path


def lazy_face(name: str) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for the package ``name`` from its TYPE_CHECKING
    imports."""
    package = sys.modules[name]
    exports = _type_checking_imports(Path(package.__file__))

    def __getattr__(attr: str) -> object:
        try:
            source = exports[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None
        value = getattr(importlib.import_module(source), attr)
        setattr(package, attr, value)  # the next use is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(package)) | set(exports))

    return __getattr__, __dir__, sorted(exports)


def _type_checking_imports(path: Path) -> dict[str, str]:
    """Exported name -> the module it comes from, read from ``if TYPE_CHECKING:`` blocks."""
    exports: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
                    exports.update({a.asname or a.name: stmt.module for a in stmt.names})
    return exports

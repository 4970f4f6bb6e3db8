"""The package list in pyproject.toml is explicit (prompts/ maps to copilot.prompts): keep it whole."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_package_directory_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "copilot").rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["copilot.prompts"] == "prompts"
    assert (REPO / "prompts" / "__init__.py").is_file()

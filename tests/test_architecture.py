"""The architecture: the engine stays headless, and the import contracts hold (import-linter)."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Not "rich": scikit-learn's progress-bar callback imports it by itself whenever it is installed
# (as it is once textual is), so its presence says nothing about the engine's imports.
FORBIDDEN = ("textual", "langchain", "langchain_core", "openai", "llama_cpp", "copilot.llm")
ENGINE_MODULES = tuple(sorted(
    m.name for m in pkgutil.walk_packages(
        [str(Path(__file__).resolve().parents[1] / "copilot" / "segmentation")],
        "copilot.segmentation.")
)) + ("copilot.segmentation", "copilot.core")


def test_engine_imports_no_ui_or_llm_package():
    # A fresh interpreter: modules the test runner already imported must not hide a leak.
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in ENGINE_MODULES)
        + f"print(' '.join(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the engine loaded: {out.stdout.strip()}"


ROOT = Path(__file__).resolve().parents[1]


def _lint(root: Path) -> subprocess.CompletedProcess:
    """import-linter's contracts (pyproject.toml) on the package under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run([sys.executable, "-c", code, "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True)


def test_the_import_contracts_hold():
    # Layers (cli > commands | tui > agent > workflow > report > llm > segmentation > core),
    # the engine's floors, no circle between siblings, and every package imported through
    # its face: pyproject.toml [tool.importlinter].
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "0 broken" in out.stdout


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(ROOT / "copilot", tmp_path / "copilot",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(path: Path, line: str) -> None:
    text = path.read_text()
    cut = text.index("\nfrom copilot")  # beside the module's own imports
    path.write_text(text[:cut] + "\n" + line + text[cut:])


@pytest.mark.parametrize(("module", "line", "contract"), [
    # The engine reaching up into the LLM layer.
    ("copilot/segmentation/analysis/roles.py", "import copilot.llm",
     "Layers: each imports only the layers below BROKEN"),
    # Reading input reaching up into the saved model.
    ("copilot/segmentation/data/load.py", "import copilot.segmentation.model",
     "analysis over reading input BROKEN"),
    # A report module reaching past the engine's face into a submodule.
    ("copilot/report/summary.py", "from copilot.segmentation.analysis.roles import infer_roles",
     "copilot.segmentation is imported through its face BROKEN"),
    # A circle between two sibling modules.
    ("copilot/agent/rankings.py", "import copilot.agent.answers",
     "No import circles between sibling modules or packages BROKEN"),
])
def test_a_broken_contract_fails_the_check(package_copy, module, line, contract):
    _add_import(package_copy / module, line)
    out = _lint(package_copy)
    assert out.returncode != 0
    assert contract in out.stdout, out.stdout[-3000:]


def test_only_the_tui_loads_textual():
    # The single-shot command and the memo must work without loading the terminal UI.
    code = ("import sys\nimport copilot.agent.agent, copilot.report.memo, copilot.cli\n"
            "print('textual' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_building_the_command_line_loads_no_engine():
    # main() catches Ctrl-C only once the parser is built: an engine import while building it
    # (pandas, scikit-learn: a second or more) is a window where Ctrl-C gives a traceback.
    # The commands import what they need inside their functions.
    code = ("import sys\nimport copilot.cli as cli\ncli.build_parser()\n"
            "print(sorted(m for m in ('pandas', 'sklearn', 'numpy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_engine_face_loads_the_engine_only_when_used():
    # The faces import on first use (copilot.core.lazy_face): the package alone brings no
    # pandas, no scikit-learn and none of what scikit-learn pulls in (rich, a terminal
    # renderer); one name loads its own module only, and every exported name resolves.
    code = (
        "import sys\nimport copilot.segmentation as seg\n"
        "print(sorted(m for m in ('pandas', 'sklearn', 'rich') if m in sys.modules))\n"
        "seg.ids_as_text\n"
        "print(sorted(m for m in ('sklearn', 'rich') if m in sys.modules))\n"
        "assert all(getattr(seg, n) is not None for n in seg.__all__)\n"
        "assert set(seg.__all__) <= set(dir(seg))\n"
        "try:\n    seg.no_such_name\nexcept AttributeError as err:\n    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "[]", "[]", "module 'copilot.segmentation' has no attribute 'no_such_name'"]

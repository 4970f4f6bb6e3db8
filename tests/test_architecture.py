"""The engine stays headless: importing it loads no LLM, UI or terminal-rendering package."""

from __future__ import annotations

import subprocess
import sys

# Not "rich": scikit-learn's progress-bar callback imports it by itself whenever it is installed
# (as it is once textual is), so its presence says nothing about the engine's imports.
FORBIDDEN = ("textual", "langchain", "langchain_core", "openai", "llama_cpp", "copilot.llm")
ENGINE_MODULES = (
    "copilot.segmentation",
    "copilot.segmentation.pipeline",
    "copilot.segmentation.load",
    "copilot.segmentation.export",
)


def test_engine_imports_no_ui_or_llm_package():
    # A fresh interpreter: modules the test runner already imported must not hide a leak.
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in ENGINE_MODULES)
        + f"print(' '.join(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the engine loaded: {out.stdout.strip()}"


def test_engine_source_does_not_import_upper_layers():
    from pathlib import Path

    import copilot.segmentation as seg

    root = Path(seg.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        for upper in ("copilot.llm", "copilot.agent", "copilot.tui", "copilot.report",
                      "copilot.cli"):
            assert f"import {upper}" not in text and f"from {upper}" not in text, (path, upper)

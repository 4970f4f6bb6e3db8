"""The engine stays headless: importing it loads no LLM, UI or terminal-rendering package."""

from __future__ import annotations

import subprocess
import sys

# Not "rich": scikit-learn's progress-bar callback imports it by itself whenever it is installed
# (as it is once textual is), so its presence says nothing about the engine's imports.
FORBIDDEN = ("textual", "langchain", "langchain_core", "openai", "llama_cpp", "copilot.llm")
ENGINE_MODULES = (
    "copilot.segmentation",
    "copilot.segmentation.analysis.pipeline",
    "copilot.segmentation.data.load",
    "copilot.segmentation.outputs.export",
    "copilot.segmentation.analysis.themes",
    "copilot.segmentation.analysis.anchors",
    "copilot.segmentation.model.drift",
    "copilot.segmentation.outputs.glossary",
    "copilot.segmentation.data.events",
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
                      "copilot.cli", "copilot.commands", "copilot.workflow"):
            assert f"import {upper}" not in text and f"from {upper}" not in text, (path, upper)


# Imports flow one way: segmentation <- llm <- report <- workflow <- agent <- cli / commands /
# tui. (The report sits under the agent, not beside the front ends as DESIGN.md first drew it: the agent's export_memo
# tool writes the memo, so the agent must import the report, never the reverse.)
LAYERS = {
    "llm": ("copilot.agent", "copilot.report", "copilot.tui", "copilot.cli", "copilot.commands",
            "copilot.workflow"),
    "report": ("copilot.agent", "copilot.tui", "copilot.cli", "copilot.commands",
               "copilot.workflow"),
    "workflow": ("copilot.agent", "copilot.tui", "copilot.cli", "copilot.commands"),
    "agent": ("copilot.tui", "copilot.cli", "copilot.commands"),
    "tui": ("copilot.cli", "copilot.commands"),
    # The commands are front ends beside cli.py, which wires them: never the other way round.
    "commands": ("copilot.cli", "copilot.tui"),
}


def test_each_layer_imports_only_the_layers_below():
    from pathlib import Path

    import copilot

    root = Path(copilot.__file__).parent
    for layer, uppers in LAYERS.items():
        for path in (root / layer).glob("*.py"):
            text = path.read_text()
            for upper in uppers:
                assert f"import {upper}" not in text and f"from {upper}" not in text, (path, upper)


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


def test_the_anchor_report_does_not_import_the_pipeline():
    # The pipeline imports anchors for its report; segmenting within anchors (which runs the
    # pipeline per level) lives in within.py, so the two modules no longer import each other.
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "copilot/segmentation/analysis/anchors.py").read_text()
    assert "copilot.segmentation.analysis.pipeline" not in text and "copilot.segmentation.analysis.within" not in text

"""The strategy memo of an analysis (Markdown with PNG charts beside it)."""

from __future__ import annotations

from pathlib import Path

from copilot.llm import Writing
from copilot.report import MemoFiles
from copilot.segmentation import SegmentAnalysis


def write_strategy_memo(analysis: SegmentAnalysis, writing: Writing | None, out: Path, *,
                        goal: str | None) -> MemoFiles:
    """Write the memo to ``out`` and its charts beside it."""
    from copilot.report import write_memo

    return write_memo(analysis, writing, out, goal=goal)

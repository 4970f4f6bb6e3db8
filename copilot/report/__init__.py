"""Human-readable renderings of an analysis (the plain-text summary; the memo comes later)."""

from copilot.report.memo import MemoFiles, render_memo, write_memo
from copilot.report.summary import anchor_text, render_anchored_summary, render_summary, theme_text
from copilot.report.writing import render_writing

__all__ = [
    "MemoFiles",
    "anchor_text",
    "render_anchored_summary",
    "render_memo",
    "render_summary",
    "render_writing",
    "theme_text",
    "write_memo",
]

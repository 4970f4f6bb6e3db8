"""The memo's charts as small PNG files: the k sweep, segment sizes, the 2D map and outcomes.

Why the object-oriented API and not pyplot: a ``Figure`` drawn on an explicit Agg canvas
needs no display and touches no global state (pyplot keeps a registry of open figures and a
process-wide backend), so charts can be drawn from a worker thread of the chat app, no figure
is left open to close, and another part of the program that uses pyplot is not disturbed. Agg
is also selected for pyplot when this module loads first, so nothing opens a window.

Every chart is deterministic: fixed size and dpi, the default style (a user's matplotlibrc
does not leak in), no timestamp or software tag in the file. Each file is written beside its
destination under a temporary name, then renamed, so a failed run never leaves half a PNG.
Numbers on the charts are drawn from the analysis; the memo's number trace checks the text,
and the charts show the same figures.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules:
    # Before any pyplot import, so nothing in this process can open a window. Not forced once
    # pyplot is loaded: switching then would close the figures of whoever loaded it.
    matplotlib.use("Agg")

from matplotlib import style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from copilot.core import percent
from copilot.segmentation import ALGORITHM_NAMES, SegmentAnalysis

DPI = 100
MAX_OUTCOMES = 4  # one panel each; more would make the chart unreadable at memo size
UNASSIGNED_COLOUR = "#9e9e9e"

#: Chart keys, in the order the memo shows them, and their file names.
CHART_FILES = {
    "k_sweep": "k_sweep.png",
    "sizes": "segment_sizes.png",
    "projection": "segment_map.png",
    "outcomes": "outcomes.png",
}


def write_charts(analysis: SegmentAnalysis, names: dict[int, str], folder: str | Path) -> dict[str, Path]:
    """Draw every chart that applies into ``folder``; return {chart key: path}.

    ``names`` maps segment numbers to the names the memo uses, for legends and labels.
    Raises OSError when the folder or a file cannot be written (the caller words it).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    drawers: dict[str, Callable[[], Figure | None]] = {
        "k_sweep": lambda: k_sweep_figure(analysis),
        "sizes": lambda: sizes_figure(analysis, names),
        "projection": lambda: projection_figure(analysis, names),
        "outcomes": lambda: outcomes_figure(analysis, names),
    }
    written: dict[str, Path] = {}
    for key, draw in drawers.items():
        # The default style while drawing and saving: a user's matplotlibrc must not change
        # the files (rcParams are read when artists are made and when the file is written).
        with style.context("default"):
            fig = draw()
            if fig is not None:  # e.g. no outcome columns: no outcome chart
                written[key] = save_png(fig, folder / CHART_FILES[key])
    return written


def save_png(fig: Figure, path: Path) -> Path:
    """Render ``fig`` to ``path`` atomically (temporary file beside it, then rename)."""
    FigureCanvasAgg(fig)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            # No "Software" tag: the same analysis gives byte-identical files on any version.
            fig.savefig(fh, format="png", dpi=DPI, metadata={"Software": None})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _colour(segment: int, index: int) -> str:
    if segment < 0:
        return UNASSIGNED_COLOUR
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
               "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f")
    return palette[index % len(palette)]


def _label(segment: int, names: dict[int, str]) -> str:
    if segment < 0:
        return "Unassigned"
    return f"{segment}: {names.get(segment, f'Segment {segment}')}"


# --- the k sweep ---------------------------------------------------------------------------------

_SWEEP_PANELS: tuple[tuple[str, str, bool], ...] = (
    ("silhouette", "Silhouette (higher is better)", False),
    ("stability", "Bootstrap stability (higher is better)", False),
    ("min_share", "Smallest segment, % of customers", True),
    ("icl", "ICL, Gaussian mixture (lower is better)", False),
)


def k_sweep_figure(analysis: SegmentAnalysis) -> Figure | None:
    """Score metrics by k, one line per algorithm; the chosen option starred, the band shaded."""
    sweep, choice = analysis.sweep, analysis.choice
    panels = [p for p in _SWEEP_PANELS
              if any(getattr(r, p[0]) is not None for r in sweep.rows)]
    if not sweep.rows or not panels:
        return None
    fig = _figure(9, 6 if len(panels) > 2 else 3.2)
    axes = fig.subplots(2 if len(panels) > 2 else 1, 2, squeeze=False).ravel()
    lo, hi = sweep.band
    # One colour per algorithm in every panel (the ICL panel has the mixture alone).
    palette = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    colour = {a: palette[i % len(palette)] for i, a in enumerate(sweep.algorithms)}
    for ax, (field, title, as_pct) in zip(axes, panels, strict=False):
        for algorithm in sweep.algorithms:
            points = [(r.k, getattr(r, field)) for r in sweep.for_algorithm(algorithm)
                      if getattr(r, field) is not None]
            if not points:
                continue
            ks, values = zip(*points, strict=True)
            values = [100 * v for v in values] if as_pct else list(values)
            ax.plot(ks, values, marker="o", markersize=3, linewidth=1.2, color=colour[algorithm],
                    label=ALGORITHM_NAMES.get(algorithm, algorithm))
            if algorithm == choice.algorithm and choice.k in ks:
                y = values[ks.index(choice.k)]
                ax.plot([choice.k], [y], marker="*", markersize=14, color="black", zorder=5,
                        linestyle="none", label="chosen")
        ax.axvspan(lo - 0.5, hi + 0.5, color="#e8f0fe", zorder=0)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("k (number of segments)", fontsize=8)
        ax.set_xticks(list(sweep.k_values))
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.6g}"))  # 165,000, not 1.65e5
        ax.tick_params(labelsize=7)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8,
               frameon=False)
    fig.suptitle("Scores by k (shaded: your preferred range)", fontsize=10)
    return fig


# --- sizes -----------------------------------------------------------------------------------------

def sizes_figure(analysis: SegmentAnalysis, names: dict[int, str]) -> Figure | None:
    """Customers per segment, largest at the top, each bar labelled with its share."""
    profiles = list(analysis.profiles)
    if not profiles:
        return None
    fig = _figure(7, 0.45 * len(profiles) + 1.2)
    ax = fig.subplots()
    rows = list(reversed(profiles))  # barh draws bottom-up; the largest (segment 0) on top
    colours = [_colour(p.segment, _position(analysis, p.segment)) for p in rows]
    ax.barh([_label(p.segment, names) for p in rows], [p.size for p in rows], color=colours)
    for i, p in enumerate(rows):
        ax.text(p.size, i, f" {p.size:,} ({percent(p.share, 1)})", va="center", fontsize=8)
    ax.set_xlabel("customers", fontsize=8)
    ax.set_xlim(0, max(p.size for p in rows) * 1.3)
    ax.tick_params(labelsize=8)
    ax.set_title("Segment sizes", fontsize=10)
    return fig


def _position(analysis: SegmentAnalysis, segment: int) -> int:
    """A segment's colour index: its rank among the assigned segments (stable across charts)."""
    assigned = [p.segment for p in analysis.profiles if p.segment >= 0]
    return assigned.index(segment) if segment in assigned else 0


# --- the 2D map ------------------------------------------------------------------------------------

def projection_figure(analysis: SegmentAnalysis, names: dict[int, str]) -> Figure | None:
    """The engine's 2D projection of a sample of customers, coloured by segment."""
    proj = analysis.projection
    if not proj.x:
        return None
    fig = _figure(7, 5.5)
    ax = fig.subplots()
    segments = sorted(set(proj.labels), key=lambda s: (s < 0, s))
    for segment in segments:
        xs = [x for x, label in zip(proj.x, proj.labels, strict=True) if label == segment]
        ys = [y for y, label in zip(proj.y, proj.labels, strict=True) if label == segment]
        ax.scatter(xs, ys, s=6, alpha=0.6, linewidths=0,
                   color=_colour(segment, _position(analysis, segment)),
                   label=_label(segment, names))
    axis = _axis_names(proj.method, proj.explained_variance)
    ax.set_xlabel(axis[0], fontsize=8)
    ax.set_ylabel(axis[1], fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, markerscale=2.5, loc="best", frameon=False)
    ax.set_title(f"Segment map ({len(proj.x):,} customers sampled)", fontsize=10)
    return fig


def _axis_names(method: str, variance: Sequence[float] | None) -> tuple[str, str]:
    if method == "pca" and variance:
        return (f"first component ({percent(variance[0], 0)} of variance)",
                f"second component ({percent(variance[1], 0)} of variance)")
    return ("first axis", "second axis")


# --- outcomes --------------------------------------------------------------------------------------

def outcomes_figure(analysis: SegmentAnalysis, names: dict[int, str]) -> Figure | None:
    """Each outcome's rate or mean per segment with its interval; the overall value dashed."""
    outcomes = [v for v in analysis.validation if any(s.value is not None for s in v.segments)]
    outcomes = outcomes[:MAX_OUTCOMES]
    if not outcomes:
        return None
    n_segments = max(len(v.segments) for v in outcomes)
    fig = _figure(4.2 * len(outcomes), 0.4 * n_segments + 1.6)
    axes = fig.subplots(1, len(outcomes), squeeze=False).ravel()
    for i, (ax, outcome) in enumerate(zip(axes, outcomes, strict=True)):
        scale = 100.0 if outcome.kind == "binary" else 1.0
        rows = [s for s in reversed(outcome.segments) if s.value is not None]
        ys = list(range(len(rows)))
        values = [scale * s.value for s in rows]
        low = [scale * (s.value - s.ci_low) if s.ci_low is not None else 0.0 for s in rows]
        high = [scale * (s.ci_high - s.value) if s.ci_high is not None else 0.0 for s in rows]
        colours = [_colour(s.segment, _position(analysis, s.segment)) for s in rows]
        ax.barh(ys, values, xerr=[low, high], color=colours, alpha=0.85,
                error_kw={"elinewidth": 1, "capsize": 3})
        if outcome.overall is not None:
            ax.axvline(scale * outcome.overall, color="black", linestyle="--", linewidth=1,
                       label="all customers")
            ax.legend(fontsize=7, frameon=False, loc="lower right")
        ax.set_yticks(ys)
        ax.set_yticklabels([_label(s.segment, names) if i == 0 else str(s.segment) for s in rows],
                           fontsize=8)
        unit = "% (rate)" if outcome.kind == "binary" else "(mean)"
        ax.set_title(f"{outcome.name} {unit}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("Outcomes by segment, with confidence intervals", fontsize=10)
    return fig

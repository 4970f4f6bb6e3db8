"""The right-hand panels: data, segments, k-sweep, map and memo.

Each panel has ``show(view)``, called by the app's handlers (never by a worker) with a
``PanelView``: the session plus what the app knows beside it. A panel redraws only when what it
shows changed, so the handlers may call ``show`` after every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.markdown import Markdown as RichMarkdown
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Static

from copilot.agent import profile_text, segment_names, stance_labels, with_stance
from copilot.core import CopilotError, figure, percent
from copilot.segmentation import ALGORITHM_NAMES
from copilot.tui.charts import LegendEntry, map_legend, scatter_map, sweep_chart

if TYPE_CHECKING:
    from copilot.agent import Session
    from copilot.segmentation import QualityReport, RoleReport, SegmentProfile, SweepTable


@dataclass(frozen=True)
class PanelView:
    """What the panels show: the session, the roles and quality of a table not yet segmented
    (computed by a worker), and the last sweep over several k (kept when a fixed k replaced it)."""

    session: Session
    roles: RoleReport | None = None
    quality: QualityReport | None = None
    inspect_error: str | None = None
    last_sweep: SweepTable | None = None


def _unchanged(shown: tuple[Any, ...] | None, now: tuple[Any, ...]) -> bool:
    """Whether a panel already shows ``now``: the same objects (results are immutable, and a
    step replaces them), not equal ones; ids alone could be reused by new objects."""
    return shown is not None and len(shown) == len(now) and all(
        a is b for a, b in zip(shown, now, strict=True))


def _name_author(session: Session) -> dict[int, str]:
    """Who wrote each name: the model, a deterministic draft, or the user."""
    if session.writing is None:
        return {}
    return {n.segment: "yours" if n.author.writer == "user"
            else "draft" if n.author.status == "fallback" else "model"
            for n in session.writing.narratives}


# The stance column is short so the outcome figures beside it stay on screen; the details below
# the table give the full label ("typical value and risk").
_SHORT_STANCE = {"typical value and risk": "typical", "typical value": "typical",
                 "typical risk": "typical", "high value, loyal core": "high value, loyal"}


def short_stance(label: str) -> str:
    return _SHORT_STANCE.get(label, label)


# --- data ---------------------------------------------------------------------------------------


class DataPanel(VerticalScroll):
    """The loaded table: its columns with their roles, and the quality findings."""

    DEFAULT_CSS = """
    DataPanel { padding: 0 1; }
    DataPanel #data-summary { margin: 0 0 1 0; }
    DataPanel #data-quality { margin: 0 0 1 0; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="data-summary")
        yield Static(id="data-quality")
        yield Static(id="data-columns")

    def on_mount(self) -> None:
        self._shown: tuple[Any, ...] | None = None

    def show(self, view: PanelView) -> None:
        s = view.session
        roles, quality = (s.analysis.roles, s.analysis.quality) if s.analysis else (
            view.roles, view.quality)
        key = (s.data_path, s.goal, roles, quality, view.inspect_error)
        if _unchanged(self._shown, key):
            return
        self._shown = key
        summary = Text()
        if s.data_path is None:
            summary.append("No table loaded yet. ", style="bold")
            summary.append("Type /load PATH (CSV, TSV, Parquet, Excel, JSON).")
        else:
            summary.append(s.data_name, style="bold")
            if quality is not None:
                summary.append(f": {quality.n_rows:,} rows, {quality.n_columns} columns.")
        summary.append("\nGoal: ", style="bold")
        summary.append(s.goal or "not set yet (/goal TEXT)")
        if view.inspect_error and roles is None:
            summary.append(f"\n{view.inspect_error}", style="red")
        self.query_one("#data-summary", Static).update(summary)
        self.query_one("#data-columns", Static).update(_roles_table(roles) if roles else "")
        self.query_one("#data-quality", Static).update(_quality_text(quality) if quality else "")


NOTES_SHOWN = 5  # every warning is listed; notes (missing values, skew...) only the first few
_ROLE_STYLE = {"numeric": "green", "categorical": "green", "boolean": "green", "datetime": "green",
               "outcome": "bold magenta", "id": "cyan"}


def _roles_table(roles: RoleReport) -> Table:
    table = Table(title="Columns", title_justify="left", expand=True, show_edge=False,
                  header_style="bold")
    table.add_column("Column", no_wrap=True)
    table.add_column("Role", no_wrap=True)
    table.add_column("Missing", justify="right", no_wrap=True)
    table.add_column("Why", ratio=1, no_wrap=True, overflow="ellipsis")
    for c in roles.columns:
        table.add_row(c.name, Text(c.role, style=_ROLE_STYLE.get(c.role, "dim")),
                      percent(c.missing_share) if c.missing_share else "", Text(c.reason, "dim"))
    return table


def _quality_text(quality: QualityReport) -> Text:
    warnings = [f for f in quality.findings if f.severity == "warning"]
    notes = [f for f in quality.findings if f.severity != "warning"]
    text = Text(f"Quality: {len(warnings)} warning(s), {len(notes)} note(s)", style="bold")
    for f in warnings:
        text.append("\n ! ", style="bold yellow")
        text.append(f.message)
    for f in notes[:NOTES_SHOWN]:
        text.append(f"\n · {f.message}", style="dim")
    if len(notes) > NOTES_SHOWN:
        text.append(f"\n   and {len(notes) - NOTES_SHOWN} more note(s): type /quality for all.",
                    style="dim italic")
    return text


# --- segments -----------------------------------------------------------------------------------


class SegmentsPanel(Vertical):
    """One row per segment (name, who named it, size, stance, outcomes, traits); details of the
    highlighted one below."""

    DEFAULT_CSS = """
    SegmentsPanel #segments-table { height: auto; max-height: 60%; }
    SegmentsPanel #segment-detail { height: 1fr; padding: 1 1 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield DataTable(id="segments-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="segment-detail"):
            yield Static("No segments yet: load a table and set a goal, or type /sweep.",
                         id="segment-text")

    def on_mount(self) -> None:
        self._shown: tuple[Any, ...] | None = None
        self._session: Session | None = None

    def show(self, view: PanelView) -> None:
        s = view.session
        self._session = s
        key = (s.analysis, s.writing)
        if _unchanged(self._shown, key):
            return
        self._shown = key
        table = self.query_one("#segments-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        a = s.analysis
        if a is None:
            self.query_one("#segment-text", Static).update(
                "No segments yet: load a table and set a goal, or type /sweep.")
            return
        names, by = segment_names(s), _name_author(s)
        stances = stance_labels(a)
        # Stance and outcomes before traits: at a usual width the last column is cut off, and
        # the traits are also in the details below. No stance column when nothing measures it.
        stance_column = ("Stance",) if stances else ()
        table.add_columns(*(Text(h) for h in ("#", "Name", "By", "Size", "Share", *stance_column,
                                               *(v.name for v in a.validation), "Key traits")))
        for p in a.profiles:
            outcomes = []
            for v in a.validation:
                o = next((o for o in v.segments if o.segment == p.segment), None)
                outcomes.append(figure(v.kind, o.value if o else None))
            who = by.get(p.segment, "-")
            # Text, not str: a DataTable reads str cells as markup, and names are user input.
            cells = [Text(str(p.segment)), Text(names.get(p.segment, f"Segment {p.segment}")),
                     Text(who, style="bold" if who == "yours" else "dim"),
                     Text(f"{p.size:,}", justify="right"), Text(percent(p.share), justify="right"),
                     *((Text(short_stance(stances.get(p.segment, "-"))),) if stances else ()),
                     *(Text(o, justify="right") for o in outcomes), Text(key_traits(p))]
            table.add_row(*cells, key=str(p.segment))
        if table.row_count:
            table.move_cursor(row=min(max(cursor, 0), table.row_count - 1), animate=False)
        self._detail(a.profiles[table.cursor_row].segment if a.profiles else None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._detail(int(event.row_key.value))

    def _detail(self, segment: int | None) -> None:
        s = self._session
        if s is None or s.analysis is None or segment is None:
            return
        text = Text()
        narrative = next((n for n in s.writing.narratives if n.segment == segment), None) \
            if s.writing else None
        if narrative is not None:
            text.append(narrative.narrative + "\n\n", style="italic")
        try:
            text.append(with_stance(profile_text(s, segment), s.analysis, segment))
        except CopilotError as err:
            text.append(str(err), style="red")
        self.query_one("#segment-text", Static).update(text)


def key_traits(profile: SegmentProfile, n: int = 3) -> str:
    """The most distinctive features, compact: ``↑tenure_months ↓api_calls_30d plan=pro↑``
    (the phrases with the figures are in the details below the table)."""
    parts = []
    for t in profile.top_features[:n]:
        arrow = "↑" if t.z > 0 else "↓"
        parts.append(f"{t.name}={t.level}{arrow}" if t.level is not None else f"{arrow}{t.name}")
    return " ".join(parts)


# --- sweep --------------------------------------------------------------------------------------


class SweepPanel(VerticalScroll):
    """Silhouette and stability by k for the chosen algorithm, the chosen k marked, the figures."""

    DEFAULT_CSS = """
    SweepPanel { padding: 0 1; }
    SweepPanel #sweep-chart { margin: 1 0; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="sweep-title")
        yield Static(id="sweep-chart")
        yield Static(id="sweep-table")

    def on_mount(self) -> None:
        self._shown: tuple[Any, ...] | None = None

    def show(self, view: PanelView) -> None:
        a = view.session.analysis
        key = (a, view.last_sweep)
        if _unchanged(self._shown, key):
            return
        self._shown = key
        title = self.query_one("#sweep-title", Static)
        if a is None:
            title.update(Text("No sweep yet: load a table and run /sweep.", style="dim"))
            self.query_one("#sweep-chart", Static).update("")
            self.query_one("#sweep-table", Static).update("")
            return
        c = a.choice
        sweep, note = a.sweep, ""
        if len(a.sweep.for_algorithm(c.algorithm)) <= 1 and view.last_sweep is not None \
                and len(view.last_sweep.for_algorithm(c.algorithm)) > 1:
            sweep, note = view.last_sweep, f" (the last sweep; then you chose k={c.k})"
        rows = sweep.for_algorithm(c.algorithm)
        head = Text(f"k-sweep, {ALGORITHM_NAMES.get(c.algorithm, c.algorithm)}: silhouette and "
                    f"stability by k{note}", style="bold")
        head.append(f"\nChosen: {c.reason}", style="")
        title.update(head)
        self.query_one("#sweep-chart", Static).update(sweep_chart(rows, c.k, height=10))
        self.query_one("#sweep-table", Static).update(_sweep_table(rows, c.k))


def _sweep_table(rows, chosen_k: int) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for name in ("k", "silhouette", "stability", "smallest segment", "in band"):
        table.add_column(name, justify="right")

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.2f}"

    for r in sorted(rows, key=lambda r: r.k):
        table.add_row(str(r.k), fmt(r.silhouette), fmt(r.stability), percent(r.min_share),
                      "yes" if r.in_band else "no", style="bold yellow" if r.k == chosen_k else "")
    return table


# --- map ----------------------------------------------------------------------------------------


class SegmentMap(Widget):
    """The projection drawn to fit the widget's size (recomputed on resize)."""

    DEFAULT_CSS = "SegmentMap { height: 1fr; border: round $panel; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._points: tuple[tuple[float, ...], tuple[float, ...], tuple[int, ...]] | None = None

    def set_points(self, x, y, labels) -> None:
        self._points = (tuple(x), tuple(y), tuple(labels)) if x is not None else None
        self.refresh()

    def render(self) -> Text:
        if self._points is None:
            return Text("No map yet: it appears once the segments exist.", style="dim")
        x, y, labels = self._points
        return scatter_map(x, y, labels, width=max(1, self.content_size.width),
                           height=max(1, self.content_size.height))


class MapPanel(Vertical):
    """A 2D view of the sampled customers, one glyph and colour per segment, with a legend."""

    DEFAULT_CSS = """
    MapPanel { padding: 0 1; }
    MapPanel #map-legend { height: auto; margin: 0 0 1 0; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="map-title")
        yield SegmentMap(id="segment-map")
        yield Static(id="map-legend")

    def on_mount(self) -> None:
        self._shown: tuple[Any, ...] | None = None

    def show(self, view: PanelView) -> None:
        s = view.session
        key = (s.analysis, s.writing)
        if _unchanged(self._shown, key):
            return
        self._shown = key
        a = s.analysis
        if a is None:
            self.query_one("#map-title", Static).update("")
            self.query_one(SegmentMap).set_points(None, None, None)
            self.query_one("#map-legend", Static).update("")
            return
        p = a.projection
        axes = ""
        if p.explained_variance is not None:
            axes = (f"; the axes hold {percent(p.explained_variance[0])} and "
                    f"{percent(p.explained_variance[1])} of the variance")
        self.query_one("#map-title", Static).update(Text(
            f"{p.method.upper()} map of {len(p.x):,} sampled customers{axes}.", style="bold"))
        self.query_one(SegmentMap).set_points(p.x, p.y, p.labels)
        names = segment_names(s)
        entries = [LegendEntry(q.segment, names.get(q.segment, f"Segment {q.segment}"), q.share)
                   for q in a.profiles]
        if -1 in p.labels:
            entries.append(LegendEntry(-1, "Unassigned"))
        self.query_one("#map-legend", Static).update(map_legend(entries))


# --- memo ---------------------------------------------------------------------------------------


class MemoPanel(VerticalScroll):
    """A preview of the strategy memo (``copilot.report.memo.render_memo``, without charts).

    Rich draws the memo's Markdown as one widget. Textual's Markdown widget mounts one widget
    per paragraph, list item and table cell: about 1,200 for a five-segment memo, which took
    4 CPU-seconds and held the app's event loop for up to a second each time the tab opened on
    a new analysis. Rich draws the same text in about 0.1 s."""

    DEFAULT_CSS = "MemoPanel { padding: 0 1; }"

    def compose(self) -> ComposeResult:
        yield Static(id="memo-text")

    def on_mount(self) -> None:
        self._shown: tuple[Any, ...] | None = None

    def show(self, view: PanelView) -> None:
        s = view.session
        key = (s.analysis, s.writing, s.goal)
        if _unchanged(self._shown, key):
            return
        self._shown = key
        self.query_one("#memo-text", Static).update(RichMarkdown(memo_preview(s)))


def memo_preview(session: Session) -> str:
    """The memo's Markdown, or a sentence saying why there is none yet."""
    if session.analysis is None:
        return ("*No memo yet.* It appears here once the segments exist; ctrl+s writes it to "
                "a file.")
    try:
        from copilot.report import render_memo
    except ImportError:
        return "*The memo preview is not available in this installation.*"
    return render_memo(session.analysis, session.writing, goal=session.goal)

"""The strategy memo: one Markdown document a product manager can read, forward and act on.

Sections, in order: a summary, the goal, the data and its quality, the method (algorithm, k,
why, the sweep), the segments (what their customers say in free text, how firmographic anchors
spread across them, and a card per segment), the strategy (fit matrix, opportunity ranking,
plans with a holdout experiment), how to operationalise it, and an appendix (settings,
versions, prompts, and who wrote each piece of text).

Two rules shape the code:

* **Every number is copied or formatted from the analysis or the writing**, with the ``fmt_*``
  functions of ``trace``, so that ``trace.untraceable_numbers`` can find each one in their JSON.
  Sentences the engine or the writers produced (choice reasons, quality findings, trait
  phrases, rules, narratives) are quoted verbatim: their numbers are sources as text. The memo
  derives only counts of listed items (see ``trace.derived_numbers``).
* **Every piece of prose says who wrote it**: the LLM (first try or after a re-ask), a
  deterministic draft written from templates, or the user (a rename).

``render_memo`` is pure (the chat app previews it without charts); ``write_memo`` draws the
charts into a folder beside the memo and writes the memo atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from copilot.core import Frozen, InputError, atomic_write_text, count, fixed, percent
from copilot.llm import (
    TOP_SEGMENTS,
    Authorship,
    SegmentNarrative,
    SegmentPlan,
    Strategy,
    Writing,
    display_names,
    option_label,
)
from copilot.report.markdown import (
    algorithm_name as _algorithm,
)
from copilot.report.markdown import (
    maybe as _maybe,
)
from copilot.report.markdown import (
    md_code as _code,
)
from copilot.report.markdown import (
    md_table as _table,
)
from copilot.report.markdown import (
    md_text as _text,
)
from copilot.report.markdown import (
    outcome_value as _outcome_value,
)
from copilot.report.markdown import (
    segment_tag as _tag,
)
from copilot.report.source import DATABASE_FORMATS, source_name, source_query
from copilot.report.trace import left_out_columns
from copilot.segmentation import (
    AnchorLevelShare,
    OutcomeValidation,
    SegmentAnalysis,
    SegmentProfile,
    SweepRow,
    segment_stances,
    theme_lines,
)

MAX_TRAITS = 5
MAX_RULES = 2
MAX_OPPORTUNITIES = 10  # the ranking lists every pair; the top ten carry the decision
MAX_CARD_TERMS = 3  # a card quotes its segment's strongest terms; the overview lists more
MAX_OVER_REPRESENTED = 3  # anchor levels shown per segment: the strongest carry the point
USER = "user"  # Authorship.writer of a name the user gave (a rename)

#: The operational steps: fixed advice with no figures (each number in the memo is the engine's).
OPERATIONALISE = (
    ("**Segment IDs for the CRM.** `segment-copilot segment DATA --out-dir DIR` writes "
     "`DIR/assignments.csv`: the customer ID, the segment number used in this memo and an "
     "assignment confidence. Import it as a customer field; the rules in each card let an "
     "audience builder approximate a segment without the file."),
    ("**Low-confidence customers** sit between segments: keep them out of segment-specific "
     "messages, or give them the message of the broader audience."),
    ("**Holdout flag.** Before launching a plan, flag the stated share of the segment at random "
     "as holdout, keep them out of the initiative, and compare the primary metric between the "
     "two groups at the end."),
    ("**Re-cluster when the data drifts.** Re-run the segmentation on a fresh snapshot with the "
     "same settings and seed (see the appendix); if segment sizes or rules change markedly, "
     "update the CRM field and revisit the strategy. Assigning new customers with the saved "
     "model (`assign`) and a drift report between two snapshots (`compare`) are planned."),
)

CHART_TEXT = {
    "k_sweep": "Scores by k",
    "sizes": "Segment sizes",
    "projection": "Segment map",
    "outcomes": "Outcomes by segment",
}


class MemoFiles(Frozen):
    """What ``write_memo`` wrote: the memo and its chart files."""

    memo: Path
    charts: tuple[Path, ...]


# --- entry points ----------------------------------------------------------------------------------

def render_memo(
    analysis: SegmentAnalysis,
    writing: Writing | None,
    *,
    goal: str | None,
    chart_links: dict[str, str] | None = None,
) -> str:
    """Pure: the Markdown text (used for the TUI's memo preview without charts).

    ``chart_links`` maps chart keys (``charts.CHART_FILES``) to relative links; charts not in
    it are simply not shown.
    """
    memo = _Memo(analysis, writing, goal, chart_links or {})
    sections = (memo.title, memo.goal_section, memo.data_section, memo.method_section,
                memo.segments_section, memo.strategy_section, memo.operationalise_section,
                memo.appendix)
    return "\n\n".join(part() for part in sections).rstrip() + "\n"


def write_memo(
    analysis: SegmentAnalysis,
    writing: Writing | None,
    out: str | Path,
    *,
    goal: str | None,
    charts: bool = True,
) -> MemoFiles:
    """Write charts as PNGs in a folder beside the memo (``memo_files/`` for ``memo.md``), then
    the memo, atomically; charts are linked with relative paths.

    Raises ``InputError`` (one sentence) when ``out`` cannot be written; a memo already at
    ``out`` is then left as it was.
    """
    out = Path(out)
    if out.is_dir():
        raise InputError(f"The memo path {out} is a folder; give a file name such as "
                         f"{out / 'memo.md'}.")
    paths: dict[str, Path] = {}
    if charts:
        # Imported here: matplotlib costs half a second, and the preview needs no charts.
        from copilot.report.charts import write_charts

        folder = out.with_name(f"{out.stem}_files")
        try:
            paths = write_charts(analysis, display_names(analysis, writing), folder)
        except OSError as exc:
            raise InputError(f"Cannot write the memo's charts into {folder} "
                             f"({exc.strerror or exc}); choose a writable place for the memo.") from None
    links = {key: _link(path, out.parent) for key, path in paths.items()}
    text = render_memo(analysis, writing, goal=goal, chart_links=links)
    try:
        atomic_write_text(out, text)
    except InputError as err:
        cause = err.__context__  # the OSError atomic_write_text words for the segment command
        why = getattr(cause, "strerror", None) or cause or err
        raise InputError(f"Cannot write the memo to {out} ({why}); choose a writable place "
                         "for the memo.") from None
    return MemoFiles(memo=out, charts=tuple(paths.values()))


def _link(path: Path, base: Path) -> str:
    """A relative, URL-quoted link from the memo's folder to ``path``."""
    return quote(Path(os.path.relpath(path, base)).as_posix(), safe="/")




def how_written(author: Authorship) -> str:
    """Who wrote a piece, in words (the appendix and the labels use it)."""
    if author.writer == USER:
        return "named by the user"
    if author.status == "fallback":
        return "deterministic draft"
    if author.status == "first try":
        return f"{author.writer}, first try"
    return f"{author.writer}, after re-ask ({author.attempts} calls)"


def _is_draft(author: Authorship) -> bool:
    return author.writer != USER and author.status == "fallback"


def _written(author: Authorship) -> str:
    """How a piece came to be, for a label that names two pieces ("Name: ...; narrative: ...")."""
    if author.writer == USER:
        return "given by the user"
    if _is_draft(author):
        return "deterministic draft written from templates, not by the LLM"
    return f"written by {how_written(author)}"


def narrative_author(narrative: SegmentNarrative) -> Authorship | None:
    """Who wrote a segment's narrative; None when that is no longer known.

    A session saved before names and narratives were written apart records one author for
    both; once the user renames such a segment, that author is the user, who did not write the
    narrative.
    """
    if narrative.narrative_author is None and narrative.author.writer == USER:
        return None
    return narrative.story_author


# --- the memo, section by section ----------------------------------------------------------------------

class _Memo:
    """One memo being rendered: the inputs plus the lookups every section needs."""

    def __init__(self, analysis: SegmentAnalysis, writing: Writing | None, goal: str | None,
                 links: dict[str, str]) -> None:
        self.a = analysis
        self.w = writing
        self.strategy: Strategy | None = writing.strategy if writing else None
        self.goal = goal or (self.strategy.goal if self.strategy else None)
        self.links = links
        self.names = display_names(analysis, writing)
        self.narratives = {n.segment: n for n in writing.narratives} if writing else {}
        # Words only ("high value, at risk"): a stance label carries no figure to trace.
        self.stances = segment_stances(analysis)

    def stance(self, segment: int) -> str | None:
        stance = self.stances.of(segment)
        return stance.label if stance is not None else None

    # -- helpers

    def chart(self, key: str) -> str:
        link = self.links.get(key)
        return f"![{CHART_TEXT[key]}]({link})" if link else ""

    def name(self, segment: int) -> str:
        return self.names.get(segment, f"Segment {segment}")

    def authors(self) -> list[tuple[str, Authorship]]:
        """Every piece of writing with its author, in memo order."""
        if self.w is None:
            return []
        pieces = [("k recommendation", self.w.recommendation.author)]
        for n in self.w.narratives:
            if n.narrative_author is None:
                pieces.append((f"Name and narrative, segment {_tag(n.segment)}", n.author))
            else:
                pieces += [(f"Name, segment {_tag(n.segment)}", n.author),
                           (f"Narrative, segment {_tag(n.segment)}", n.narrative_author)]
        if self.strategy is not None:
            segments = [p.segment for p in self.a.profiles if p.segment >= 0]  # -1 is not rated
            pieces += [(f"Fit ratings, segment {_tag(s)}", author)
                       for s, author in zip(segments, self.strategy.rating_authors, strict=False)]
            pieces += [(f"Plan, segment {_tag(p.segment)}", p.author) for p in self.strategy.plans]
        return pieces

    def llm_wrote_anything(self) -> bool:
        return any(a.status != "fallback" and a.writer != USER for _, a in self.authors())

    # -- title and summary

    def title(self) -> str:
        a, c = self.a, self.a.choice
        source = source_name(a.source, short=True)
        heading = f"# Segment strategy memo: {_text(source)}" if source else "# Segment strategy memo"
        largest = max((p for p in a.profiles if p.segment >= 0), key=lambda p: p.size, default=None)
        parts = [(f"This memo splits {count(a.n_rows)} customers into {c.k} segments found "
                  f"by {_algorithm(c.algorithm)} (k chosen by: {c.rule}).")]
        if largest is not None:
            parts.append(f"The largest, **{_text(self.name(largest.segment))}**, holds "
                         f"{percent(largest.share, 1)} of customers.")
        if a.confidence.unassigned:
            unassigned = next((s.share for s in a.sizes if s.segment < 0), None)
            share = f" ({percent(unassigned, 1)})" if unassigned is not None else ""
            parts.append(f"{count(a.confidence.unassigned)} customers{share} fit no segment.")
        clear = [v for v in a.validation if v.significant]
        if clear:
            parts.append(f"On outcomes, {_text(clear[0].summary)}")
        if self.strategy is not None and self.strategy.opportunities:
            top = self.strategy.opportunities[0]
            parts.append(f"The biggest opportunity is **{_text(top.initiative)}** for "
                         f"**{_text(top.name)}** (opportunity score {fixed(top.score, 3)}).")
        parts.append(self.authorship_sentence())
        return heading + "\n\n" + " ".join(parts)

    def authorship_sentence(self) -> str:
        if self.w is None:
            return ("No LLM text was written: segment names are deterministic drafts from each "
                    "segment's top traits, and there are no narratives or strategy.")
        if not self.llm_wrote_anything():
            return ("No LLM text was written: every name, narrative and plan is a deterministic "
                    "draft from templates, labelled as such.")
        return (f"Names, narratives and plans were written by {_text(self.w.provider)}"
                f"{'/' + _text(self.w.model) if self.w.model else ''} and checked against the "
                "numbers; any piece that failed the checks is a labelled deterministic draft "
                "(see the appendix).")

    # -- goal

    def goal_section(self) -> str:
        if self.goal:
            body = f"> {_text(self.goal)}\n\n"
            body += ("The strategy below ranks initiatives for this goal." if self.strategy else
                     "No strategy was drafted for it yet; the segments below are descriptive.")
        else:
            body = ("No goal was given, so the segments are descriptive and there is no strategy. "
                    "Give a goal (for example \"Reduce churn\") to rank initiatives per segment.")
        lo, hi = self.a.sweep.band
        body += f" Preferred number of audiences: {lo} to {hi}."
        if self.a.scope is not None:  # who was segmented, when it is not everyone
            body += f"\n\n**Scope.** {_text(self.a.scope.sentence())}"
        return "## Goal\n\n" + body

    # -- data and quality

    def data_section(self) -> str:
        a, roles, q = self.a, self.a.roles, self.a.quality
        lines = ["## Data and quality", ""]
        # The file name only: a memo is shared, and a local folder path says nothing to readers.
        database = a.source.get("format") in DATABASE_FORMATS
        source = source_name(a.source, short=not database) if a.source.get("path") else None
        where = f"{_code(source)} ({_text(a.source.get('format', 'table'))}): " if source else ""
        lines.append(f"{where}{count(q.n_rows)} rows (one per customer), "
                     f"{count(q.n_columns)} columns.")
        if query := source_query(a.source):
            lines.append("")
            lines.append(f"Read with the query {_code(query)}.")
        lines.append("")
        left_out = left_out_columns([c.model_dump() for c in roles.columns], a.id_column)
        rows = [[f"Features ({len(roles.features)})", ", ".join(_code(f) for f in roles.features)
                 + " (used to form the segments)"]]
        if roles.outcomes:
            rows.append([f"Outcomes ({len(roles.outcomes)})",
                         ", ".join(_code(o) for o in roles.outcomes)
                         + " (kept out of the clustering; used to validate and value the segments)"])
        rows.append(["ID", _code(a.id_column) + " (labels the rows; never a feature)" if a.id_column
                     else "none (row numbers are used)"])
        if left_out:
            rows.append([f"Left out ({len(left_out)})",
                         "; ".join(f"{_code(c['name'])}: {_text(c['reason'])}" for c in left_out)])
        lines.append(_table(["Role", "Columns"], rows))
        lines += ["", "**Quality.**"]
        warnings = [f for f in q.findings if f.severity == "warning"]
        notes = [f for f in q.findings if f.severity != "warning"]
        if warnings:
            lines.append(f"Warnings ({len(warnings)}):")
            lines += [f"- {_text(f.message)}" for f in warnings]
        else:
            lines.append("No warnings.")
        if notes:
            lines += ["", f"<details><summary>Notes ({len(notes)})</summary>", ""]
            lines += [f"- {_text(f.message)}" for f in notes]
            lines += ["", "</details>"]
        done = list(a.preparation.notes)
        if a.rules.note:
            done.append(a.rules.note)
        if done:
            lines += ["", "**What was done about it.**"]
            lines += [f"- {_text(n)}" for n in done]
        return "\n".join(lines)

    # -- method

    def method_section(self) -> str:
        a, c, sw = self.a, self.a.choice, self.a.sweep
        lines = ["## Method", "",
                 f"**{_algorithm(c.algorithm)}, k = {c.k}.** {_text(c.reason)}", ""]
        lines += self.recommendation_lines()
        lo, hi = sw.k_values[0], sw.k_values[-1]
        ks = f"k = {lo}" if lo == hi else f"k = {lo} to {hi}"
        fitted = f"fitted on {count(sw.fit_rows)} rows"
        if sw.complete_rows != sw.fit_rows:
            fitted += (f" ({count(sw.complete_rows)} complete ones for the distance-based "
                       "algorithms)")
        lines.append(f"The engine swept {', '.join(_algorithm(x) for x in sw.algorithms)} over "
                     f"{ks}, {fitted}, scored each option on "
                     f"{count(sw.eval_rows)} rows and measured stability over "
                     f"{sw.n_resamples} bootstrap refits. Scores for "
                     f"{_algorithm(c.algorithm)}:")
        lines += ["", self.sweep_table(sw.for_algorithm(c.algorithm)), ""]
        if len(c.shortlist) > 1:
            lines.append("The shortlist the k recommendation chose from:")
            lines += [f"- {_text(cand.why)}" for cand in c.shortlist]
            lines.append("")
        lines.append(f"The segment rules below reproduce the segments for "
                     f"{percent(a.rules.fidelity, 1)} of customers ({a.rules.fidelity_method}); "
                     f"the mean assignment confidence is {fixed(a.confidence.mean, 2)}.")
        chart = self.chart("k_sweep")
        if chart:
            lines += ["", chart]
        return "\n".join(lines)

    def recommendation_lines(self) -> list[str]:
        if self.w is None:
            return []
        rec = self.w.recommendation
        if _is_draft(rec.author):
            return [("No LLM recommendation: the engine's choice and reason above stand "
                     "(deterministic draft)."), ""]
        lines = [f"**k recommendation** ({how_written(rec.author)}): {_text(rec.reason)}"]
        if (rec.algorithm, rec.k) != (rec.engine_algorithm, rec.engine_k):
            lines.append(
                f"The LLM recommends {option_label(rec.algorithm, rec.k)} rather than the "
                f"engine's {option_label(rec.engine_algorithm, rec.engine_k)}. This memo uses "
                f"the engine's pick; rerun with {_code(f'--k {rec.k} --algorithm {rec.algorithm}')}"
                " to use the recommendation.")
        else:
            lines.append("The LLM agrees with the engine's pick.")
        return [" ".join(lines), ""]

    def sweep_table(self, rows: tuple[SweepRow, ...]) -> str:
        c = self.a.choice
        has = {f: any(getattr(r, f) is not None for r in rows)
               for f in ("icl", "stability", "davies_bouldin", "calinski_harabasz")}
        header = ["k"]
        header += ["ICL (lower is better)"] if has["icl"] else []
        header += ["silhouette"]
        header += ["Davies-Bouldin"] if has["davies_bouldin"] else []
        header += ["Calinski-Harabasz"] if has["calinski_harabasz"] else []
        header += ["stability"] if has["stability"] else []
        header += ["smallest segment", "in your range", ""]
        body = []
        for r in rows:
            row = [str(r.k)]
            row += [_maybe(r.icl, lambda v: fixed(v, 0))] if has["icl"] else []
            row += [_maybe(r.silhouette, lambda v: fixed(v, 3))]
            row += [_maybe(r.davies_bouldin, lambda v: fixed(v, 2))] if has["davies_bouldin"] else []
            row += ([_maybe(r.calinski_harabasz, lambda v: fixed(v, 1))]
                    if has["calinski_harabasz"] else [])
            row += [_maybe(r.stability, lambda v: fixed(v, 2))] if has["stability"] else []
            row += [percent(r.min_share, 1), "yes" if r.in_band else "no",
                    "**chosen**" if (r.algorithm, r.k) == (c.algorithm, c.k) else ""]
            body.append(row)
        return _table(header, body)

    # -- segments

    def segments_section(self) -> str:
        a = self.a
        lines = ["## Segments", ""]
        lines.append("Segment numbers are the IDs in `assignments.csv` (0 is the largest).")
        basis = self.stances.basis_sentence()
        if basis:
            lines += ["", (f"{_text(basis)} A segment is called high or low only where it differs "
                           "clearly from the average; otherwise it is typical.")]
        lines += ["", self.overview_table()]
        charts = [self.chart(k) for k in ("sizes", "projection", "outcomes")]
        if any(charts):
            lines += ["", *[c for c in charts if c]]
        if a.validation:
            lines += ["", "**Do the segments differ on outcomes?** (tests over all segments)"]
            lines += [f"- {_text(v.summary)}" for v in a.validation]
        lines += self.themes_overview()
        lines += self.anchors_overview()
        for p in a.profiles:
            lines += ["", self.card(p)]
        return "\n".join(lines)

    def themes_overview(self) -> list[str]:
        """Per free-text column, the terms each segment's texts mention more than the others'."""
        lines: list[str] = []
        for report in self.a.themes:
            if report.skipped:
                lines += ["", f"**What customers say.** {_text(theme_lines(report)[0])}"]
                continue
            lines += ["", (f"**What customers say** in {_code(report.column)}: the terms each "
                           "segment's texts mention clearly more often than the other segments' "
                           f"({count(report.n_texts)} non-empty texts of "
                           f"{count(report.n_rows)}).")]
            lines += [f"- {_text(line)}" for line in theme_lines(report, self.names)]
        return lines

    def anchors_overview(self) -> list[str]:
        """Each anchor's test across segments and the levels each segment over-represents."""
        report = self.a.anchors
        if report is None or not report.anchors:
            return []
        features = set(self.a.roles.features)
        lines = ["", ("**Firmographic anchors** (how the levels of each anchor spread across the "
                      "segments; chi-square tests over the segmented customers):")]
        for assoc in report.anchors:
            note = (f" {_code(assoc.column)} is also a clustering feature, so part of this "
                    "difference comes from how the segments were formed."
                    if assoc.column in features and assoc.significant else "")
            lines.append(f"- {_text(assoc.summary)}{note}")
            if not assoc.significant:
                continue
            for seg in assoc.segments:
                if seg.segment < 0 or not seg.over_represented:
                    continue
                by_level = {r.level: r for r in seg.levels}
                parts = [self.level_share(by_level[level])
                         for level in seg.over_represented[:MAX_OVER_REPRESENTED]]
                lines.append(f"  - **{_text(self.name(seg.segment))}** (segment {seg.segment}) "
                             "over-represents " + "; ".join(parts) + ".")
        return lines

    @staticmethod
    def level_share(r: AnchorLevelShare) -> str:
        lift = f", {fixed(r.lift, 1)}× as common" if r.lift is not None else ""
        return (f"{_text(r.level)}: {percent(r.segment_share, 1)} of the segment vs "
                f"{percent(r.overall_share, 1)} overall{lift}")

    def card_themes(self, segment: int) -> list[str]:
        """The strongest terms of a segment's texts, with how often it and the rest use them."""
        lines: list[str] = []
        for report in self.a.themes:
            seg = next((s for s in report.segments if s.segment == segment), None)
            if report.skipped or seg is None or not seg.terms:
                continue
            terms = [f"'{_text(t.term)}' ({percent(t.segment_share, 1)} of its texts vs "
                     f"{percent(t.rest_share, 1)} of the others')" for t in seg.terms[:MAX_CARD_TERMS]]
            lines += ["", f"**What customers say** in {_code(report.column)}: " + ", ".join(terms)
                      + "."]
        return lines

    def overview_table(self) -> str:
        header = ["Segment", "Name", "Customers", "Share"]
        with_stance = any(self.stance(p.segment) for p in self.a.profiles)
        header += ["Stance"] if with_stance else []
        header += [f"{_text(v.phrase or v.name)} ({'rate' if v.kind == 'binary' else 'mean'})"
                   for v in self.a.validation]
        outcome_rows = [{s.segment: s for s in v.segments} for v in self.a.validation]
        body = []
        for p in self.a.profiles:
            row = [_tag(p.segment),
                   _text(self.name(p.segment)), count(p.size), percent(p.share, 1)]
            if with_stance:
                row.append(_text(self.stance(p.segment) or "n/a"))
            for v, by_segment in zip(self.a.validation, outcome_rows, strict=True):
                s = by_segment.get(p.segment)
                if s is None and p.segment < 0:
                    s = v.unassigned
                row.append(_outcome_value(v.kind, s.value if s else None))
            body.append(row)
        return _table(header, body)

    def card(self, p: SegmentProfile) -> str:
        title = ("### Unassigned customers" if p.segment < 0
                 else f"### Segment {p.segment}: {_text(self.name(p.segment))}")
        if p.segment < 0 and p.segment in self.narratives:  # the writers name them too
            title += f" ({_text(self.name(p.segment))})"
        lines = [title, ""]
        label = self.card_label(p.segment)
        if label:
            lines += [label, ""]
        lines.append(f"**Size:** {count(p.size)} customers ({percent(p.share, 1)} of all).")
        stance = self.stance(p.segment)
        if stance:
            lines += ["", f"**Stance:** {_text(stance)}"]
        if p.top_features:
            lines += ["", "**Key traits** (compared with all customers):"]
            lines += [f"- {_text(t.phrase)}" for t in p.top_features[:MAX_TRAITS]]
        rules = next((s.rules for s in self.a.rules.segments if s.segment == p.segment), ())
        if rules:
            lines += ["", "**Rules** (to find these customers in a CRM):"]
            lines += [f"- {_code(r.text)}: {percent(r.precision, 1)} of the "
                      f"{count(r.n)} customers it matches are in the segment; it covers "
                      f"{percent(r.recall, 1)} of the segment." for r in rules[:MAX_RULES]]
        outcome_table = self.outcome_table(p.segment)
        if outcome_table:
            lines += ["", "**Outcomes** (95% confidence intervals):", "", outcome_table]
        lines += self.card_themes(p.segment)
        narrative = self.narratives.get(p.segment)
        if narrative is not None and narrative.narrative:
            lines += ["", "**Narrative.**", "", f"> {_text(narrative.narrative)}"]
        return "\n".join(lines)

    def card_label(self, segment: int) -> str:
        label = self.author_label(segment)
        if segment < 0:
            unassigned = "_Customers no segment claims (density-based clustering leaves them out)._"
            return unassigned + (" " + label if segment in self.narratives else "")
        return label

    def author_label(self, segment: int) -> str:
        narrative = self.narratives.get(segment)
        if narrative is None:
            return ("_Name: deterministic draft from the segment's top traits (no LLM text was "
                    "written)._")
        story = narrative_author(narrative) if narrative.narrative else None
        if narrative.author.writer == USER:
            if story is None:
                return "_Named by the user._"
            return f"_Named by the user; narrative: {_written(story)}._"
        if story is not None and how_written(story) != how_written(narrative.author):
            return f"_Name: {_written(narrative.author)}; narrative: {_written(story)}._"
        if _is_draft(narrative.author):
            return ("_Name and narrative: deterministic draft written from templates, not by "
                    "the LLM._")
        return f"_Name and narrative written by {how_written(narrative.author)}._"

    def outcome_table(self, segment: int) -> str:
        rows = []
        for v in self.a.validation:
            s = next((x for x in v.segments if x.segment == segment), None)
            if s is None and segment < 0:
                s = v.unassigned
            if s is None:
                continue
            rows.append(self.outcome_row(v, s))
        return _table(["Outcome", "This segment", "Interval", "All customers", "Customers with a value"],
                      rows) if rows else ""

    @staticmethod
    def outcome_row(v: OutcomeValidation, s) -> list[str]:
        label = f"{_text(v.phrase or v.name)} ({'rate' if v.kind == 'binary' else 'mean'})"
        interval = (f"{_outcome_value(v.kind, s.ci_low)} to {_outcome_value(v.kind, s.ci_high)}"
                    if s.ci_low is not None and s.ci_high is not None else "n/a")
        return [label, _outcome_value(v.kind, s.value), interval,
                _outcome_value(v.kind, v.overall), count(s.n)]

    # -- strategy

    def strategy_section(self) -> str:
        s = self.strategy
        lines = ["## Strategy", ""]
        if s is None:
            lines.append("No strategy was drafted: it needs a goal and the writing pass "
                         "(names, fit ratings and plans).")
            return "\n".join(lines)
        lines.append(f"Goal: **{_text(s.goal)}**. Initiatives: {_text(s.initiatives_source)}. "
                     f"Opportunity = share of customers x value index x fit / 5, where the value "
                     f"index is the {_text(s.value_basis)}.")
        lines += ["", "### Fit matrix", "",
                  "How well each initiative fits each segment, from 1 (poor) to 5 (strong).", ""]
        lines.append(self.fit_matrix(s))
        drafted = [seg for seg, author in zip((p.segment for p in self.a.profiles
                                               if p.segment >= 0),
                                              s.rating_authors, strict=False) if _is_draft(author)]
        if drafted:
            lines += ["", "_Ratings for segment(s) " + ", ".join(_tag(d) for d in drafted)
                      + " are deterministic drafts (a neutral fit), not LLM ratings._"]
        lines += ["", "### Opportunity ranking", "", self.ranking(s)]
        if s.portfolio_note:
            lines += ["", _text(s.portfolio_note)]
        cap = self.cap_sentence(s)
        if cap:
            lines += ["", cap]
        for plan in s.plans:
            lines += ["", self.plan(plan)]
        return "\n".join(lines)

    @staticmethod
    def cap_sentence(s: Strategy) -> str | None:
        """The goal's limit on campaigns, when it is what set the number of plans.

        Only the cap is a figure (it is in the writing); the number of plans is that figure, or
        fewer (then under 2, in words) when fewer segments had an opportunity.
        """
        cap, n = s.campaign_cap, len(s.plans)
        if cap is None or not (cap < TOP_SEGMENTS or cap == n):
            return None
        allows = f"The goal allows at most {cap} campaign{'s' if cap != 1 else ''}"
        if n == cap:
            return f"{allows}, so {cap} plan{' is' if cap == 1 else 's are'} drafted."
        return f"{allows}; {'no plan is' if n == 0 else 'one plan is'} drafted."

    def fit_matrix(self, s: Strategy) -> str:
        fit = {(r.segment, r.initiative): r.fit for r in s.ratings}
        segments = [p.segment for p in self.a.profiles
                    if any(seg == p.segment for seg, _ in fit)]
        header = ["Initiative"] + [f"{_tag(seg)}: {_text(self.name(seg))}" for seg in segments]
        rows = [[_text(i)] + [str(fit[(seg, i)]) if (seg, i) in fit else "n/a" for seg in segments]
                for i in s.initiatives]
        return _table(header, rows)

    def ranking(self, s: Strategy) -> str:
        rows = [[str(o.rank), f"{_tag(o.segment)}: {_text(o.name)}", _text(o.initiative),
                 percent(o.share, 1), fixed(o.value_index, 2), str(o.fit),
                 fixed(o.score, 3)]
                for o in s.opportunities[:MAX_OPPORTUNITIES]]
        return _table(["Rank", "Segment", "Initiative", "Share", "Value index", "Fit", "Score"], rows)

    def plan(self, plan: SegmentPlan) -> str:
        e = plan.experiment
        label = f"_{self.plan_label(plan.author)}_"
        who = f"segment {plan.segment}" if plan.segment >= 0 else "the unassigned customers"
        lines = [f"### Plan for {who}, {_text(plan.name)}: {_text(plan.initiative)}",
                 "", f"{label} Opportunity score {fixed(plan.opportunity, 3)}.", "",
                 "**Actions**"]
        lines += [f"- {_text(x)}" for x in plan.actions]
        lines += ["", "**KPIs**"] + [f"- {_text(x)}" for x in plan.kpis]
        lines += ["", "**Risks**"] + [f"- {_text(x)}" for x in plan.risks]
        lines += ["", "**Holdout experiment**", "",
                  f"- Hypothesis: {_text(e.hypothesis)}",
                  f"- Primary metric: {_text(e.primary_metric)}",
                  (f"- Design: {count(e.treatment_n)} customers get the initiative and "
                   f"{count(e.control_n)} ({percent(e.holdout_share, 1)} of the segment, "
                   "chosen at random) are held out as the control group.")]
        if e.detectable_effect_pts is not None and e.baseline_pct is not None:
            lines.append(f"- Power: from a baseline of {percent(e.baseline_pct / 100, 1)}, the test can detect "
                         f"a change of {e.detectable_effect_pts:.1f} percentage points or more; "
                         "smaller effects may go unseen.")
        return "\n".join(lines)

    @staticmethod
    def plan_label(author: Authorship) -> str:
        if _is_draft(author):
            return "Deterministic draft written from templates, not by the LLM; sizes computed."
        return f"Written by {how_written(author)}; sizes and power computed by the engine."

    # -- operationalise

    def operationalise_section(self) -> str:
        lines = ["## How to operationalise", ""]
        lines += [f"- {item}" for item in OPERATIONALISE]
        return "\n".join(lines)

    # -- appendix

    def appendix(self) -> str:
        a, st = self.a, self.a.settings
        lines = ["## Appendix", "", "### Settings and versions", ""]
        k_range = f"{st.k_range[0]} to {st.k_range[1]}" if st.k_range else "default"
        rows = [
            ["ID column", _code(st.id_column) if st.id_column else "inferred"],
            ["Outcomes", ", ".join(_code(o) for o in st.outcomes) if st.outcomes is not None
             else "inferred"],
            ["Excluded columns", ", ".join(_code(x) for x in st.exclude) or "none"],
            ["k", str(st.k) if st.k is not None else "chosen by the engine"],
            ["k range", k_range],
            ["Algorithm", _text(st.algorithm)],
            ["Random seed", str(st.seed)],
            ["Smallest actionable segment", percent(st.min_share, 1)],
            ["PCA", _text(st.pca)],
            ["Anchors", (", ".join(_code(x) for x in st.anchors) or "none")
             if st.anchors is not None else "suggested by the engine"],
            ["Text columns", (", ".join(_code(x) for x in st.text_columns) or "none")
             if st.text_columns is not None else "detected by the engine"],
            ["Engine version", _text(a.engine_version)],
        ]
        if self.w is not None:
            rows += [["LLM provider", _text(self.w.provider)],
                     ["LLM model", _code(self.w.model) if self.w.model else "none"],
                     ["LLM calls", count(self.w.calls)]]
        lines.append(_table(["Setting", "Value"], rows))
        lines += ["", "### Who wrote what", ""]
        if self.w is None:
            lines.append("No LLM pass was run: no text in this memo was written by an LLM. "
                         "Segment names are deterministic drafts from each segment's top traits; "
                         "every other sentence is the engine's.")
        else:
            lines.append("Numbers always come from the engine. Text is written by the LLM "
                         "(checked against the numbers, re-asked with the error when a check "
                         "fails), or is a deterministic draft from templates when it still "
                         "fails, or was given by the user.")
            lines += ["", self.authorship_table()]
            lines += ["", "Prompt versions:", "",
                      _table(["Prompt", "Version"],
                             [[_code(p), str(v)] for p, v in self.w.prompt_versions.items()])]
            if self.w.notices:
                lines += ["", "Notices:"] + [f"- {_text(n)}" for n in self.w.notices]
        lines += ["", ("Every figure in this memo is copied or rounded from the analysis "
                       "(`analysis.json`) or the writing (`writing.json`); "
                       "`copilot.report.trace.untraceable_numbers` checks it.")]
        return "\n".join(lines)

    def authorship_table(self) -> str:
        rows = []
        for piece, author in self.authors():
            prompt = "" if author.writer == USER else f"{_code(author.prompt_id)} version {author.prompt_version}"
            why = _text(author.notice) if author.notice and _is_draft(author) else ""
            rows.append([piece, how_written(author), prompt, why])
        return _table(["Piece", "Written by", "Prompt", "Why a draft"], rows)

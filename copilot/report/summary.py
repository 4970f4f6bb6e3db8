"""The readable plain-text summary printed by ``segment`` and ``demo``.

Every figure comes from the analysis object; this module only formats. ``render_anchored_summary``
is the summary of ``segment --anchor-mode within``: one short block per anchor level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from copilot.core import figure, percent
from copilot.report.source import source_name
from copilot.segmentation import (
    ALGORITHM_NAMES,
    AnchorReport,
    SegmentAnalysis,
    anchor_lines,
    segment_stances,
    theme_lines,
)

if TYPE_CHECKING:
    from copilot.segmentation import AnchoredSegmentation

WIDTH = 96


def _wrap(text: str, indent: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def render_summary(a: SegmentAnalysis, files: dict[str, object] | None = None) -> str:
    lines: list[str] = []
    src = source_name(a.source) or "the table"
    lines.append(f"Segment Copilot: {src} ({a.n_rows:,} customers, {len(a.roles.columns)} columns)")
    lines.append("")
    lines += _data_section(a)
    lines.append("")
    lines += _method_section(a)
    lines.append("")
    lines += _segments_section(a)
    if a.validation:
        lines.append("")
        lines.append("OUTCOMES")
        for v in a.validation:
            lines += _wrap(v.summary, "  ")
    for block in (theme_text(a), anchor_text(a)):
        if block:
            lines += ["", *block]
    _files(lines, files)
    return "\n".join(lines) + "\n"


def _data_section(a: SegmentAnalysis) -> list[str]:
    """DATA: the ID column, the features, the outcomes, what was left out, the quality findings."""
    lines: list[str] = []
    lines.append("DATA")
    lines.append(f"  ID column: {a.id_column or '(none: row numbers used)'}")
    lines += _wrap(f"Features ({len(a.roles.features)}): {', '.join(a.roles.features)}", "  ")
    if a.roles.outcomes:
        lines += _wrap("Outcomes (kept out of the clustering, used to validate it): "
                       + ", ".join(a.roles.outcomes), "  ")
    left_out = [c for c in a.roles.columns
                if c.role not in ("numeric", "categorical", "boolean", "datetime", "outcome")
                and c.name != a.id_column]
    if left_out:
        lines += _wrap("Left out: " + "; ".join(f"{c.name} ({c.reason})" for c in left_out), "  ")
    warnings = [f for f in a.quality.findings if f.severity == "warning"]
    notes = [f for f in a.quality.findings if f.severity != "warning"]
    lines.append(f"  Quality: {len(warnings)} warning(s), {len(notes)} note(s)")
    for f in (warnings + notes)[:6]:
        lines += _wrap(f"- {f.message}", "    ")
    return lines


def _method_section(a: SegmentAnalysis) -> list[str]:
    """METHOD: why this algorithm and k, what was swept, its table and the shortlist."""
    lines: list[str] = []
    lines.append("METHOD")
    c = a.choice
    lines += _wrap(c.reason, "  ")
    sw = a.sweep
    fitted = f"fitted on {sw.fit_rows:,} rows"
    if sw.complete_rows != sw.fit_rows:
        fitted += f" ({sw.complete_rows:,} complete ones for the distance-based algorithms)"
    lines += _wrap(f"Swept {', '.join(ALGORITHM_NAMES[x] for x in sw.algorithms)} over "
                   f"k={sw.k_values[0]}-{sw.k_values[-1]}, {fitted}, scored on "
                   f"{sw.eval_rows:,}.", "  ")
    rows = a.sweep.for_algorithm(c.algorithm)
    if len(rows) > 1:
        lines.append(f"  {'k':>4} {'ICL' if rows[0].icl is not None else '':>12} "
                     f"{'silhouette':>11} {'stability':>10} {'smallest':>9}")
        for r in rows:
            mark = "  <- chosen" if r.k == c.k else ""
            icl = f"{r.icl:12,.0f}" if r.icl is not None else " " * 12
            sil = f"{r.silhouette:11.3f}" if r.silhouette is not None else f"{'n/a':>11}"
            stab = f"{r.stability:10.2f}" if r.stability is not None else f"{'n/a':>10}"
            lines.append(f"  {r.k:>4} {icl} {sil} {stab} {r.min_share:9.1%}{mark}")
    if len(c.shortlist) > 1:
        lines.append("  Shortlist of alternatives:")
        for cand in c.shortlist[1:]:
            lines += _wrap(f"- {cand.why}", "    ")
    return lines


def _segments_section(a: SegmentAnalysis) -> list[str]:
    """SEGMENTS: each segment's size, stance, top traits, rule and outcomes; the rules' fidelity."""
    lines: list[str] = []
    lines.append("SEGMENTS")
    stances = segment_stances(a)
    basis = stances.basis_sentence()
    if basis:
        lines += _wrap(basis, "  ")
    rules = {s.segment: s.rules for s in a.rules.segments}
    outcome_by_seg = {
        v.name: {s.segment: s for s in v.segments} for v in a.validation
    }
    for p in a.profiles:
        title = "Unassigned" if p.segment < 0 else f"Segment {p.segment}"
        stance = stances.of(p.segment)
        said = f", {stance.label}" if stance is not None and stance.label else ""
        lines.append(f"  {title}: {p.size:,} customers ({percent(p.share)}){said}")
        for t in p.top_features[:4]:
            lines += _wrap(f"- {t.phrase}", "    ")
        for rule in rules.get(p.segment, ())[:1]:
            lines += _wrap(f"Rule: {rule.text} (precision {percent(rule.precision, 0)}, "
                           f"covers {percent(rule.recall, 0)} of the segment)", "    ")
        for v in a.validation:
            s = outcome_by_seg[v.name].get(p.segment)
            if s is not None:
                lines.append(f"    {v.phrase or v.name}: {figure(v.kind, s.value)} "
                             f"[{figure(v.kind, s.ci_low)} to {figure(v.kind, s.ci_high)}]")
    lines.append(f"  Rules fidelity: {percent(a.rules.fidelity, 0)} ({a.rules.fidelity_method}); "
                 f"mean assignment confidence {a.confidence.mean:.2f}.")
    return lines


def _files(lines: list[str], files: dict[str, object] | None) -> None:
    if files:
        lines.append("")
        lines.append("FILES")
        for name, path in files.items():
            lines.append(f"  {name + ':':<13}{path}")


def theme_text(a: SegmentAnalysis, names: dict[int, str] | None = None) -> list[str]:
    """The "what customers say" block: per text column, one line per segment with the terms
    its texts mention more than the others' (``theme_lines``); empty without a text column."""
    lines: list[str] = []
    for report in a.themes:
        if report.skipped:
            lines += _wrap(theme_lines(report, names)[0], "  ")
            continue
        lines.append(f"  In {report.column} ({report.n_texts:,} non-empty texts of "
                     f"{report.n_rows:,}):")
        for line in theme_lines(report, names):
            lines += _wrap(line, "    ")
    return ["WHAT CUSTOMERS SAY", *lines] if lines else []


def anchor_text(a: SegmentAnalysis, names: dict[int, str] | None = None) -> list[str]:
    """The anchors block: each anchor's test sentence and the levels each segment
    over-represents (``anchor_lines``); empty when no anchor was reported."""
    if a.anchors is None or not a.anchors.anchors:
        return []
    lines = ["ANCHORS (how industry, size or region spread across the segments)"]
    features = set(a.roles.features)
    for assoc in a.anchors.anchors:
        own = anchor_lines(AnchorReport(anchors=(assoc,)), names)
        lines += _wrap(own[0], "  ")
        for line in own[1:]:
            lines += _wrap(line.strip(), "    ")
        if assoc.column in features and assoc.significant:
            lines += _wrap(f"({assoc.column} is also a clustering feature, so part of this "
                           "difference comes from how the segments were formed.)", "    ")
    return lines


def render_anchored_summary(
    result: AnchoredSegmentation, source: dict | None = None,
    files: dict[str, object] | None = None,
) -> str:
    """The summary of a segmentation within each level of an anchor: per level its size, its
    segments (combined names such as "Retail / Segment 0") with their top trait and what their
    customers say, and its outcome tests; levels left unsegmented say why."""
    s = result.summary
    src = source_name(source or {}) or "the table"
    title = (f"Segment Copilot: {src} ({len(result.labels):,} customers), segmented within each "
             f"level of {s.anchor_column}")
    lines = [title, "", "LEVELS"]
    for group, gs in zip(result.groups, s.groups, strict=True):
        pooled = f" ({', '.join(gs.members)})" if gs.members != (gs.level,) else ""
        if group.run is None:
            lines += _wrap(f"{gs.level}{pooled}: {gs.n_rows:,} customers, not segmented: "
                           f"{gs.reason}", "  ")
            continue
        a = group.run.analysis
        lines += _wrap(f"{gs.level}{pooled}: {gs.n_rows:,} customers in {gs.k} segments by "
                       f"{ALGORITHM_NAMES.get(a.choice.algorithm, a.choice.algorithm)} "
                       f"({a.choice.rule}).", "  ")
        for p in a.profiles:
            name = gs.segment_names[p.segment] if p.segment >= 0 else "Unassigned"
            lines.append(f"    {name}: {p.size:,} customers ({percent(p.share)})")
            for t in p.top_features[:1]:
                lines += _wrap(f"- {t.phrase}", "      ")
            said = _said(a, p.segment)
            if said:
                lines += _wrap(f"- says {said}", "      ")
        for v in a.validation:
            lines += _wrap(v.summary, "    ")
    lines += ["", (f"  {s.n_segments} segments in all; {s.n_unsegmented_rows:,} customers in no "
                   "segment.")]
    _files(lines, files)
    return "\n".join(lines) + "\n"


def _said(a: SegmentAnalysis, segment: int, n_terms: int = 3) -> str:
    """The first terms a segment's texts stand out with, quoted ("" when there are none)."""
    for report in a.themes:
        for s in report.segments:
            if s.segment == segment and s.terms:
                return ", ".join(f"'{t.term}'" for t in s.terms[:n_terms])
    return ""

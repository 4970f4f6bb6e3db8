"""The drift report as Markdown: the verdict and its reasons first, then the tables behind them
(migration, segment shares, feature PSI) and how to read them."""

from __future__ import annotations

from copilot.core import percent
from copilot.segmentation.model.drift_report import (
    PSI_RECLUSTER,
    PSI_WATCH,
    DriftReport,
    Migration,
)
from copilot.segmentation.model.drift_verdict import _SUMMARIES, _recluster_summary

NOTABLE_COLUMN_SHIFT = 0.2  # Cohen's "small" effect: the report names a feature from there on


# --- the readable report -------------------------------------------------------------------

# For a report saved before verdicts carried their own summary.
_HEADLINES = {**_SUMMARIES, "re-cluster": _recluster_summary(True, "", None)}


def render_markdown(report: DriftReport) -> str:
    """The report as Markdown: verdict and reasons first, then the tables behind them."""
    r = report
    lines = [f"# Drift report: {r.verdict.level.upper()}", ""]
    if r.mode == "snapshots":
        lines.append(f"Compared {r.reference} with {r.new} ({r.n_reference:,} and {r.n_new:,} "
                     f"rows), customers matched on `{r.id_column}`.")
    else:
        rows = f" ({r.n_reference:,} rows)" if r.n_reference else ""
        lines.append(f"Checked {r.new} ({r.n_new:,} rows) against {r.reference}{rows}.")
    lines.append(f"Model {r.model_id}" + (f": {r.model_note}" if r.model_note else "") + ".")
    summary = r.verdict.summary or _HEADLINES[r.verdict.level]
    lines += ["", f"**Verdict: {r.verdict.level}**: {summary}", ""]
    lines += [f"- {reason}" for reason in r.verdict.reasons]
    if r.migration is not None:
        lines += ["", *_migration_section(r.migration, r.reference, r.new)]
    lines += ["", *_segments_section(r)]
    lines += ["", *_features_section(r)]
    if r.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in r.notes]
    t = r.thresholds
    lines += ["", "## How to read this", "",
              (f"- PSI (population stability index): under {t.psi_watch} stable, "
               f"{t.psi_watch}-{t.psi_recluster} watch, {t.psi_recluster} or more re-cluster "
               "(the credit-risk convention). Numeric bins are the training deciles; empty bins "
               f"count as a share of {t.empty_share:g}. A PSI under what two samples of these "
               "sizes from an unchanged population reach (\"chance reaches\", simulated; 1 "
               "false alarm in 100 reports) is not counted, nor is a missing-share change "
               "within its own chance bound."),
              (f"- Changed segment: watch from {percent(t.moved_watch, 0)}, re-cluster from "
               f"{percent(t.moved_recluster, 0)} of the customers in both snapshots."),
              ("- Centre shift: how far a segment's centre moved, in its own within-segment "
               f"spreads (standardised features); watch from {t.centroid_watch}, or from "
               f"{t.centroid_column_watch} on a single feature (in that feature's own "
               "within-segment standard deviations), when beyond the noise shown."),
              (f"- Missing share: a change of {t.missing_watch * 100:.0f} points or more is "
               "flagged.")]
    return "\n".join(lines) + "\n"


def _migration_section(m: Migration, old: str, new: str) -> list[str]:
    lines = ["## Migration (customers in both snapshots)", "",
             (f"{m.matched:,} customers are in both; {m.moved:,} ({percent(m.moved_share, 1)}) changed "
              f"segment. {m.only_old:,} are only in {old}, {m.only_new:,} only in {new}."), "",
             f"Rows: segment in {old}; columns: segment in {new}; count (share of the row).", ""]
    heads = [_short(s, n) for s, n in zip(m.segments, m.names, strict=True)]
    lines.append(f"| {old} \\ {new} | " + " | ".join(heads) + " |")
    lines.append("|---" * (len(heads) + 1) + "|")
    for head, counts, shares in zip(heads, m.counts, m.row_shares, strict=True):
        cells = [f"{c:,} ({percent(s, 0)})" for c, s in zip(counts, shares, strict=True)]
        lines.append(f"| {head} | " + " | ".join(cells) + " |")
    flows = sorted(((m.counts[i][j], i, j) for i in range(len(m.segments))
                    for j in range(len(m.segments)) if i != j and m.counts[i][j]), reverse=True)
    if flows:
        lines += ["", "Largest moves: " + "; ".join(
            f"{heads[i]} to {heads[j]}: {c:,}" for c, i, j in flows[:3]) + "."]
    return lines


def _segments_section(r: DriftReport) -> list[str]:
    ref = "training" if r.mode == "snapshot-vs-model" else r.reference
    lines = ["## Segment shares", "",
             f"PSI of the segment shares: {r.segment_psi:.3f}"
             + (f" (chance reaches {r.segment_psi_noise:.3f} at these sizes)."
                if r.segment_psi_noise else "."), "",
             f"| Segment | {ref} share | {r.new} share | Change (points) | Centre shift |",
             "|---|---|---|---|---|"]
    for s in r.segments:
        shift = "n/a" if s.centroid_shift is None else f"{s.centroid_shift:.2f}"
        if s.centroid_shift is not None:
            most = ""
            if (s.largest_feature_shift or 0.0) >= NOTABLE_COLUMN_SHIFT:
                way = f" {s.largest_shift_direction}" if s.largest_shift_direction else ""
                most = (f"; most: {s.largest_shift_feature}, {s.largest_feature_shift:.2f}"
                        f"{way}")
            shift += f" (noise ~{s.shift_noise:.2f}{most})"
        lines.append(f"| {_short(s.segment, s.name)} | {percent(s.reference_share, 1)} | "
                     f"{percent(s.new_share, 1)} | {s.share_change * 100:+.1f} | {shift} |")
    return lines


def _features_section(r: DriftReport) -> list[str]:
    if not r.features:
        return ["## Feature drift", "", "No feature distributions to compare."]
    lines = ["## Feature drift (PSI)", "",
             "| Feature | Kind | PSI | Chance reaches | Flag | Missing (reference to new) | Note |",
             "|---|---|---|---|---|---|---|"]
    ranked = sorted(r.features, key=lambda f: -1.0 if f.psi is None else -f.psi)
    for f in ranked:
        note = f.note
        if f.new_levels:
            levels = ", ".join(sorted(f.new_levels, key=lambda k: -f.new_levels[k])[:3])
            note = f"new levels ({percent(sum(f.new_levels.values()), 1)}): {levels}"
        chance = "" if f.psi_noise is None else f"{f.psi_noise:.3f}"
        lines.append(f"| {f.name} | {f.kind} | {'n/a' if f.psi is None else f'{f.psi:.3f}'} | "
                     f"{chance} | {_flag(f.psi, f.psi_noise)} | {percent(f.missing_reference, 1)} to "
                     f"{percent(f.missing_new, 1)} | {note} |")
    return lines


def _flag(value: float | None, noise: float | None = None) -> str:
    if value is None:
        return ""
    if value >= PSI_WATCH and value < (noise or 0.0):
        return "chance"
    if value >= PSI_RECLUSTER:
        return "re-cluster"
    return "watch" if value >= PSI_WATCH else "ok"


def _short(segment: int, name: str) -> str:
    name = name.replace("|", "/")  # a pipe would split the Markdown table cell
    if segment < 0:
        return name
    return name if name.startswith(f"Segment {segment}") else f"{segment}: {name}"

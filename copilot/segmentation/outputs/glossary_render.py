"""The glossary as a Markdown page (``glossary.md``) a strategy team can read: what changed, then
each segment's definition, size, rule, traits, outcomes, owner and where it came from."""

from __future__ import annotations

import re

from copilot.core import percent
from copilot.segmentation.outputs.glossary_changes import RESIZE_MIN_POINTS, RESIZE_MIN_RATIO
from copilot.segmentation.outputs.glossary_records import Change, Glossary, GlossaryEntry


def render_markdown(glossary: Glossary) -> str:
    """The glossary as a Markdown page a strategy team can read."""
    g = glossary
    k = len(g.entries)
    lines = [f"# Segment glossary, version {g.version}", ""]
    meta = [f"{g.customers:,} customers in {k} segment{'s' if k != 1 else ''}"]
    if g.unassigned:
        meta.append(f"{g.unassigned:,} unassigned")
    if g.model_version:
        meta.append(f"model version `{g.model_version}`")
    meta.append(f"created {g.created_at}")
    lines += ["; ".join(meta) + ".", ""]
    if g.previous_version is None:
        lines += ["This is the first version.", ""]
    else:
        how = {"customers": "matched by customers in common",
               "profiles": "matched by segment profiles"}.get(g.matched_by or "", "")
        lines += [f"## What changed since version {g.previous_version}"
                  + (f" ({how})" if how else ""), ""]
        lines += [f"- {_md(c.text)}" for c in g.changes] or [f"- {no_change_text(g)}"]
        lines.append("")
    by_segment: dict[int, list[Change]] = {}
    for c in g.changes:
        for j in c.after:
            by_segment.setdefault(j, []).append(c)
    for e in g.entries:
        title = _md(e.name) if e.name == f"Segment {e.segment}" else (
            f"{_md(e.name)} (segment {e.segment})")
        lines += [f"## {title}", "", f"> {_md(e.definition)}", ""]
        lines.append(f"- **Size:** {e.size:,} customers ({percent(e.share)})")
        if e.rules:
            r = e.rules[0]
            rule = r.text.replace("`", "'")
            lines.append(f"- **Rule:** `{rule}` (covers "
                         f"{percent(r.recall)} of the segment, {percent(r.precision)} of the "
                         "customers it matches are in it)")
        if e.traits:
            lines.append("- **Key traits:** " + "; ".join(_md(t) for t in e.traits))
        if e.outcomes:
            lines.append("- **Outcomes:** " + "; ".join(_md(o.phrase) for o in e.outcomes))
        lines.append(f"- **Owner:** {_md(e.owner) if e.owner else '_to assign_'}")
        if g.previous_version is not None:
            notes = [c.kind for c in by_segment.get(e.segment, [])]
            was = f"- **In version {g.previous_version}:** "
            if e.previous_segments:
                plural = "s" if len(e.previous_segments) > 1 else ""
                came = ", ".join(str(s) for s in e.previous_segments)
                how = ", ".join(notes) if notes else "unchanged"
                lines.append(f"{was}segment{plural} {came} ({how}{_share_move(e, notes)})")
            else:
                lines.append(f"{was}not present (new)")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def no_change_text(glossary: Glossary) -> str:
    """What a version with an empty change list says (its model, definitions or counts moved,
    or shares by less than a resize): which changes it lacks and how far shares moved."""
    moves = [abs(e.share - e.previous_share) for e in glossary.entries
             if e.previous_share is not None]
    text = ("No segment was renamed, merged, split, resized, added or retired and no owner "
            "changed")
    if moves:
        text += (f"; shares moved by {percent(max(moves), 1)} at most (a resize is "
                 f"{100 * RESIZE_MIN_POINTS:g} points and {percent(RESIZE_MIN_RATIO, 0)} of the old share)")
    return text + "."


def _share_move(e: GlossaryEntry, notes: list[str]) -> str:
    if e.previous_share is None:
        return ""
    if "split" in notes or "regrouped" in notes:
        # previous_share is the whole old segment's: this part's share is not its successor.
        return f"; {percent(e.previous_share, 1)} of customers before, this part {percent(e.share, 1)}"
    # One decimal: whole percents could show a move of 2.6 points, below a resize, as 3.
    return f", {percent(e.previous_share, 1)} \u2192 {percent(e.share, 1)} of customers"


def _md(text: str) -> str:
    """Text from names and narratives, kept from breaking the page's structure (one line, no
    table pipes, no HTML tags; a bare "<" in a rule stays readable)."""
    return _TAG_START.sub("&lt;", " ".join(str(text).split()).replace("|", "\\|"))


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")

"""A versioned segment glossary: what each segment is, and what changed since the last version.

``build_glossary`` turns an analysis (plus names, one-line definitions and owners given as plain
dicts: this module knows nothing of the LLM) into a ``Glossary``: per segment a name, a one-line
definition, its rules, size, key traits and outcomes in plain numbers, and an owner; per version
a number, the model version and a list of changes against the previous version.

Matching the previous version's segments to the new ones is what the change list rests on:

- **by customers**, when both versions' assignments (customer ID -> segment) are given and most
  customers are in both: old segment *i* and new segment *j* are linked when most of one went
  to (or came from) the other and a noticeable part of the other side is involved;
- **by profiles** otherwise: every entry stores its segment's profile (raw medians and shares)
  and the glossary stores the axes that standardise them (the analysis' preparation), so two
  versions are compared in one standardised space. Each segment is linked to its nearest
  counterpart both ways unless that counterpart is far away (relative to how far apart the
  segments of each version are). Weaker than customers: a genuinely new group that sits
  nearest one old segment reads as that segment splitting.

The linked segments form groups: one old and one new is the same segment (renamed? resized?),
several old and one new a merge, one old and several new a split, several of both a regroup,
a new one alone is new and an old one alone retired. A strategy owner set or changed on a
segment that continues others is listed too ("owner").

Names, in this order of precedence, and never two segments with one name (compared ignoring
case and spacing):

1. a name given for the segment (a user's or the LLM's);
2. the name of the previous segment it continues: one to one, or on a split the part holding
   most of the old segment's customers (its main continuation). A merged segment takes none
   of its parts' names, since it is more than any of them. The engine's placeholders
   ("Segment 7") are not carried: they are the old segment's number, not a name, and a
   "Segment 7" holding segment 2 would disagree with the CRM's segment ID and the saved model;
3. the engine's placeholder "Segment N" for its own number (with "(2)", "(3)" ... in the rare
   case that another segment was given that very name).

A name that is taken already falls to the next rule. A previous glossary whose features share
less than half with the new segmentation's describes another table: ``build_glossary`` refuses
it (``OtherTableError``) rather than match strangers that happen to share customer IDs.

``write_glossary`` writes ``glossary.json`` and ``glossary.md`` (the current version) and
``glossary-vN.json`` (history), each atomically; ``read_glossary`` reads one back with a
one-sentence error for a missing, damaged or newer-format file.

The records are in ``glossary_records``, matching in ``glossary_matching``, the change list
and names in ``glossary_changes``, the Markdown page in ``glossary_render`` and the files in
``glossary_files``; this module builds a glossary and checks it continues the same table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from copilot import __version__
from copilot.core import number, percent
from copilot.segmentation.outputs.glossary_changes import (
    _and,
    _carried_names,
    _changes,
    _follow,
    _groups,
    _name_key,
    _settle_names,
)
from copilot.segmentation.outputs.glossary_matching import _match
from copilot.segmentation.outputs.glossary_records import (
    Axis,
    Change,
    Glossary,
    GlossaryEntry,
    OtherTableError,
    OutcomeFact,
    RuleSummary,
)

#: A segmentation continues a glossary only when at least this share of the smaller of the two
#: feature sets is in both: re-segmenting one table may drop or add features (a subset shares
#: all of its own), while another table shares none or one by chance ("age", "tenure").
MIN_COMMON_FEATURES = 0.5

#: Traits listed per segment (the profile's most distinguishing facts).
TOP_TRAITS = 3
#: Rules kept per segment.
TOP_RULES = 3
#: A rule enters the deterministic definition only when it describes the segment well.
DEFINITION_RULE_PRECISION = 0.7
DEFINITION_RULE_RECALL = 0.5
#: One line: longer definitions are cut at a word boundary.
MAX_DEFINITION_CHARS = 200


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


# A deterministic draft narrative opens with the segment's size ("77.5% of customers (465).");
# a user's rename relabels its author, so the opening is what still tells it apart.
_DRAFT_OPENING = re.compile(r"^\s*\d[\d.,]*% of customers \(")


def is_definition(narrative, writer) -> bool:
    """Whether a narrative's first sentence defines the segment (an LLM's does; a deterministic
    draft's states its size, and the glossary builds a better line from the rule and traits)."""
    return bool(narrative) and writer != "deterministic draft" and not _DRAFT_OPENING.match(
        str(narrative))


def build_glossary(
    analysis,
    *,
    names: Mapping[int, str],
    definitions: Mapping[int, str] | None = None,
    owners: Mapping[int, str] | None = None,
    model_version: str | None = None,
    previous: Glossary | None = None,
    previous_assignments=None,
    assignments=None,
    created_at: str | None = None,
) -> Glossary:
    """The glossary of ``analysis``'s segments, versioned against ``previous``.

    Parameters
    ----------
    analysis : SegmentAnalysis
        Sizes, profiles, rules and outcome validation of the segments.
    names : dict
        Segment -> name. A segment left out keeps the name of the previous version's segment
        it continues (one to one, or as the main part of a split) unless another segment has
        it, else is called "Segment N". Names end up unique (see the module's docstring).
    definitions : dict, optional
        Segment -> definition (e.g. a narrative); reduced to its first sentence. Segments left
        out get a definition built from their rule and top traits.
    owners : dict, optional
        Segment -> strategy owner. Segments left out keep the owner of the segment(s) they
        came from (the largest contributor with one), else "" (to assign). An owner given that
        differs from the one it would keep is listed as an "owner" change.
    model_version : str, optional
        The saved model's ID (or another label of the segmentation).
    previous : Glossary, optional
        The previous version; without it this is version 1 with no changes. One built on
        another table (less than ``MIN_COMMON_FEATURES`` of the features in common) raises
        ``OtherTableError``.
    previous_assignments, assignments : dict or pandas.Series, optional
        Customer ID -> segment of the previous and of this version. With both (and enough
        customers in common) segments are matched by customers, else by profiles.
    created_at : str, optional
        ISO time stamp (default: now, UTC).

    Examples
    --------
    >>> import sys; sys.path.insert(0, ".")
    >>> from fixtures.customers import make_customers
    >>> from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
    >>> run = run_segmentation(make_customers(300, 3, seed=1).frame, SegmentSettings(k=3))
    >>> g = build_glossary(run.analysis, names={0: "A", 1: "B", 2: "C"})
    >>> g.version, [e.name for e in g.entries], g.changes
    (1, ['A', 'B', 'C'], ())
    """
    definitions = {int(k): v for k, v in (definitions or {}).items() if v and str(v).strip()}
    owners = {int(k): str(v).strip() for k, v in (owners or {}).items() if v is not None}
    names = {int(k): " ".join(str(v).split()) for k, v in names.items() if v and str(v).strip()}
    sizes = {s.segment: s for s in analysis.sizes}
    axes = _axes(analysis)

    features = tuple(analysis.preparation.input_columns)
    if previous is not None:
        _check_same_table(previous, features)

    drafts = _drafts(analysis, sizes, definitions, owners)
    changes, matched_by = _names_and_changes(drafts, names, owners, axes, previous,
                                             previous_assignments, assignments)
    unassigned = sizes[-1].n if -1 in sizes else 0
    return Glossary(
        version=(previous.version + 1) if previous is not None else 1,
        created_at=created_at or datetime.now(UTC).isoformat(timespec="seconds"),
        model_version=model_version,
        engine_version=__version__,
        customers=int(analysis.n_rows),
        unassigned=int(unassigned),
        previous_version=previous.version if previous is not None else None,
        matched_by=matched_by,
        entries=tuple(GlossaryEntry(**d) for d in drafts),
        changes=changes,
        axes=axes,
        features=features,
    )


def _drafts(analysis, sizes: dict, definitions: Mapping[int, str],
            owners: Mapping[int, str]) -> list[dict]:
    """Each segment's entry as far as the analysis alone tells (no name, no previous version)."""
    segments = [s.segment for s in analysis.sizes if s.segment >= 0]
    profiles = {p.segment: p for p in analysis.profiles}
    rules = {r.segment: r.rules for r in analysis.rules.segments}
    drafts = []
    for seg in segments:
        size = sizes[seg]
        seg_rules = tuple(RuleSummary(text=r.text, precision=round(r.precision, 4),
                                      recall=round(r.recall, 4))
                          for r in rules.get(seg, ())[:TOP_RULES])
        profile = profiles.get(seg)
        traits = tuple(t.phrase for t in profile.top_features[:TOP_TRAITS]) if profile else ()
        given = definitions.get(seg)
        drafts.append({
            "segment": seg,
            "name": None,
            "definition": one_line(given) if given else _engine_definition(seg_rules, traits),
            "definition_source": "given" if given else "engine",
            "rules": seg_rules,
            "size": size.n,
            "share": size.share,
            "traits": traits,
            "outcomes": _outcomes(analysis.validation, seg),
            "owner": owners.get(seg, ""),
            "previous_segments": (),
            "previous_share": None,
            "profile": _signature(profile) if profile else {},
        })
    return drafts


def _names_and_changes(drafts: list[dict], names: Mapping[int, str], owners: Mapping[int, str],
                       axes: dict[str, Axis], previous: Glossary | None, previous_assignments,
                       assignments) -> tuple[tuple[Change, ...], str | None]:
    """Link the drafts to the previous version's segments, carry owners and names over, settle
    every name, then list the changes; returns them and how segments were matched."""
    changes: tuple[Change, ...] = ()
    matched_by = None
    carried: dict[int, str] = {}
    if previous is not None:
        links, matched_by = _match(previous, drafts, axes, previous_assignments, assignments)
        groups = _groups(previous, drafts, links)
        kept_owners = _follow(groups, previous, drafts, links, owners)
        carried = _carried_names(groups, previous, drafts, links)
    _settle_names(drafts, names, carried)
    if previous is not None:  # texts quote names, which are settled only now
        changes = _changes(groups, previous, drafts, links, owners, kept_owners)
    return changes, matched_by


def one_line(text: str) -> str:
    """The first sentence of ``text`` on one line, at most ``MAX_DEFINITION_CHARS`` long."""
    flat = " ".join(str(text).split())
    match = re.search(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])", flat)
    first = flat[: match.start()] if match else flat
    if len(first) > MAX_DEFINITION_CHARS:
        cut = first[: MAX_DEFINITION_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:")
        first = cut + "…"
    return first


def unchanged(new: Glossary, old: Glossary) -> bool:
    """True when ``new`` says nothing ``old`` did not: same model, segments, names, definitions
    and owners (so a re-export need not create a new version)."""
    if new.model_version != old.model_version or new.changes:
        return False
    if len(new.entries) != len(old.entries):
        return False
    for a, b in zip(new.entries, old.entries, strict=True):
        if (a.segment, a.name, a.definition, a.owner, a.size) != (
                b.segment, b.name, b.definition, b.owner, b.size):
            return False
    return True


def _engine_definition(rules: tuple[RuleSummary, ...], traits: tuple[str, ...]) -> str:
    """A definition from the segment's rule and top traits, when no narrative is given: the
    richest one that fits on one line."""
    rule = next((r for r in rules if r.precision >= DEFINITION_RULE_PRECISION
                 and r.recall >= DEFINITION_RULE_RECALL and r.text != "everyone"), None)
    where = [f"where {rule.text}"] if rule is not None else []
    candidates = [where + (["with " + " and ".join(traits[:n])] if n else [])
                  for n in (2, 1, 0) if n <= len(traits)]
    candidates += [["with " + traits[0]]] if traits else []
    for parts in candidates:
        if parts:
            text = "Customers " + ", ".join(parts) + "."
            if len(text) <= MAX_DEFINITION_CHARS:
                return text
    if candidates and candidates[0]:
        return one_line("Customers " + ", ".join(candidates[0]) + ".")
    return "Customers not clearly different from the whole table."


def _outcomes(validation, segment: int) -> tuple[OutcomeFact, ...]:
    out = []
    for v in validation:
        seg = next((s for s in v.segments if s.segment == segment), None)
        value = seg.value if seg is not None else None
        fmt = percent if v.kind == "binary" else number
        if value is None or v.overall is None:
            phrase = f"{v.name}: no recorded values"
        elif v.kind == "binary":
            phrase = f"{v.name} {fmt(value)} vs {fmt(v.overall)} overall"
        else:
            phrase = f"{v.name} mean {fmt(value)} vs {fmt(v.overall)} overall"
        if value is not None and v.p_value is not None and not v.significant:
            phrase += " (no clear difference across segments)"
        out.append(OutcomeFact(name=v.name, kind=v.kind, value=value, overall=v.overall,
                               significant=v.significant, phrase=phrase))
    return tuple(out)


def _signature(profile) -> dict[str, float]:
    """Raw per-feature values that locate a segment: medians (numbers, dates), shares (flags,
    over-represented category levels)."""
    out: dict[str, float] = {}
    for f in profile.features:
        value = f.segment_mean if f.kind == "boolean" else f.segment_median
        if value is not None and math.isfinite(value):
            out[f.name] = float(value)
    for c in profile.categories:
        out[_level_key(c.name, c.level)] = float(c.segment_share)
    return out


def _level_key(name: str, level: str) -> str:
    return f"{name}={level}"


def _axes(analysis) -> dict[str, Axis]:
    axes: dict[str, Axis] = {}
    for step in analysis.preparation.numeric:
        axes[step.name] = Axis(kind="numeric", transform=step.transform,
                               yeo_johnson_lambda=step.yeo_johnson_lambda,
                               clip_low=step.clip_low, clip_high=step.clip_high,
                               center=step.center, scale=step.scale if step.scale > 0 else 1.0)
    for profile in analysis.profiles:
        for c in profile.categories:
            key = _level_key(c.name, c.level)
            if key not in axes:
                p = min(max(c.overall_share, 1e-3), 1 - 1e-3)
                axes[key] = Axis(kind="level", center=c.overall_share,
                                 scale=math.sqrt(p * (1 - p)))
    return axes


# --------------------------------------------------------------------------------------------
# Same table?
# --------------------------------------------------------------------------------------------


def glossary_features(glossary: Glossary) -> tuple[str, ...]:
    """The columns ``glossary``'s segments were built on: stored since format 2, else read
    from its standardising axes (numeric columns, and categorical ones with a level that stood
    out in a segment)."""
    if glossary.features:
        return glossary.features
    out = {key.partition("=")[0] if axis.kind == "level" else key
           for key, axis in glossary.axes.items()}
    return tuple(sorted(out))


def _check_same_table(previous: Glossary, features: tuple[str, ...]) -> None:
    old = glossary_features(previous)
    if not old or not features:
        return  # nothing to compare with: matching decides alone
    common = {_name_key(f) for f in old} & {_name_key(f) for f in features}
    if len(common) >= MIN_COMMON_FEATURES * min(len(old), len(features)):
        return
    detail = (f"version {previous.version} was built on {_few(old)}, this segmentation on "
              f"{_few(features)}, {len(common)} in common")
    raise OtherTableError(f"The previous glossary describes segments of another table "
                          f"({detail}); write this glossary to a new folder.", detail)


def _few(names, shown: int = 3) -> str:
    names = list(names)
    if len(names) <= shown:
        return _and(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown} more"

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
a new one alone is new and an old one alone retired.

``write_glossary`` writes ``glossary.json`` and ``glossary.md`` (the current version) and
``glossary-vN.json`` (history), each atomically; ``read_glossary`` reads one back with a
one-sentence error for a missing, damaged or newer-format file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError

from copilot import __version__
from copilot.errors import InputError
from copilot.segmentation._base import Frozen
from copilot.segmentation.documents import read_document
from copilot.segmentation.export import atomic_write_text
from copilot.segmentation.prepare import _skew_transform
from copilot.segmentation.profile import _fmt_num, _fmt_pct

GLOSSARY_FORMAT = "segment-copilot-glossary"
# Bump when the saved shape changes; older engines refuse newer glossaries rather than guess.
GLOSSARY_FORMAT_VERSION = 1
CURRENT_JSON, CURRENT_MD = "glossary.json", "glossary.md"
_HISTORY = re.compile(r"^glossary-v(\d+)\.json$")

#: A segment is "resized" when its share of customers moves by at least this many points ...
RESIZE_MIN_POINTS = 0.03
#: ... and by at least this fraction of its old share. Both, so that a 40% segment moving by 3
#: points (a re-fit's wobble) and a 1% segment doubling to 2% (a handful of customers) are not
#: news, while a 10% segment going to 15% is. Re-fitting one population with another seed
#: moves shares by well under both (see tests/segmentation/test_glossary.py).
RESIZE_MIN_RATIO = 0.2

#: Customers mode needs at least this share of each version's assigned customers in both ...
MIN_COMMON_SHARE = 0.5
#: ... and at least this many; otherwise the overlap says little and profiles are used.
MIN_COMMON_CUSTOMERS = 20
#: Customers mode: segments are linked when one side's customers went mostly (this share) ...
LINK_MAJOR = 0.5
#: ... to or from the other, and they make up at least this share of the other side. A segment
#: under a tenth of the one that absorbed it reads as retired (with where its customers went).
LINK_MINOR = 0.1
#: Profiles mode: a nearest counterpart is linked only when it is closer than this multiple of
#: the distance from either segment to its nearest sibling in its own version (a merged centre
#: lies between its parts, a split's parts around their parent; a far one is new or retired).
PROFILE_LINK_RATIO = 0.75

#: Traits listed per segment (the profile's most distinguishing facts).
TOP_TRAITS = 3
#: Rules kept per segment.
TOP_RULES = 3
#: A rule enters the deterministic definition only when it describes the segment well.
DEFINITION_RULE_PRECISION = 0.7
DEFINITION_RULE_RECALL = 0.5
#: One line: longer definitions are cut at a word boundary.
MAX_DEFINITION_CHARS = 200

ChangeKind = Literal["renamed", "merged", "split", "resized", "new", "retired", "regrouped"]


class Axis(Frozen):
    """How one profile value becomes a standardised coordinate (for matching by profiles).

    Numeric, boolean and datetime features use the analysis' preparation (skew transform, clip,
    centre, scale); a categorical level uses its overall share ``center`` and the spread of a
    0/1 indicator with that share.
    """

    kind: Literal["numeric", "level"]
    transform: Literal["none", "log1p", "yeo-johnson"] = "none"
    yeo_johnson_lambda: float | None = None
    clip_low: float | None = None
    clip_high: float | None = None
    center: float
    scale: float

    def standardise(self, value: float) -> float:
        if self.kind == "level":
            return (value - self.center) / self.scale
        x = _skew_transform(np.array([value], dtype=float), self.transform,
                            self.yeo_johnson_lambda)[0]
        if self.clip_low is not None and self.clip_high is not None:
            x = min(max(x, self.clip_low), self.clip_high)
        return (x - self.center) / self.scale


class RuleSummary(Frozen):
    text: str
    precision: float
    recall: float


class OutcomeFact(Frozen):
    """An outcome in one segment against the whole table."""

    name: str
    kind: Literal["binary", "continuous"]
    value: float | None  # rate (binary) or mean (continuous) in the segment
    overall: float | None
    significant: bool  # whether the outcome differs across segments at all (the analysis' test)
    phrase: str


class GlossaryEntry(Frozen):
    segment: int
    name: str
    definition: str
    definition_source: Literal["given", "engine"]
    rules: tuple[RuleSummary, ...]
    size: int
    share: float
    traits: tuple[str, ...]
    outcomes: tuple[OutcomeFact, ...]
    owner: str = ""  # "" = to assign
    previous_segments: tuple[int, ...] = ()  # the previous version's segments it came from
    profile: dict[str, float] = Field(default_factory=dict)  # raw medians (numbers) and shares (flags, levels)


class Change(Frozen):
    kind: ChangeKind
    before: tuple[int, ...]  # the previous version's segments
    after: tuple[int, ...]  # this version's segments
    before_names: tuple[str, ...]
    after_names: tuple[str, ...]
    before_share: float | None  # total share of ``before`` in the previous version
    after_share: float | None
    text: str


class Glossary(Frozen):
    format: Literal["segment-copilot-glossary"] = GLOSSARY_FORMAT
    format_version: int = GLOSSARY_FORMAT_VERSION
    version: int
    created_at: str
    model_version: str | None
    engine_version: str
    customers: int
    unassigned: int
    previous_version: int | None
    matched_by: Literal["customers", "profiles"] | None
    entries: tuple[GlossaryEntry, ...]
    changes: tuple[Change, ...]
    axes: dict[str, Axis]
    assignments_file: str | None = None  # this version's ID -> segment snapshot, if saved

    def entry(self, segment: int) -> GlossaryEntry:
        for e in self.entries:
            if e.segment == segment:
                return e
        raise KeyError(segment)


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
        it continues (one to one), else is called "Segment N".
    definitions : dict, optional
        Segment -> definition (e.g. a narrative); reduced to its first sentence. Segments left
        out get a definition built from their rule and top traits.
    owners : dict, optional
        Segment -> strategy owner. Segments left out keep the owner of the segment(s) they
        came from (the largest contributor with one), else "" (to assign).
    model_version : str, optional
        The saved model's ID (or another label of the segmentation).
    previous : Glossary, optional
        The previous version; without it this is version 1 with no changes.
    previous_assignments, assignments : dict or pandas.Series, optional
        Customer ID -> segment of the previous and of this version. With both (and enough
        customers in common) segments are matched by customers, else by profiles.
    created_at : str, optional
        ISO time stamp (default: now, UTC).

    Examples
    --------
    >>> import sys; sys.path.insert(0, ".")
    >>> from fixtures.customers import make_customers
    >>> from copilot.segmentation.pipeline import SegmentSettings, run_segmentation
    >>> run = run_segmentation(make_customers(300, 3, seed=1).frame, SegmentSettings(k=3))
    >>> g = build_glossary(run.analysis, names={0: "A", 1: "B", 2: "C"})
    >>> g.version, [e.name for e in g.entries], g.changes
    (1, ['A', 'B', 'C'], ())
    """
    definitions = {int(k): v for k, v in (definitions or {}).items() if v and str(v).strip()}
    owners = {int(k): str(v).strip() for k, v in (owners or {}).items() if v is not None}
    names = {int(k): " ".join(str(v).split()) for k, v in names.items() if v and str(v).strip()}
    sizes = {s.segment: s for s in analysis.sizes}
    segments = [s.segment for s in analysis.sizes if s.segment >= 0]
    profiles = {p.segment: p for p in analysis.profiles}
    rules = {r.segment: r.rules for r in analysis.rules.segments}
    axes = _axes(analysis)

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
            "name": names.get(seg),
            "definition": one_line(given) if given else _engine_definition(seg_rules, traits),
            "definition_source": "given" if given else "engine",
            "rules": seg_rules,
            "size": size.n,
            "share": size.share,
            "traits": traits,
            "outcomes": _outcomes(analysis.validation, seg),
            "owner": owners.get(seg),
            "previous_segments": (),
            "profile": _signature(profile) if profile else {},
        })

    changes: tuple[Change, ...] = ()
    drafted: list[_Draft] = []
    matched_by = None
    if previous is not None:
        links, matched_by = _match(previous, drafts, axes, previous_assignments, assignments)
        drafted = _resolve(previous, drafts, links)
    for d in drafts:
        if d["name"] is None:
            d["name"] = f"Segment {d['segment']}"
        if d["owner"] is None:
            d["owner"] = ""
    if previous is not None:  # texts quote names, which are complete only now
        changes = _with_names(drafted, previous, drafts)
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
    )


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
        fmt = _fmt_pct if v.kind == "binary" else _fmt_num
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
# Matching the previous version's segments to the new ones
# --------------------------------------------------------------------------------------------


class _Links:
    """Old <-> new links with a weight (customers in common, or the old segment's size)."""

    def __init__(self) -> None:
        self.weights: dict[tuple[int, int], float] = {}
        self.moved: dict[int, tuple[int, float]] = {}  # old -> (main new, share) when unlinked
        self.came: dict[int, tuple[int, float]] = {}  # new -> (main old, share) when unlinked


def _match(previous: Glossary, drafts: list[dict], axes: dict[str, Axis],
           previous_assignments, assignments) -> tuple[_Links, str]:
    olds = [e.segment for e in previous.entries]
    news = [d["segment"] for d in drafts]
    overlap = _overlap(previous_assignments, assignments, olds, news)
    if overlap is not None:
        return _links_by_customers(overlap, olds, news), "customers"
    return _links_by_profiles(previous, drafts, axes), "profiles"


def _as_series(assignments) -> pd.Series:
    if isinstance(assignments, pd.Series):
        s = assignments
    elif isinstance(assignments, Mapping):
        s = pd.Series(assignments)
    else:
        raise TypeError("assignments must be a Series or a mapping of customer ID -> segment")
    s = pd.Series(pd.to_numeric(s.to_numpy(), errors="coerce"), index=s.index.astype(str))
    s = s[~s.index.duplicated(keep="first")].dropna()
    return s[s >= 0].astype(int)


def _overlap(previous_assignments, assignments, olds, news) -> pd.DataFrame | None:
    """Customers in common, old segment x new segment, or None when too few are in common."""
    if previous_assignments is None or assignments is None:
        return None
    a, b = _as_series(previous_assignments), _as_series(assignments)
    a, b = a[a.isin(olds)], b[b.isin(news)]
    common = a.index.intersection(b.index)
    if (len(common) < MIN_COMMON_CUSTOMERS or not len(a) or not len(b)
            or len(common) < MIN_COMMON_SHARE * min(len(a), len(b))):
        return None
    table = pd.crosstab(a.loc[common].to_numpy(), b.loc[common].to_numpy())
    return table.reindex(index=olds, columns=news, fill_value=0)


def _links_by_customers(m: pd.DataFrame, olds: list[int], news: list[int]) -> _Links:
    links = _Links()
    counts = m.to_numpy(dtype=float)
    row = counts.sum(axis=1, keepdims=True)
    col = counts.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        went = np.where(row > 0, counts / row, 0.0)  # share of old i now in new j
        came = np.where(col > 0, counts / col, 0.0)  # share of new j that was in old i
    for a, i in enumerate(olds):
        for b, j in enumerate(news):
            if ((went[a, b] >= LINK_MAJOR and came[a, b] >= LINK_MINOR)
                    or (came[a, b] >= LINK_MAJOR and went[a, b] >= LINK_MINOR)):
                links.weights[(i, j)] = counts[a, b]
    for a, i in enumerate(olds):
        if row[a, 0] > 0:
            b = int(np.argmax(counts[a]))
            links.moved[i] = (news[b], float(went[a, b]))
    for b, j in enumerate(news):
        if col[0, b] > 0:
            a = int(np.argmax(counts[:, b]))
            links.came[j] = (olds[a], float(came[a, b]))
    return links


def _links_by_profiles(previous: Glossary, drafts: list[dict], axes: dict[str, Axis]) -> _Links:
    links = _Links()
    old_entries = [e for e in previous.entries if e.profile]
    new_entries = [d for d in drafts if d["profile"]]
    if not old_entries or not new_entries:
        return links
    # One space for both: the previous version's axes, the new ones for what it lacks.
    space = {**axes, **previous.axes}
    keys = sorted(k for k in space if any(k in e.profile for e in old_entries)
                  and any(k in d["profile"] for d in new_entries))
    if not keys:
        return links

    def point(profile: dict[str, float], own_axes: dict[str, Axis]) -> np.ndarray:
        values = []
        for k in keys:
            axis = space[k]
            raw = profile.get(k)
            if raw is None and axis.kind == "level":
                # An unlisted level is not over-represented: read it as the version's overall share.
                own = own_axes.get(k)
                raw = own.center if own is not None else axis.center
            values.append(np.nan if raw is None else axis.standardise(raw))
        return np.array(values)

    P = np.array([point(e.profile, previous.axes) for e in old_entries])
    Q = np.array([point(d["profile"], axes) for d in new_entries])
    d_on = _rms_distance(P, Q)
    nn_old = _nearest_sibling(_rms_distance(P, P))
    nn_new = _nearest_sibling(_rms_distance(Q, Q))
    olds = [e.segment for e in old_entries]
    news = [d["segment"] for d in new_entries]
    sizes = {e.segment: e.size for e in old_entries}

    def near(a: int, b: int) -> bool:
        return d_on[a, b] <= PROFILE_LINK_RATIO * max(nn_old[a], nn_new[b]) + 1e-12

    for a in range(len(olds)):
        b = int(np.nanargmin(d_on[a])) if np.isfinite(d_on[a]).any() else None
        if b is not None and near(a, b):
            links.weights[(olds[a], news[b])] = float(sizes[olds[a]])
    for b in range(len(news)):
        a = int(np.nanargmin(d_on[:, b])) if np.isfinite(d_on[:, b]).any() else None
        if a is not None and near(a, b):
            links.weights[(olds[a], news[b])] = float(sizes[olds[a]])
    return links


def _rms_distance(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Root-mean-square difference over the coordinates both points have."""
    diff = A[:, None, :] - B[None, :, :]
    present = np.isfinite(diff)
    n = present.sum(axis=-1)
    sq = np.where(present, diff, 0.0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sqrt(sq.sum(axis=-1) / np.maximum(n, 1)), np.inf)


def _nearest_sibling(d: np.ndarray) -> np.ndarray:
    d = d.copy()
    np.fill_diagonal(d, np.inf)
    out = d.min(axis=1)
    # A version with one segment has no sibling: any counterpart is near enough.
    return np.where(np.isfinite(out), out, np.inf)


# --------------------------------------------------------------------------------------------
# From links to a change list
# --------------------------------------------------------------------------------------------


def _resolve(previous: Glossary, drafts: list[dict], links: _Links) -> list[_Draft]:
    """Group linked segments, carry names and owners over, and list the changes."""
    olds = {e.segment: e for e in previous.entries}
    by_new = {d["segment"]: d for d in drafts}
    parent = {("o", i): ("o", i) for i in olds} | {("n", j): ("n", j) for j in by_new}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in links.weights:
        parent[find(("o", i))] = find(("n", j))
    groups: dict[tuple, tuple[list[int], list[int]]] = {}
    for node in parent:
        o, n = groups.setdefault(find(node), ([], []))
        (o if node[0] == "o" else n).append(node[1])

    changes: list[_Draft] = []
    for o, n in sorted(groups.values(), key=lambda g: (min(g[1], default=10**9),
                                                       min(g[0], default=10**9))):
        o.sort()
        n.sort()
        for j in n:
            d = by_new[j]
            d["previous_segments"] = tuple(o)
            if d["owner"] is None:
                d["owner"] = _carried_owner(j, o, olds, links)
        if len(o) == 1 and len(n) == 1:
            d, old = by_new[n[0]], olds[o[0]]
            if d["name"] is None:
                d["name"] = old.name
            elif _name_key(d["name"]) != _name_key(old.name):
                changes.append(_change("renamed", o, n))
            if _resized(old.share, d["share"]):
                changes.append(_change("resized", o, n))
        elif not o:
            changes.append(_change("new", o, n, source=links.came.get(n[0])))
        elif not n:
            changes.append(_change("retired", o, n, source=links.moved.get(o[0])))
        elif len(n) == 1:
            changes.append(_change("merged", o, n))
        elif len(o) == 1:
            changes.append(_change("split", o, n))
        else:
            changes.append(_change("regrouped", o, n))
    return changes


def _carried_owner(j: int, olds_in_group: list[int], olds: dict[int, GlossaryEntry],
                   links: _Links) -> str:
    # The largest contributor with an owner: its customers are the bulk of this segment.
    ranked = sorted(olds_in_group, key=lambda i: (-links.weights.get((i, j), 0.0), i))
    return next((olds[i].owner for i in ranked if olds[i].owner), "")


def _resized(before: float, after: float) -> bool:
    delta = abs(after - before)
    return delta >= RESIZE_MIN_POINTS and delta >= RESIZE_MIN_RATIO * max(before, 1e-12)


def _name_key(name: str) -> str:
    return " ".join(str(name).lower().split())


class _Draft:
    """A change before every name is known (names are filled in last)."""

    def __init__(self, kind: ChangeKind, before: list[int], after: list[int],
                 source: tuple[int, float] | None = None) -> None:
        self.kind, self.before, self.after, self.source = kind, tuple(before), tuple(after), source


def _change(kind: ChangeKind, before: list[int], after: list[int], *,
            source: tuple[int, float] | None = None) -> _Draft:
    return _Draft(kind, before, after, source)


def _with_names(drafted: list[_Draft], previous: Glossary,
                drafts: list[dict]) -> tuple[Change, ...]:
    olds = {e.segment: e for e in previous.entries}
    news = {d["segment"]: d for d in drafts}
    out = []
    for c in drafted:
        before_names = tuple(olds[i].name for i in c.before)
        after_names = tuple(news[j]["name"] for j in c.after)
        before_shares = [olds[i].share for i in c.before]
        after_shares = [news[j]["share"] for j in c.after]
        text = _change_text(c.kind, before_names, after_names, before_shares, after_shares,
                            c.source, olds, news)
        out.append(Change(kind=c.kind, before=c.before, after=c.after,
                          before_names=before_names, after_names=after_names,
                          before_share=sum(before_shares) if c.before else None,
                          after_share=sum(after_shares) if c.after else None, text=text))
    return tuple(out)


def _q(name: str) -> str:
    return f"\u201c{name}\u201d"


def _listing(names) -> str:
    names = [_q(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _change_text(kind, before_names, after_names, before_shares, after_shares, source, olds,
                 news) -> str:
    pct = _fmt_pct
    if kind == "renamed":
        return f"{_q(before_names[0])} is now called {_q(after_names[0])}."
    if kind == "resized":
        verb = "grew" if after_shares[0] > before_shares[0] else "shrank"
        return (f"{_q(after_names[0])} {verb} from {pct(before_shares[0])} to "
                f"{pct(after_shares[0])} of customers.")
    if kind == "merged":
        parts = " + ".join(pct(s) for s in before_shares)
        return (f"{_listing(before_names)} merged into {_q(after_names[0])} "
                f"({parts} \u2192 {pct(after_shares[0])} of customers).")
    if kind == "split":
        parts = " + ".join(pct(s) for s in after_shares)
        return (f"{_q(before_names[0])} split into {_listing(after_names)} "
                f"({pct(before_shares[0])} \u2192 {parts} of customers).")
    if kind == "regrouped":
        return (f"{_listing(before_names)} were regrouped into {_listing(after_names)} "
                f"({pct(sum(before_shares))} \u2192 {pct(sum(after_shares))} of customers).")
    if kind == "new":
        text = f"{_q(after_names[0])} is new ({pct(after_shares[0])} of customers)"
        if source is not None and source[0] in olds and source[1] > 0:
            text += (f"; {pct(source[1])} of its returning customers were in "
                     f"{_q(olds[source[0]].name)}")
        return text + "."
    text = f"{_q(before_names[0])} was retired (it had {pct(before_shares[0])} of customers)"
    if source is not None and source[0] in news and source[1] > 0:
        text += f"; {pct(source[1])} of its customers are now in {_q(news[source[0]]['name'])}"
    return text + "."


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


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
        nothing = "- Nothing: same segments, names and sizes."
        lines += [f"- {_md(c.text)}" for c in g.changes] or [nothing]
        lines.append("")
    by_segment: dict[int, list[Change]] = {}
    for c in g.changes:
        for j in c.after:
            by_segment.setdefault(j, []).append(c)
    for e in g.entries:
        title = _md(e.name) if e.name == f"Segment {e.segment}" else (
            f"{_md(e.name)} (segment {e.segment})")
        lines += [f"## {title}", "", f"> {_md(e.definition)}", ""]
        lines.append(f"- **Size:** {e.size:,} customers ({_fmt_pct(e.share)})")
        if e.rules:
            r = e.rules[0]
            rule = r.text.replace("`", "'")
            lines.append(f"- **Rule:** `{rule}` (covers "
                         f"{_fmt_pct(r.recall)} of the segment, {_fmt_pct(r.precision)} of the "
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
                lines.append(f"{was}segment{plural} {came} ({how})")
            else:
                lines.append(f"{was}not present (new)")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _md(text: str) -> str:
    """Text from names and narratives, kept from breaking the page's structure (one line, no
    table pipes, no HTML tags; a bare "<" in a rule stays readable)."""
    return _TAG_START.sub("&lt;", " ".join(str(text).split()).replace("|", "\\|"))


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def history_name(version: int) -> str:
    return f"glossary-v{version}.json"


def assignments_name(version: int) -> str:
    return f"glossary-v{version}-assignments.csv"


def write_glossary(glossary: Glossary, folder: str | Path, *, assignments=None) -> dict[str, Path]:
    """Write ``glossary-vN.json`` (history), then ``glossary.md`` and ``glossary.json`` (current).

    With ``assignments`` (customer ID -> segment), also ``glossary-vN-assignments.csv``, which
    lets the next version match segments by customers. A history file of the same version that
    holds a different glossary is never overwritten. Returns the written paths.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise InputError(f"The glossary path {out} is a file; give a folder for the glossary.")
    history = out / history_name(glossary.version)
    if assignments is not None:
        glossary = glossary.model_copy(update={"assignments_file":
                                               assignments_name(glossary.version)})
    if history.is_file():
        try:
            existing = Glossary.model_validate_json(history.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            existing = None
        if existing is None or existing.created_at != glossary.created_at:
            raise InputError(f"{history} already exists and holds another version "
                             f"{glossary.version}; move it away or use another --glossary folder.")
    text = glossary.model_dump_json(indent=2)
    paths: dict[str, Path] = {}
    if assignments is not None:
        s = _as_series(assignments)
        frame = pd.DataFrame({"customer_id": s.index.astype(str), "segment": s.to_numpy()})
        paths["assignments"] = atomic_write_text(out / glossary.assignments_file,
                                                 frame.to_csv(index=False))
    # History first and the current JSON last: glossary.json never points past what exists.
    paths["history"] = atomic_write_text(history, text)
    paths["markdown"] = atomic_write_text(out / CURRENT_MD, render_markdown(glossary))
    paths["json"] = atomic_write_text(out / CURRENT_JSON, text)
    return paths


def read_glossary(folder: str | Path) -> Glossary:
    """The current glossary in ``folder`` (or the file given); one sentence for anything wrong."""
    path = Path(folder)
    if path.is_dir() or path.suffix.lower() != ".json":
        path = path / CURRENT_JSON
    raw = read_document(path, what="glossary", fmt=GLOSSARY_FORMAT, version_key="format_version",
                        max_version=GLOSSARY_FORMAT_VERSION,
                        find="give the folder an earlier export --glossary wrote",
                        fix="restore it from its glossary-vN.json copy or move it away to start "
                            "again")
    try:
        return Glossary.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The glossary file {path} is damaged ({field}: "
                         f"{first['msg'].lower()}); restore it from its glossary-vN.json copy or "
                         "move it away to start again.") from None


def latest_glossary(folder: str | Path) -> Glossary | None:
    """The newest glossary in ``folder``: ``glossary.json``, else the highest ``glossary-vN.json``
    (so a deleted current file does not restart the numbering); None for a folder without one."""
    folder = Path(folder)
    if (folder / CURRENT_JSON).is_file():
        current = read_glossary(folder)
        newer = _history_versions(folder)
        if newer and max(newer) > current.version:
            return read_glossary(folder / history_name(max(newer)))
        return current
    versions = _history_versions(folder)
    return read_glossary(folder / history_name(max(versions))) if versions else None


def _history_versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return [int(m.group(1)) for p in folder.iterdir() if (m := _HISTORY.match(p.name))]


def read_glossary_assignments(folder: str | Path, glossary: Glossary) -> pd.Series | None:
    """The ID -> segment snapshot saved with ``glossary`` (None when there is none or it is
    unreadable: matching then falls back to profiles)."""
    if not glossary.assignments_file:
        return None
    path = Path(folder) / Path(glossary.assignments_file).name
    try:
        frame = pd.read_csv(path, dtype={"customer_id": str})
        return pd.Series(frame["segment"].to_numpy(), index=frame["customer_id"].to_numpy())
    except (OSError, ValueError, KeyError):
        return None

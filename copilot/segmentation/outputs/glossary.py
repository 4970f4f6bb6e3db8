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
from copilot.core import Frozen, InputError, atomic_write_text, number, share_percent
from copilot.segmentation.analysis import skew_transform
from copilot.segmentation.data import read_document
from copilot.segmentation.outputs.export import csv_text

GLOSSARY_FORMAT = "segment-copilot-glossary"
# Bump when the saved shape changes; older engines refuse newer glossaries rather than guess.
# 2: the segmentation's features, each entry's previous share, and "owner" changes.
GLOSSARY_FORMAT_VERSION = 2
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

#: A segmentation continues a glossary only when at least this share of the smaller of the two
#: feature sets is in both: re-segmenting one table may drop or add features (a subset shares
#: all of its own), while another table shares none or one by chance ("age", "tenure").
MIN_COMMON_FEATURES = 0.5
#: Customers moving in or out of a merge or split are spelled out from half a point of
#: customers: below that the shares printed (whole percents) add up anyway.
FLOW_MIN_SHARE = 0.005

#: Traits listed per segment (the profile's most distinguishing facts).
TOP_TRAITS = 3
#: Rules kept per segment.
TOP_RULES = 3
#: A rule enters the deterministic definition only when it describes the segment well.
DEFINITION_RULE_PRECISION = 0.7
DEFINITION_RULE_RECALL = 0.5
#: One line: longer definitions are cut at a word boundary.
MAX_DEFINITION_CHARS = 200

ChangeKind = Literal["renamed", "merged", "split", "resized", "new", "retired", "regrouped",
                     "owner"]
# The engine's name for a segment nobody named; it says the number, so it is never carried.
_PLACEHOLDER = re.compile(r"^segment \d+$")


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
        x = skew_transform(np.array([value], dtype=float), self.transform,
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
    previous_share: float | None = None  # their total share in the previous version
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
    features: tuple[str, ...] = ()  # the columns the segments were built on (() before format 2)

    def entry(self, segment: int) -> GlossaryEntry:
        for e in self.entries:
            if e.segment == segment:
                return e
        raise KeyError(segment)


class OtherTableError(InputError):
    """The previous glossary describes segments of another table (too few features in common).

    ``detail`` says which features each side was built on, for a caller that words the error
    its own way (the CLI names its --glossary folder).
    """

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


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
    segments = [s.segment for s in analysis.sizes if s.segment >= 0]
    profiles = {p.segment: p for p in analysis.profiles}
    rules = {r.segment: r.rules for r in analysis.rules.segments}
    axes = _axes(analysis)

    features = tuple(analysis.preparation.input_columns)
    if previous is not None:
        _check_same_table(previous, features)

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
        fmt = share_percent if v.kind == "binary" else number
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
        # Customers in common, old x new (matching by customers only): what the change texts
        # quote when customers also moved in or out of a merge or split.
        self.overlap: pd.DataFrame | None = None


def _match(previous: Glossary, drafts: list[dict], axes: dict[str, Axis],
           previous_assignments, assignments) -> tuple[_Links, str]:
    olds = [e.segment for e in previous.entries]
    news = [d["segment"] for d in drafts]
    overlap = _overlap(previous_assignments, assignments, olds, news)
    if overlap is not None:
        links = _links_by_customers(overlap, olds, news)
        links.overlap = overlap
        return links, "customers"
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


def _groups(previous: Glossary, drafts: list[dict],
            links: _Links) -> list[tuple[list[int], list[int]]]:
    """The linked segments as groups (old segments, new segments), in the new segments' order."""
    olds = {e.segment for e in previous.entries}
    news = {d["segment"] for d in drafts}
    parent = {("o", i): ("o", i) for i in olds} | {("n", j): ("n", j) for j in news}

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
    for o, n in groups.values():
        o.sort()
        n.sort()
    return sorted(groups.values(), key=lambda g: (min(g[1], default=10**9),
                                                  min(g[0], default=10**9)))


def _follow(groups, previous: Glossary, drafts: list[dict], links: _Links,
            owners: Mapping[int, str]) -> dict[int, str]:
    """Record where each new segment came from and carry owners over; returns the owner each
    continuing segment would keep (what a given owner is compared with)."""
    olds = {e.segment: e for e in previous.entries}
    by_new = {d["segment"]: d for d in drafts}
    kept: dict[int, str] = {}
    for o, n in groups:
        for j in n:
            d = by_new[j]
            d["previous_segments"] = tuple(o)
            if o:
                d["previous_share"] = sum(olds[i].share for i in o)
                kept[j] = _carried_owner(j, o, olds, links)
                if j not in owners:
                    d["owner"] = kept[j]
    return kept


def _carried_owner(j: int, olds_in_group: list[int], olds: dict[int, GlossaryEntry],
                   links: _Links) -> str:
    # The largest contributor with an owner: its customers are the bulk of this segment.
    ranked = sorted(olds_in_group, key=lambda i: (-links.weights.get((i, j), 0.0), i))
    return next((olds[i].owner for i in ranked if olds[i].owner), "")


def _carried_names(groups, previous: Glossary, drafts: list[dict],
                   links: _Links) -> dict[int, str]:
    """New segment -> the previous name it would keep: one to one, or the main part of a split
    (most of the old segment's customers; by profiles, where the link weights tie, the larger
    part). Placeholders are not names; merges and regroups keep none."""
    olds = {e.segment: e for e in previous.entries}
    shares = {d["segment"]: d["share"] for d in drafts}
    out: dict[int, str] = {}
    for o, n in groups:
        if len(o) != 1 or not n:
            continue
        i = o[0]
        if _is_placeholder(olds[i].name):
            continue
        main = min(n, key=lambda j: (-links.weights.get((i, j), 0.0), -shares[j], j))
        out[main] = olds[i].name
    return out


def _settle_names(drafts: list[dict], names: Mapping[int, str], carried: Mapping[int, str]) -> None:
    """Give every segment a name no other has: given, else carried, else "Segment N"."""
    taken: set[str] = set()
    todo = list(drafts)

    def take(d: dict, name: str | None) -> bool:
        if name and _name_key(name) not in taken:
            d["name"] = name
            taken.add(_name_key(name))
            return True
        return False

    for pick in (names, carried):
        todo = [d for d in todo if not take(d, pick.get(d["segment"]))]
    for d in todo:
        base = f"Segment {d['segment']}"
        if not take(d, base):
            n = 2
            while not take(d, f"{base} ({n})"):
                n += 1


def _is_placeholder(name: str) -> bool:
    return bool(_PLACEHOLDER.match(_name_key(name)))


def _resized(before: float, after: float) -> bool:
    delta = abs(after - before)
    return delta >= RESIZE_MIN_POINTS and delta >= RESIZE_MIN_RATIO * max(before, 1e-12)


def _name_key(name: str) -> str:
    return " ".join(str(name).lower().split())


def _changes(groups, previous: Glossary, drafts: list[dict], links: _Links,
             owners: Mapping[int, str], kept_owners: Mapping[int, str]) -> tuple[Change, ...]:
    olds = {e.segment: e for e in previous.entries}
    news = {d["segment"]: d for d in drafts}
    out: list[Change] = []

    def add(kind: ChangeKind, before, after, text: str) -> None:
        out.append(Change(
            kind=kind, before=tuple(before), after=tuple(after),
            before_names=tuple(olds[i].name for i in before),
            after_names=tuple(news[j]["name"] for j in after),
            before_share=sum(olds[i].share for i in before) if before else None,
            after_share=sum(news[j]["share"] for j in after) if after else None, text=text))

    for o, n in groups:
        if len(o) == 1 and len(n) == 1:
            old, new = olds[o[0]], news[n[0]]
            if _name_key(new["name"]) != _name_key(old.name):
                add("renamed", o, n, _renamed_text(old, new))
            if _resized(old.share, new["share"]):
                verb = "grew" if new["share"] > old.share else "shrank"
                add("resized", o, n, f"{_q(new['name'])} {verb} from {share_percent(old.share)} to "
                                     f"{share_percent(new['share'])} of customers.")
        elif not o:
            add("new", o, n, _new_text(news[n[0]], links.came.get(n[0]), olds))
        elif not n:
            add("retired", o, n, _retired_text(olds[o[0]], links.moved.get(o[0]), news))
        elif len(n) == 1:
            add("merged", o, n, _merged_text([olds[i] for i in o], news[n[0]], links))
        elif len(o) == 1:
            add("split", o, n, _split_text(olds[o[0]], [news[j] for j in n], links))
        else:
            before, after = [olds[i] for i in o], [news[j] for j in n]
            add("regrouped", o, n,
                f"{_listing(e.name for e in before)} were regrouped into "
                f"{_listing(d['name'] for d in after)} "
                f"({share_percent(sum(e.share for e in before))} \u2192 "
                f"{share_percent(sum(d['share'] for d in after))} of customers).")
        for j in n:
            if o and j in owners and owners[j] != kept_owners.get(j, ""):
                add("owner", o, [j], _owner_text(news[j]["name"], owners[j],
                                                 kept_owners.get(j, "")))
    return tuple(out)


def _q(name: str) -> str:
    return f"\u201c{name}\u201d"


def _listing(names) -> str:
    names = [_q(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _renamed_text(old: GlossaryEntry, new: dict) -> str:
    if _is_placeholder(old.name) and new["name"] == f"Segment {new['segment']}":
        # Nobody named it: only its number changed, which the CRM's name shows.
        return (f"{_q(old.name)} is now segment {new['segment']}, so it is called "
                f"{_q(new['name'])}.")
    return f"{_q(old.name)} is now called {_q(new['name'])}."


def _owner_text(name: str, owner: str, before: str) -> str:
    was = f"was {before}" if before else "it had none"
    if not owner:
        return f"{_q(name)} has no owner now ({was})."
    return f"{_q(name)} is now owned by {owner} ({was})."


def _flows(old_segments: list[int], new_segments: list[int], links: _Links):
    """Customers in common between a group's old and new segments, as (old i -> share of i's
    customers that went into the group's new segments, new j -> {old i: share of j's customers
    that came from i}); None without customers in common."""
    m = links.overlap
    if m is None:
        return None
    went = {}
    for i in old_segments:
        total = float(m.loc[i].sum())
        went[i] = float(m.loc[i, new_segments].sum()) / total if total else 1.0
    came = {}
    for j in new_segments:
        total = float(m[j].sum())
        came[j] = {i: (float(m.loc[i, j]) / total if total else 0.0) for i in old_segments}
    return went, came


def _merged_text(before: list[GlossaryEntry], after: dict, links: _Links) -> str:
    head = f"{_listing(e.name for e in before)} merged into {_q(after['name'])}"
    shares = (f"{' + '.join(share_percent(e.share) for e in before)} \u2192 "
              f"{share_percent(after['share'])} of customers")
    flows = _flows([e.segment for e in before], [after["segment"]], links)
    if flows is None:
        if abs(sum(e.share for e in before) - after["share"]) < FLOW_MIN_SHARE:
            return f"{head} ({shares})."
        return (f"{head} ({shares}; not their sum, as customers also moved to or from other "
                "segments or the table changed).")
    went, came = flows
    parts = {e.segment: after["share"] * came[after["segment"]][e.segment] for e in before}
    gained = after["share"] - sum(parts.values())
    lost = [e for e in before if e.share * (1 - went[e.segment]) >= FLOW_MIN_SHARE]
    if gained < FLOW_MIN_SHARE and not lost:
        return f"{head} ({shares})."
    came_from = [f"{share_percent(parts[e.segment])} came from {_q(e.name)}" if k == 0
                 else f"{share_percent(parts[e.segment])} from {_q(e.name)}"
                 for k, e in enumerate(before)]
    if gained >= FLOW_MIN_SHARE:
        came_from.append(f"{share_percent(gained)} from other segments")
    text = f"{head} ({shares}; {_and(came_from)}"
    if lost:
        text += f", and the rest of {_listing(e.name for e in lost)} went to other segments"
    return text + ")."


def _split_text(before: GlossaryEntry, after: list[dict], links: _Links) -> str:
    head = f"{_q(before.name)} split into {_listing(d['name'] for d in after)}"
    shares = (f"{share_percent(before.share)} \u2192 {' + '.join(share_percent(d['share']) for d in after)}"
              " of customers")
    flows = _flows([before.segment], [d["segment"] for d in after], links)
    if flows is None:
        if abs(before.share - sum(d["share"] for d in after)) < FLOW_MIN_SHARE:
            return f"{head} ({shares})."
        return (f"{head} ({shares}; not its share, as customers also moved to or from other "
                "segments or the table changed).")
    went, came = flows
    parts = [d["share"] * came[d["segment"]][before.segment] for d in after]
    gained = sum(d["share"] for d in after) - sum(parts)
    lost = before.share * (1 - went[before.segment]) >= FLOW_MIN_SHARE
    if gained < FLOW_MIN_SHARE and not lost:
        return f"{head} ({shares})."
    text = f"{head} ({shares}; {' + '.join(share_percent(p) for p in parts)} came from it"
    if gained >= FLOW_MIN_SHARE:
        text += f", {share_percent(gained)} from other segments"
    if lost:
        text += ", and the rest of it went to other segments"
    return text + ")."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _new_text(new: dict, source: tuple[int, float] | None, olds: dict) -> str:
    text = f"{_q(new['name'])} is new ({share_percent(new['share'])} of customers)"
    if source is not None and source[0] in olds and source[1] > 0:
        text += (f"; {share_percent(source[1])} of its returning customers were in "
                 f"{_q(olds[source[0]].name)}")
    return text + "."


def _retired_text(old: GlossaryEntry, source: tuple[int, float] | None, news: dict) -> str:
    text = f"{_q(old.name)} was retired (it had {share_percent(old.share)} of customers)"
    if source is not None and source[0] in news and source[1] > 0:
        text += (f"; {share_percent(source[1])} of its customers are now in "
                 f"{_q(news[source[0]]['name'])}")
    return text + "."


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
        lines.append(f"- **Size:** {e.size:,} customers ({share_percent(e.share)})")
        if e.rules:
            r = e.rules[0]
            rule = r.text.replace("`", "'")
            lines.append(f"- **Rule:** `{rule}` (covers "
                         f"{share_percent(r.recall)} of the segment, {share_percent(r.precision)} of the "
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
        text += (f"; shares moved by {_pct1(max(moves))} at most (a resize is "
                 f"{100 * RESIZE_MIN_POINTS:g} points and {RESIZE_MIN_RATIO:.0%} of the old share)")
    return text + "."


def _share_move(e: GlossaryEntry, notes: list[str]) -> str:
    if e.previous_share is None:
        return ""
    if "split" in notes or "regrouped" in notes:
        # previous_share is the whole old segment's: this part's share is not its successor.
        return f"; {_pct1(e.previous_share)} of customers before, this part {_pct1(e.share)}"
    # One decimal: whole percents could show a move of 2.6 points, below a resize, as 3.
    return f", {_pct1(e.previous_share)} \u2192 {_pct1(e.share)} of customers"


def _pct1(share: float) -> str:
    return f"{100 * share:.1f}%"


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
                                                 csv_text(frame))
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

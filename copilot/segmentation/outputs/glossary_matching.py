"""Matching the previous glossary version's segments to the new ones: by customers in common
when both versions' assignments are known and overlap enough, else by profiles in one
standardised space (see ``glossary``'s module docstring for the rules)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from copilot.segmentation.outputs.glossary_records import Axis, Glossary

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

"""From links between the previous and the new segments to a change list: the groups of linked
segments, the owners and names carried over, every segment's settled name, and each change
(renamed, merged, split, resized, new, retired, regrouped, owner) in a sentence."""

from __future__ import annotations

import re
from collections.abc import Mapping

from copilot.core import percent
from copilot.segmentation.outputs.glossary_matching import _Links
from copilot.segmentation.outputs.glossary_records import (
    Change,
    ChangeKind,
    Glossary,
    GlossaryEntry,
)

#: A segment is "resized" when its share of customers moves by at least this many points ...
RESIZE_MIN_POINTS = 0.03
#: ... and by at least this fraction of its old share. Both, so that a 40% segment moving by 3
#: points (a re-fit's wobble) and a 1% segment doubling to 2% (a handful of customers) are not
#: news, while a 10% segment going to 15% is. Re-fitting one population with another seed
#: moves shares by well under both (see tests/segmentation/test_glossary.py).
RESIZE_MIN_RATIO = 0.2
#: Customers moving in or out of a merge or split are spelled out from half a point of
#: customers: below that the shares printed (whole percents) add up anyway.
FLOW_MIN_SHARE = 0.005
# The engine's name for a segment nobody named; it says the number, so it is never carried.
_PLACEHOLDER = re.compile(r"^segment \d+$")


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
                add("resized", o, n, f"{_q(new['name'])} {verb} from {percent(old.share)} to "
                                     f"{percent(new['share'])} of customers.")
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
                f"({percent(sum(e.share for e in before))} \u2192 "
                f"{percent(sum(d['share'] for d in after))} of customers).")
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
    shares = (f"{' + '.join(percent(e.share) for e in before)} \u2192 "
              f"{percent(after['share'])} of customers")
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
    came_from = [f"{percent(parts[e.segment])} came from {_q(e.name)}" if k == 0
                 else f"{percent(parts[e.segment])} from {_q(e.name)}"
                 for k, e in enumerate(before)]
    if gained >= FLOW_MIN_SHARE:
        came_from.append(f"{percent(gained)} from other segments")
    text = f"{head} ({shares}; {_and(came_from)}"
    if lost:
        text += f", and the rest of {_listing(e.name for e in lost)} went to other segments"
    return text + ")."


def _split_text(before: GlossaryEntry, after: list[dict], links: _Links) -> str:
    head = f"{_q(before.name)} split into {_listing(d['name'] for d in after)}"
    shares = (f"{percent(before.share)} \u2192 {' + '.join(percent(d['share']) for d in after)}"
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
    text = f"{head} ({shares}; {' + '.join(percent(p) for p in parts)} came from it"
    if gained >= FLOW_MIN_SHARE:
        text += f", {percent(gained)} from other segments"
    if lost:
        text += ", and the rest of it went to other segments"
    return text + ")."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _new_text(new: dict, source: tuple[int, float] | None, olds: dict) -> str:
    text = f"{_q(new['name'])} is new ({percent(new['share'])} of customers)"
    if source is not None and source[0] in olds and source[1] > 0:
        text += (f"; {percent(source[1])} of its returning customers were in "
                 f"{_q(olds[source[0]].name)}")
    return text + "."


def _retired_text(old: GlossaryEntry, source: tuple[int, float] | None, news: dict) -> str:
    text = f"{_q(old.name)} was retired (it had {percent(old.share)} of customers)"
    if source is not None and source[0] in news and source[1] > 0:
        text += (f"; {percent(source[1])} of its customers are now in "
                 f"{_q(news[source[0]]['name'])}")
    return text + "."

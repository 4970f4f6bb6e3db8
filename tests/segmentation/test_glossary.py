"""The versioned segment glossary: entries, change detection between versions, files.

The snapshots come from ``fixtures/glossary_cases.py``: planted groups A-E whose geometry is
known (A and B close, C, D, E far), so which segments merge, split or appear is known before
the engine runs; ``test_the_planted_groups_are_recovered`` checks that premise.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import InputError
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.outputs.glossary import (
    MAX_DEFINITION_CHARS,
    MIN_COMMON_FEATURES,
    build_glossary,
    glossary_features,
    one_line,
    unchanged,
)
from copilot.segmentation.outputs.glossary_changes import RESIZE_MIN_POINTS, RESIZE_MIN_RATIO
from copilot.segmentation.outputs.glossary_files import (
    latest_glossary,
    read_glossary,
    read_glossary_assignments,
    write_glossary,
)
from copilot.segmentation.outputs.glossary_records import GLOSSARY_FORMAT_VERSION, OtherTableError
from copilot.segmentation.outputs.glossary_render import no_change_text, render_markdown
from fixtures.glossary_cases import as_another_table, make_snapshot

BASE = {"A": 200, "B": 150, "C": 250, "D": 200}
MODES = ("customers", "profiles")


class Fit:
    """One segmentation of a snapshot: the run, ID -> segment, and planted group -> segment."""

    def __init__(self, counts: dict[str, int], k: int, *, renamed: int = 0,
                 drop: tuple[str, ...] = ()) -> None:
        self.snapshot = make_snapshot(counts)
        frame = as_another_table(self.snapshot.frame, renamed).drop(columns=list(drop))
        self.run = run_segmentation(frame, SegmentSettings(
            k=k, algorithm="kmeans", id_column="customer_id"))
        self.analysis = self.run.analysis
        self.assignments = pd.Series(self.run.labels, index=self.run.ids.astype(str).to_numpy())
        table = pd.crosstab(self.snapshot.groups, self.run.labels)
        self.segment_of = {g: int(table.loc[g].idxmax()) for g in table.index}

    def glossary(self, *, previous=None, previous_fit=None, mode="customers", **kwargs):
        with_customers = mode == "customers" and previous_fit is not None
        kwargs.setdefault("names", {})
        return build_glossary(
            self.analysis, previous=previous,
            previous_assignments=previous_fit.assignments if with_customers else None,
            assignments=self.assignments if with_customers else None, **kwargs)


@pytest.fixture(scope="module")
def fits() -> dict[str, Fit]:
    return {
        "k4": Fit(BASE, 4),
        "k3": Fit(BASE, 3),
        "bigger_c": Fit({**BASE, "C": 500}, 4),
        "slightly_bigger_c": Fit({**BASE, "C": 260}, 4),
        "with_e": Fit({**BASE, "E": 200}, 5),
        "k3_fewer_a": Fit({**BASE, "A": 100}, 3),
    }


def named(fit: Fit) -> dict[int, str]:
    """Names that say which planted groups a segment holds, e.g. {2: 'Group A'}."""
    groups: dict[int, list[str]] = {}
    for g, s in sorted(fit.segment_of.items()):
        groups.setdefault(s, []).append(g)
    return {s: "Group " + "+".join(gs) for s, gs in groups.items()}


def kinds(glossary) -> list[str]:
    return sorted(c.kind for c in glossary.changes)


def test_the_planted_groups_are_recovered(fits):
    # The premise of every change test below: k=4 finds A, B, C, D; k=3 puts A and B together.
    for key in ("k4", "bigger_c", "with_e"):
        fit = fits[key]
        table = pd.crosstab(fit.snapshot.groups, fit.run.labels)
        assert (table.to_numpy() > 0).sum(axis=1).max() == 1, table  # each group in one segment
        assert len(set(fit.segment_of.values())) == len(fit.segment_of)
    k3 = fits["k3"].segment_of
    assert k3["A"] == k3["B"] and len({k3["A"], k3["C"], k3["D"]}) == 3


def test_first_version_describes_each_segment_in_plain_numbers(fits):
    fit = fits["k4"]
    names = named(fit)
    g = fit.glossary(names=names, model_version="m1", owners={fit.segment_of["C"]: "Cy"})
    assert (g.version, g.previous_version, g.changes, g.model_version) == (1, None, (), "m1")
    assert g.customers == 800 and len(g.entries) == 4
    frame, labels = fit.snapshot.frame, fit.run.labels
    for e in g.entries:
        members = labels == e.segment
        assert e.name == names[e.segment]
        assert (e.size, e.share) == (int(members.sum()), members.mean())
        # The churn outcome is the segment's own rate against the table's, as printed.
        churn = next(o for o in e.outcomes if o.name == "churned")
        rate = (frame["churned"] == "Yes").to_numpy()[members].mean()
        assert churn.value == pytest.approx(rate)
        assert churn.overall == pytest.approx((frame["churned"] == "Yes").mean())
        assert churn.phrase.startswith("churned ") and "overall" in churn.phrase
        # Traits are the profile's distinguishing facts, each with its numbers (C, in the middle
        # of the line the groups lie on, is near the overall median on everything: no trait).
        assert all(any(ch.isdigit() for ch in t) for t in e.traits)
        assert e.rules and e.rules[0].text
        # A one-line definition built from the segment's own rule and traits.
        assert e.definition_source == "engine"
        assert "\n" not in e.definition and len(e.definition) <= MAX_DEFINITION_CHARS
        assert e.rules[0].text in e.definition or e.traits[:1][0] in e.definition
        assert e.owner == ("Cy" if e.segment == fit.segment_of["C"] else "")
        assert e.profile  # stored for matching by profiles later
    assert sum(bool(e.traits) for e in g.entries) >= 3  # A, B and D sit at the ends


def test_given_definitions_are_cut_to_their_first_sentence(fits):
    fit = fits["k4"]
    seg = fit.segment_of["A"]
    g = fit.glossary(definitions={seg: "Small, steady accounts.\nThey rarely call support. "
                                  "More text."})
    e = g.entry(seg)
    assert (e.definition, e.definition_source) == ("Small, steady accounts.", "given")
    assert one_line("x " * 300).endswith("…") and len(one_line("x " * 300)) <= MAX_DEFINITION_CHARS


@pytest.mark.parametrize("mode", MODES)
def test_a_rename_is_the_only_change_and_owners_stay(fits, mode):
    fit = fits["k4"]
    names = named(fit)
    a = fit.segment_of["A"]
    v1 = fit.glossary(names=names, owners={a: "Ann"})
    v2 = fit.glossary(names={**names, a: "Steady Savers"}, previous=v1, previous_fit=fit,
                      mode=mode)
    assert v2.version == 2 and v2.previous_version == 1 and v2.matched_by == mode
    assert [(c.kind, c.before, c.after, c.before_names, c.after_names) for c in v2.changes] == [
        ("renamed", (a,), (a,), (names[a],), ("Steady Savers",))]
    assert v2.entry(a).owner == "Ann"
    assert all(e.previous_segments == (e.segment,) for e in v2.entries)
    assert not unchanged(v2, v1)
    assert unchanged(fit.glossary(names=names, owners={a: "Ann"}, previous=v1,
                                  previous_fit=fit, mode=mode).model_copy(
        update={"version": 1}), v1)


@pytest.mark.parametrize("mode", MODES)
def test_k_minus_one_merges_the_two_close_groups(fits, mode):
    k4, k3 = fits["k4"], fits["k3"]
    a, b, c = k4.segment_of["A"], k4.segment_of["B"], k4.segment_of["C"]
    v1 = k4.glossary(names=named(k4), owners={a: "Ann", c: "Cy"})
    v2 = k3.glossary(previous=v1, previous_fit=k4, mode=mode)
    assert v2.matched_by == mode
    assert kinds(v2) == ["merged"]
    merged = v2.changes[0]
    ab = k3.segment_of["A"]
    assert merged.before == tuple(sorted((a, b))) and merged.after == (ab,)
    assert merged.before_share == pytest.approx(350 / 800)
    assert merged.after_share == pytest.approx(350 / 800)
    # Owners follow the customers: the merged segment takes A's (B had none), C keeps Cy's.
    assert v2.entry(ab).owner == "Ann"
    assert v2.entry(k3.segment_of["C"]).owner == "Cy"
    assert v2.entry(k3.segment_of["D"]).owner == ""
    # Names follow too: C and D continue one to one, the merged segment has no name yet.
    assert v2.entry(k3.segment_of["C"]).name == "Group C"
    assert v2.entry(ab).name == f"Segment {ab}"
    assert v2.entry(ab).previous_segments == tuple(sorted((a, b)))


@pytest.mark.parametrize("mode", MODES)
def test_k_plus_one_splits_the_merged_segment(fits, mode):
    k4, k3 = fits["k4"], fits["k3"]
    ab = k3.segment_of["A"]
    v1 = k3.glossary(names=named(k3), owners={ab: "Ann"})
    v2 = k4.glossary(previous=v1, previous_fit=k3, mode=mode)
    assert kinds(v2) == ["split"]
    split = v2.changes[0]
    a, b = k4.segment_of["A"], k4.segment_of["B"]
    assert split.before == (ab,) and split.after == tuple(sorted((a, b)))
    assert split.before_names == ("Group A+B",)
    # Both parts keep the owner of the segment they came from ...
    assert v2.entry(a).owner == v2.entry(b).owner == "Ann"
    # ... but only the main part (A: 200 of its 350 customers) keeps its name; B's part is
    # called by its own number, so the change list names two different segments.
    assert (v2.entry(a).name, v2.entry(b).name) == ("Group A+B", f"Segment {b}")
    assert len(set(split.after_names)) == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_segment_that_grew_is_resized(fits, mode):
    k4, bigger = fits["k4"], fits["bigger_c"]
    v1 = k4.glossary(names=named(k4))
    v2 = bigger.glossary(previous=v1, previous_fit=k4, mode=mode)
    c_old, c_new = k4.segment_of["C"], bigger.segment_of["C"]
    resized = {c.after[0]: c for c in v2.changes if c.kind == "resized"}
    assert set(kinds(v2)) == {"resized"}
    change = resized[c_new]
    assert change.before == (c_old,)
    assert (change.before_share, change.after_share) == (pytest.approx(250 / 800),
                                                         pytest.approx(500 / 1050))
    assert "Group C" in change.text and "grew" in change.text
    # Every other group lost at least 4 points and a fifth of its share, and says so.
    for g in "ABD":
        assert "shrank" in resized[bigger.segment_of[g]].text
    assert v2.entry(c_new).name == "Group C"  # the name carried over


@pytest.mark.parametrize("mode", MODES)
def test_a_small_share_change_is_not_news(fits, mode):
    k4, slightly = fits["k4"], fits["slightly_bigger_c"]
    v2 = slightly.glossary(previous=k4.glossary(names=named(k4)), previous_fit=k4, mode=mode)
    assert v2.changes == ()  # C went from 31.3% to 32.1%
    # Still, the page shows each segment's shares before and now, and how far they moved.
    c = slightly.segment_of["C"]
    assert v2.entry(c).previous_share == pytest.approx(250 / 800)
    md = render_markdown(v2)
    assert (f"segment {k4.segment_of['C']} (unchanged, {100 * 250 / 800:.1f}% \u2192 "
            f"{100 * 260 / 810:.1f}% of customers)") in md
    biggest = max(abs(250 / 800 - 260 / 810), 200 / 800 - 200 / 810, 150 / 800 - 150 / 810)
    assert f"shares moved by {100 * biggest:.1f}% at most" in no_change_text(v2)
    assert f"- {no_change_text(v2)}" in md


def test_the_resize_threshold_is_a_share_change_in_points(fits):
    k4 = fits["k4"]
    v1 = k4.glossary(names=named(k4))
    a = k4.segment_of["A"]

    def with_old_share(delta):
        entries = tuple(e.model_copy(update={"share": e.share + delta}) if e.segment == a else e
                        for e in v1.entries)
        previous = v1.model_copy(update={"entries": entries})
        return kinds(k4.glossary(names=named(k4), previous=previous, previous_fit=k4))

    # A holds 25%: it grew from 25% - 2.7 points (too few points) or from 25% - 6 points.
    assert with_old_share(-RESIZE_MIN_POINTS * 0.9) == []
    assert with_old_share(-RESIZE_MIN_POINTS * 2) == ["resized"]
    # Shrinking from 31% to 25% is 6 points but under a fifth of the old share: not news.
    assert RESIZE_MIN_POINTS * 2 < RESIZE_MIN_RATIO * (0.25 + RESIZE_MIN_POINTS * 2)
    assert with_old_share(RESIZE_MIN_POINTS * 2) == []
    assert with_old_share(RESIZE_MIN_POINTS * 4) == ["resized"]


@pytest.mark.parametrize("mode", MODES)
def test_a_new_group_is_new_and_then_retired(fits, mode):
    k4, with_e = fits["k4"], fits["with_e"]
    e_seg = with_e.segment_of["E"]
    v1 = k4.glossary(names=named(k4))
    v2 = with_e.glossary(previous=v1, previous_fit=k4, mode=mode)
    new = [c for c in v2.changes if c.kind == "new"]
    assert [(c.before, c.after) for c in new] == [((), (e_seg,))]
    assert set(kinds(v2)) <= {"new", "resized"}  # the others' shares fell from 1/4 to 1/5
    assert v2.entry(e_seg).previous_segments == () and v2.entry(e_seg).owner == ""

    v2 = with_e.glossary(names={**named(with_e)}, owners={e_seg: "Eve"})
    v3 = k4.glossary(previous=v2, previous_fit=with_e, mode=mode)
    retired = [c for c in v3.changes if c.kind == "retired"]
    assert [(c.before, c.after, c.before_names) for c in retired] == [((e_seg,), (), ("Group E",))]


def test_few_customers_in_common_falls_back_to_profiles(fits):
    k4, k3 = fits["k4"], fits["k3"]
    v1 = k4.glossary(names=named(k4))
    strangers = pd.Series(k3.assignments.to_numpy(), index=[f"X{i}" for i in range(800)])
    v2 = build_glossary(k3.analysis, names={}, previous=v1,
                        previous_assignments=k4.assignments, assignments=strangers)
    assert v2.matched_by == "profiles" and kinds(v2) == ["merged"]


def test_write_then_read_keeps_every_version(fits, tmp_path):
    k4, k3 = fits["k4"], fits["k3"]
    v1 = k4.glossary(names=named(k4), owners={k4.segment_of["A"]: "Ann"})
    paths = write_glossary(v1, tmp_path, assignments=k4.assignments)
    assert {p.name for p in paths.values()} == {"glossary.json", "glossary.md",
                                                 "glossary-v1.json",
                                                 "glossary-v1-assignments.csv"}
    back = read_glossary(tmp_path)
    assert back == v1.model_copy(update={"assignments_file": "glossary-v1-assignments.csv"})
    saved = read_glossary_assignments(tmp_path, back)
    assert saved.sort_index().equals(
        k4.assignments.astype(int).sort_index().rename(None))

    v2 = k3.glossary(previous=latest_glossary(tmp_path), previous_fit=k4)
    write_glossary(v2, tmp_path)
    assert read_glossary(tmp_path).version == 2
    assert read_glossary(tmp_path / "glossary-v1.json").version == 1
    md = (tmp_path / "glossary.md").read_text()
    assert "# Segment glossary, version 2" in md
    assert "What changed since version 1" in md and v2.changes[0].text in md
    assert "_to assign_" in md and "**Owner:** Ann" in md
    # A deleted current file does not restart the numbering.
    (tmp_path / "glossary.json").unlink()
    assert latest_glossary(tmp_path).version == 2


def test_a_history_file_of_another_glossary_is_never_overwritten(fits, tmp_path):
    k4 = fits["k4"]
    write_glossary(k4.glossary(names=named(k4), created_at="2025-01-01T00:00:00+00:00"), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    other = k4.glossary(names={}, created_at="2025-02-02T00:00:00+00:00")
    with pytest.raises(InputError, match="glossary-v1.json already exists"):
        write_glossary(other, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("content, words", [
    ("{not json", "corrupt"),
    (json.dumps({"format": "something-else"}), "not a segment-copilot glossary"),
    (json.dumps({"format": "segment-copilot-glossary",
                 "format_version": GLOSSARY_FORMAT_VERSION + 1}), "newer"),
    (json.dumps({"format": "segment-copilot-glossary", "format_version": 1,
                 "version": "two"}), "damaged"),
])
def test_a_bad_glossary_file_is_one_sentence(tmp_path, content, words):
    (tmp_path / "glossary.json").write_text(content)
    with pytest.raises(InputError) as err:
        read_glossary(tmp_path)
    text = str(err.value)
    assert words in text and text.endswith(".") and "\n" not in text


def test_a_missing_glossary_is_one_sentence_and_an_empty_folder_has_none(tmp_path):
    with pytest.raises(InputError, match="There is no saved glossary"):
        read_glossary(tmp_path)
    assert latest_glossary(tmp_path) is None


def test_markdown_keeps_user_text_from_breaking_the_page(fits):
    fit = fits["k4"]
    seg = fit.segment_of["A"]
    g = fit.glossary(names={seg: "A | B <script>"}, owners={seg: "Ann"})
    md = render_markdown(g)
    assert "<script>" not in md and "A \\| B &lt;script>" in md
    assert np.all([line.startswith(("#", ">", "-", "")) for line in md.splitlines()])


# --------------------------------------------------------------------------------------------
# Names stay unique


def all_unique(glossary) -> bool:
    keys = [" ".join(e.name.lower().split()) for e in glossary.entries]
    return len(set(keys)) == len(keys)


@pytest.mark.parametrize("mode", MODES)
def test_a_segment_numbered_differently_before_takes_its_own_number(fits, mode):
    # Version 1 numbered its segments otherwise (as another fit's label order would) and
    # nobody named them: C's old placeholder is the number the merged A+B segment has now.
    k4, k3 = fits["k4"], fits["k3"]
    ab, c3 = k3.segment_of["A"], k3.segment_of["C"]
    numbers = iter(n for n in range(4) if n != ab)
    old_number = {g: ab if g == "C" else next(numbers) for g in "ABCD"}
    v1 = k4.glossary(names={k4.segment_of[g]: f"Segment {n}" for g, n in old_number.items()})
    v2 = k3.glossary(previous=v1, previous_fit=k4, mode=mode)
    # A placeholder is a number, not a name: every segment is called by its own number.
    assert {e.segment: e.name for e in v2.entries} == {s: f"Segment {s}" for s in range(3)}
    renamed = {c.after: c for c in v2.changes if c.kind == "renamed"}
    assert renamed[(c3,)].text == (f"\u201cSegment {ab}\u201d is now segment {c3}, so it is "
                                   f"called \u201cSegment {c3}\u201d.")
    merged = next(c for c in v2.changes if c.kind == "merged")
    assert merged.after_names == (f"Segment {ab}",)


@pytest.mark.parametrize("mode", MODES)
def test_a_name_given_to_another_segment_is_not_carried_too(fits, mode):
    k4 = fits["k4"]
    c, d = k4.segment_of["C"], k4.segment_of["D"]
    v1 = k4.glossary(names=named(k4))
    # The new version's writer calls D's segment what C's used to be called.
    v2 = k4.glossary(names={d: "group c"}, previous=v1, previous_fit=k4, mode=mode)
    assert all_unique(v2)
    assert (v2.entry(d).name, v2.entry(c).name) == ("group c", f"Segment {c}")
    assert sorted((ch.before_names, ch.after_names) for ch in v2.changes) == sorted([
        (("Group C",), (f"Segment {c}",)), (("Group D",), ("group c",))])


def test_duplicate_names_are_made_unique(fits):
    k4 = fits["k4"]
    a, b, c, d = sorted(k4.segment_of[g] for g in "ABCD")
    # Given twice (the lower number keeps it), and a given name that is another's number.
    g = k4.glossary(names={a: "Loyal", b: " loyal ", c: f"Segment {d}"})
    assert [g.entry(s).name for s in (a, b, c, d)] == [
        "Loyal", f"Segment {b}", f"Segment {d}", f"Segment {d} (2)"]
    # A glossary written before names were kept unique may hold one name twice: it is
    # carried to one segment only.
    v1 = k4.glossary(names={a: "Twice", b: "Twice"})
    assert [v1.entry(s).name for s in (a, b)] == ["Twice", f"Segment {b}"]
    legacy = v1.model_copy(update={"entries": tuple(
        e.model_copy(update={"name": "Twice"}) if e.segment == b else e for e in v1.entries)})
    v2 = k4.glossary(previous=legacy, previous_fit=k4)
    assert all_unique(v2) and [v2.entry(s).name for s in (a, b)] == ["Twice", f"Segment {b}"]


# --------------------------------------------------------------------------------------------
# Shares in merges and splits


def moved(fit: Fit, glossary, n: int, group: str, into: str):
    """A previous version that had put ``n`` customers of planted ``group`` in the segment of
    ``into``: its assignments and its entries' sizes and shares say so."""
    assignments = fit.assignments.copy()
    members = assignments.index[fit.snapshot.groups == group][:n]
    assignments.loc[members] = fit.segment_of[into]
    counts = assignments.value_counts()
    entries = tuple(e.model_copy(update={"size": int(counts[e.segment]),
                                         "share": counts[e.segment] / len(assignments)})
                    for e in glossary.entries)
    return glossary.model_copy(update={"entries": entries}), assignments


def test_a_merge_that_lost_customers_says_where_its_share_came_from(fits):
    k4, k3 = fits["k4"], fits["k3"]
    # Version 1 had 30 of C's customers in A's segment (230 of 800): they return to C.
    previous, before = moved(k4, k4.glossary(names=named(k4)), 30, "C", "A")
    v2 = build_glossary(k3.analysis, names={}, previous=previous, previous_assignments=before,
                        assignments=k3.assignments)
    assert kinds(v2) == ["merged"]  # C: 27.5% -> 31.3%, under a fifth: not resized
    ab = k3.segment_of["A"]
    # 350 of 800 now: 200 from A (25%) and 150 from B (19%); A's other 30 went to C.
    assert v2.changes[0].text == (
        f"\u201cGroup A\u201d and \u201cGroup B\u201d merged into \u201cSegment {ab}\u201d "
        "(29% + 19% \u2192 44% of customers; 25% came from \u201cGroup A\u201d and 19% from "
        "\u201cGroup B\u201d, and the rest of \u201cGroup A\u201d went to other segments).")


def test_a_merge_that_gained_customers_says_so(fits):
    k4, k3 = fits["k4"], fits["k3"]
    # Version 1 had 40 of A's customers in C's segment: they join A and B now.
    previous, before = moved(k4, k4.glossary(names=named(k4)), 40, "A", "C")
    v2 = build_glossary(k3.analysis, names={}, previous=previous, previous_assignments=before,
                        assignments=k3.assignments)
    assert kinds(v2) == ["merged"]
    ab = k3.segment_of["A"]
    assert v2.changes[0].text == (
        f"\u201cGroup A\u201d and \u201cGroup B\u201d merged into \u201cSegment {ab}\u201d "
        "(20% + 19% \u2192 44% of customers; 20% came from \u201cGroup A\u201d, 19% from "
        "\u201cGroup B\u201d and 5.0% from other segments).")


def test_a_split_that_lost_customers_says_so(fits):
    k3, k4 = fits["k3"], fits["k4"]
    # Version 1 had 40 of C's customers in the A+B segment (390 of 800).
    previous, before = moved(k3, k3.glossary(names=named(k3)), 40, "C", "A")
    v2 = build_glossary(k4.analysis, names={}, previous=previous, previous_assignments=before,
                        assignments=k4.assignments)
    assert kinds(v2) == ["split"]
    a, b = k4.segment_of["A"], k4.segment_of["B"]
    parts = sorted([(a, "Group A+B", "25%"), (b, f"Segment {b}", "19%")])
    assert v2.changes[0].text == (
        f"\u201cGroup A+B\u201d split into \u201c{parts[0][1]}\u201d and "
        f"\u201c{parts[1][1]}\u201d (49% \u2192 {parts[0][2]} + {parts[1][2]} of customers; "
        f"{parts[0][2]} + {parts[1][2]} came from it, and the rest of it went to other "
        "segments).")


def test_shares_that_add_up_stay_short_and_profiles_say_when_they_do_not(fits):
    k4, k3, fewer_a = fits["k4"], fits["k3"], fits["k3_fewer_a"]
    v1 = k4.glossary(names=named(k4))
    for mode in MODES:  # the same customers: 25% + 19% are the 44%
        text = k3.glossary(previous=v1, previous_fit=k4, mode=mode).changes[0].text
        assert text.endswith("(25% + 19% \u2192 44% of customers).")
    # 100 fewer A customers, and no IDs to follow: the shares differ, and the line says why.
    assert fewer_a.segment_of["A"] == fewer_a.segment_of["B"]
    v2 = fewer_a.glossary(previous=v1, mode="profiles")
    assert kinds(v2) == ["merged"]
    assert v2.changes[0].text.endswith(
        "(25% + 19% \u2192 36% of customers; not their sum, as customers also moved to or "
        "from other segments or the table changed).")


# --------------------------------------------------------------------------------------------
# Owners


@pytest.mark.parametrize("mode", MODES)
def test_an_owner_change_alone_is_a_change(fits, mode):
    k4 = fits["k4"]
    names = named(k4)
    a, c = k4.segment_of["A"], k4.segment_of["C"]
    v1 = k4.glossary(names=names, owners={a: "Ann"})
    v2 = k4.glossary(names=names, owners={a: "Bob", c: "Cy"}, previous=v1, previous_fit=k4,
                     mode=mode)
    assert not unchanged(v2, v1)
    assert sorted((ch.kind, ch.after, ch.text) for ch in v2.changes) == sorted([
        ("owner", (a,), "\u201cGroup A\u201d is now owned by Bob (was Ann)."),
        ("owner", (c,), "\u201cGroup C\u201d is now owned by Cy (it had none).")])
    # Giving the owner it would keep anyway is no change.
    v3 = k4.glossary(names=names, owners={a: "Bob"}, previous=v2, previous_fit=k4, mode=mode)
    assert v3.changes == () and v3.entry(c).owner == "Cy"
    md = render_markdown(v2)
    assert "is now owned by Bob (was Ann)." in md.split("## Group")[0]
    assert f"- **In version 1:** segment {a} (owner, 25.0% \u2192 25.0% of customers)" in md


def test_an_owner_given_to_a_merged_segment_is_listed_after_the_merge(fits):
    k4, k3 = fits["k4"], fits["k3"]
    a = k4.segment_of["A"]
    v1 = k4.glossary(names=named(k4), owners={a: "Ann"})
    ab = k3.segment_of["A"]
    v2 = k3.glossary(owners={ab: "Ann"}, previous=v1, previous_fit=k4)
    assert kinds(v2) == ["merged"]  # Ann would keep it anyway (A's owner)
    v2 = k3.glossary(owners={ab: "Zoe"}, previous=v1, previous_fit=k4)
    assert [ch.kind for ch in v2.changes] == ["merged", "owner"]
    assert v2.changes[1].before == tuple(sorted((a, k4.segment_of["B"])))
    assert v2.changes[1].text.endswith("is now owned by Zoe (was Ann).")


# --------------------------------------------------------------------------------------------
# Another table


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("legacy", [False, True])
def test_a_glossary_of_another_table_is_refused(fits, mode, legacy):
    k4 = fits["k4"]
    v1 = k4.glossary(names=named(k4))
    if legacy:  # format 1 stored no features: they are read from the axes
        v1 = v1.model_copy(update={"features": ()})
    assert sorted(glossary_features(v1)) == sorted(
        ["monthly_spend", "sessions_30d", "seats", "tenure_months"])
    # The same customer IDs, three of the four columns unknown to version 1.
    other = Fit(BASE, 4, renamed=3)
    with pytest.raises(OtherTableError) as err:
        other.glossary(previous=v1, previous_fit=k4, mode=mode)
    text = str(err.value)
    assert text.startswith("The previous glossary describes segments of another table")
    assert "1 in common" in err.value.detail and "other_1" in err.value.detail
    assert text.endswith(".") and text.count(". ") == 0
    assert isinstance(err.value, InputError)


def test_a_re_segmentation_with_half_the_features_or_a_subset_continues(fits):
    k4 = fits["k4"]
    v1 = k4.glossary(names=named(k4))
    # Two of four columns in common is half: the same table re-described, not another one.
    assert 2 >= MIN_COMMON_FEATURES * 4
    half = Fit(BASE, 4, renamed=2).glossary(previous=v1, previous_fit=k4)
    assert half.version == 2 and half.features[:2] == ("other_1", "other_2")
    # A subset of the features (two dropped) is the same table too.
    fewer = Fit(BASE, 4, drop=("seats", "tenure_months"))
    v2 = fewer.glossary(previous=v1, previous_fit=k4)
    assert v2.version == 2 and v2.features == ("monthly_spend", "sessions_30d")
    assert {e.name for e in v2.entries} == set(named(k4).values())  # still matched one to one

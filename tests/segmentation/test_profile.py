"""profile_segments on synthetic data with planted differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from copilot.core.numbers import number, number_pair, percent
from copilot.segmentation.analysis.profile import profile_segments
from copilot.segmentation.analysis.roles import ColumnRole, RoleReport


def _role(name: str, role: str) -> ColumnRole:
    return ColumnRole(
        name=name, dtype="x", role=role, reason="test", n_unique=3, missing_share=0.0
    )


def _roles(**cols: str) -> RoleReport:
    columns = tuple(_role(n, r) for n, r in cols.items())
    return RoleReport(columns=columns, id_column=None, outcomes=(), features=tuple(cols))


ROLES = _roles(
    seats="numeric", usage="numeric", plan="categorical", active="boolean", last_seen="datetime"
)


def _planted(n=6000, seed=0):
    """Segment 1: many seats. Segment 2: plan 'Enterprise' 80% (5% elsewhere), mostly inactive."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    seats = np.where(labels == 1, rng.normal(60, 5, n), rng.normal(10, 3, n))
    usage = rng.gamma(2.0, 10.0, n)  # the same everywhere
    enterprise = rng.random(n) < np.where(labels == 2, 0.8, 0.05)
    plan = np.where(enterprise, "Enterprise", rng.choice(["Basic", "Pro"], n))
    active = rng.random(n) < np.where(labels == 2, 0.1, 0.6)
    latest = pd.Timestamp("2024-06-30")
    days = rng.integers(0, 60, n)
    days[labels == 0] += 300  # segment 0 was last seen long ago
    last_seen = latest - pd.to_timedelta(days, unit="D")
    df = pd.DataFrame(
        {"seats": seats, "usage": usage, "plan": plan, "active": active, "last_seen": last_seen}
    )
    return df, labels


def _feature(profile, name):
    return next(f for f in profile.features if f.name == name)


def test_planted_high_seats_is_the_top_feature_and_higher():
    df, labels = _planted()
    profiles = profile_segments(df, labels, ROLES)
    assert [p.segment for p in profiles] == [0, 1, 2]
    top = profiles[1].top_features[0]
    assert top.name == "seats" and top.kind == "numeric" and top.z > 1
    seg_med, all_med = number_pair(df.seats[labels == 1].median(), df.seats.median())
    assert top.phrase == f"higher seats (median {seg_med} vs {all_med} overall)"
    assert top.phrase == "higher seats (median 59.9 vs 11.7 overall)"
    seats = _feature(profiles[1], "seats")
    assert seats.direction == "higher"
    assert seats.segment_mean == pytest.approx(df.seats[labels == 1].mean())
    assert seats.segment_median == pytest.approx(df.seats[labels == 1].median())
    assert seats.overall_mean == pytest.approx(df.seats.mean())
    assert seats.overall_median == pytest.approx(df.seats.median())
    assert seats.lift == pytest.approx(seats.segment_mean / df.seats.mean())
    assert seats.z == pytest.approx((seats.segment_mean - df.seats.mean()) / df.seats.std())
    assert _feature(profiles[0], "seats").direction == "lower"
    # usage is identically distributed: similar everywhere and never a top feature
    for p in profiles:
        assert _feature(p, "usage").direction == "similar"
        assert "usage" not in {t.name for t in p.top_features}


def test_category_planted_at_80_percent_is_listed():
    df, labels = _planted()
    profiles = profile_segments(df, labels, ROLES)
    cats = profiles[2].categories
    ent = next(c for c in cats if c.name == "plan" and c.level == "Enterprise")
    expected = (df.plan[labels == 2] == "Enterprise").mean()
    assert ent.segment_share == pytest.approx(expected)
    assert ent.segment_share > 0.7
    assert ent.overall_share == pytest.approx((df.plan == "Enterprise").mean())
    assert ent.lift == pytest.approx(ent.segment_share / ent.overall_share)
    assert ent.lift >= 1.5
    phrases = [t.phrase for t in profiles[2].top_features]
    assert any(p.startswith("plan = Enterprise 8") and p.endswith("overall") for p in phrases)
    # Under-represented elsewhere: not listed for segments 0 and 1.
    for p in profiles[:2]:
        assert all(c.level != "Enterprise" for c in p.categories)
        for c in p.categories:
            assert c.lift >= 1.5 and c.segment_share >= 0.10


def test_boolean_is_share_true_and_datetime_is_days_before_latest():
    df, labels = _planted()
    profiles = profile_segments(df, labels, ROLES)
    active = _feature(profiles[2], "active")
    assert active.kind == "boolean"
    assert active.segment_mean == pytest.approx(df.active[labels == 2].mean())
    assert active.overall_mean == pytest.approx(df.active.mean())
    assert active.direction == "lower"
    seen = _feature(profiles[0], "last_seen")
    days = (df.last_seen.max() - df.last_seen).dt.days
    assert seen.kind == "datetime"
    assert seen.segment_mean == pytest.approx(days[labels == 0].mean())
    assert seen.direction == "higher"
    phrase = next(t.phrase for t in profiles[0].top_features if t.name == "last_seen")
    assert phrase.startswith("earlier last_seen (median ") and "days before the latest" in phrase
    phrase = next(t.phrase for t in profiles[2].top_features if t.name == "active")
    assert phrase.startswith("active = true ")


def test_yes_no_boolean_strings_and_named_two_valued_levels():
    df, labels = _planted()
    df["active"] = np.where(df.active, "Yes", "No")
    df["gender"] = np.where(labels == 1, "Male", "Female")
    roles = _roles(active="boolean", gender="boolean")
    profiles = profile_segments(df, labels, roles)
    active = _feature(profiles[2], "active")
    assert active.segment_mean == pytest.approx((df.active[labels == 2] == "Yes").mean())
    gender = _feature(profiles[1], "gender")
    assert gender.segment_mean == 1.0
    assert any(t.phrase.startswith("gender = Male 100%") for t in profiles[1].top_features)


def test_missing_values_are_ignored_and_all_missing_feature_is_skipped():
    df, labels = _planted()
    df.loc[df.index[::4], "seats"] = np.nan
    df["empty"] = np.nan
    df["empty_cat"] = pd.Series([None] * len(df), dtype="str")
    roles = _roles(seats="numeric", empty="numeric", empty_cat="categorical")
    profiles = profile_segments(df, labels, roles)
    for p in profiles:
        assert [f.name for f in p.features] == ["seats"]
        assert p.categories == ()
        seats = _feature(p, "seats")
        mask = labels == p.segment
        assert seats.n == int(df.seats[mask].notna().sum())
        assert seats.segment_mean == pytest.approx(df.seats[mask].mean())


def test_lift_is_none_when_the_overall_mean_is_zero():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 500)
    x = np.concatenate([np.full(500, -1.0), np.full(500, 1.0)])
    df = pd.DataFrame({"x": x, "y": rng.normal(size=1000)})
    profiles = profile_segments(df, labels, _roles(x="numeric", y="numeric"))
    assert _feature(profiles[0], "x").lift is None
    assert _feature(profiles[0], "x").direction == "lower"
    # segment 0 of x: every value -1 vs overall median 0
    assert profiles[0].top_features[0].phrase == "lower x (median -1 vs 0 overall)"


def test_unassigned_rows_get_their_own_profile_last_and_sizes_add_up():
    df, labels = _planted()
    labels = labels.copy()
    labels[:300] = -1
    profiles = profile_segments(df, labels, ROLES)
    assert [p.segment for p in profiles] == [0, 1, 2, -1]
    assert profiles[-1].size == 300
    assert sum(p.size for p in profiles) == len(df)
    assert sum(p.share for p in profiles) == pytest.approx(1.0)


def test_one_segment_has_nothing_distinguishing():
    df, _ = _planted()
    profiles = profile_segments(df, np.zeros(len(df), dtype=int), ROLES)
    assert len(profiles) == 1 and profiles[0].share == 1.0
    assert profiles[0].top_features == () and profiles[0].categories == ()
    for f in profiles[0].features:
        assert f.direction == "similar" and f.z == pytest.approx(0.0, abs=1e-9)


def test_top_n_limits_and_ranks_by_absolute_z():
    df, labels = _planted()
    profiles = profile_segments(df, labels, ROLES, top_n=2)
    for p in profiles:
        assert len(p.top_features) <= 2
    full = profile_segments(df, labels, ROLES, top_n=10)
    for p in full:
        zs = [abs(t.z) for t in p.top_features]
        assert zs == sorted(zs, reverse=True)
        assert all(z >= 0.2 for z in zs)


def test_results_are_plain_python_numbers_and_deterministic():
    df, labels = _planted()
    a = profile_segments(df, labels, ROLES)
    assert a == profile_segments(df, labels, ROLES)
    f = a[0].features[0]
    assert type(f.segment_mean) is float and type(f.n) is int and type(a[0].size) is int
    assert isinstance(a[0].features, tuple) and isinstance(a[0].top_features, tuple)


def test_number_formatting():
    assert number(89.94) == "89.9"
    assert number(70.4) == "70.4"
    assert number(1234567) == "1,230,000"
    assert number(0.000123456) == "0.000123"
    assert number(20.0) == "20"
    assert number_pair(-0.000194, 3.012) == ("0", "3.01")
    assert number_pair(12345.0, 678.0) == ("12,300", "700")
    assert percent(0.88) == "88%" and percent(0.005) == "0.5%" and percent(0.0) == "0%"


def test_labels_must_line_up_with_rows():
    df, labels = _planted()
    with pytest.raises(ValueError):
        profile_segments(df, labels[:-1], ROLES)

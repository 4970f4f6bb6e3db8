"""Firmographic anchors: found by name and shape, tested against segments, and used to segment
within each level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import ColumnError, SettingsError
from copilot.segmentation.analysis.anchors import (
    MISSING_LEVEL,
    POOLED_LEVEL,
    anchor_levels,
    anchor_lines,
    anchors_per_segment,
    suggest_anchors,
)
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.analysis.roles import infer_roles
from copilot.segmentation.analysis.within import segment_within_anchors
from fixtures.feedback import INDUSTRIES, make_feedback
from tests.conftest import shared_dataset


@pytest.fixture(scope="module")
def table():
    return make_feedback(1500, 4, seed=3, rare_share=0.03)


@pytest.fixture(scope="module")
def report(table):
    return anchors_per_segment(table.frame, table.labels, ["industry", "company_size", "region"])


def _one_sentence(err: Exception) -> str:
    text = str(err)
    assert text.endswith(".") and "\n" not in text and text.count(". ") == 0, text
    return text


# --------------------------------------------------------------------------------- per segment


def test_planted_industry_association_is_detected_with_the_right_lift(table, report):
    industry = report.anchors[0]
    assert industry.column == "industry" and industry.kind == "industry"
    assert industry.significant and industry.p_value < 1e-6
    assert industry.magnitude in ("medium", "large")
    # The fixture gives a row its segment's industry with probability 0.6, else one of the five
    # at random, then relabels 3% of all rows Nonprofit: (0.6 + 0.4 / 5) * 0.97 = 0.66.
    expected_share = (0.6 + 0.4 / len(INDUSTRIES)) * 0.97
    for seg in industry.segments:
        dominant = table.dominant_industry[seg.segment]
        row = next(r for r in seg.levels if r.level == dominant)
        assert row.segment_share == pytest.approx(expected_share, abs=0.08)
        observed_overall = float((table.frame["industry"] == dominant).mean())
        assert row.overall_share == pytest.approx(observed_overall)
        assert row.lift == pytest.approx(row.segment_share / row.overall_share)
        assert row.lift > 1.5
        assert seg.over_represented[0] == dominant
    assert "is over-represented in Segment" in industry.summary


def test_an_independent_anchor_is_not_significant(report):
    region = report.anchors[2]
    assert region.kind == "region"
    assert not region.significant and region.p_value >= 0.05
    assert region.cramers_v < 0.1
    assert "spread alike" in region.summary
    assert all(seg.over_represented == () for seg in region.segments)


def test_shares_add_up(table, report):
    for a in report.anchors:
        assert sum(a.overall_shares) == pytest.approx(1.0)
        assert sum(seg.n for seg in a.segments) == len(table.frame)
        for seg in a.segments:
            assert sum(r.segment_share for r in seg.levels) == pytest.approx(1.0)
            assert sum(r.n for r in seg.levels) == seg.n
    size = report.anchors[1]
    assert size.kind == "company_size" and size.dof == (4 - 1) * (5 - 1)


def test_unassigned_rows_and_missing_values(table):
    df = table.frame.copy()
    df.loc[df.index[:40], "region"] = np.nan
    labels = table.labels.copy()
    labels[-30:] = -1
    (region,) = anchors_per_segment(df, labels, ["region"]).anchors
    assert region.levels[-1] == MISSING_LEVEL
    assert region.segments[-1].segment == -1
    assert region.n == len(df) - 30  # the test uses assigned rows only


def test_untestable_anchors_say_why(table):
    df = table.frame.assign(country="France")
    one = anchors_per_segment(df, np.zeros(len(df), int), ["industry", "country"])
    assert one.anchors[0].p_value is None and "only one segment" in one.anchors[0].summary
    const = anchors_per_segment(df, table.labels, ["country"]).anchors[0]
    assert const.p_value is None and "'France' for every segmented row" in const.summary


def test_anchor_lines_list_over_represented_levels(report):
    lines = anchor_lines(report, {0: "Big spenders"})
    assert lines[0] == report.anchors[0].summary
    assert any(line.startswith("  Big spenders: industry ") for line in lines)
    # The independent region gets its summary line and nothing per segment.
    region_at = lines.index(report.anchors[2].summary)
    assert region_at == len(lines) - 1


def test_default_anchor_columns_come_from_suggestions(table):
    auto = anchors_per_segment(table.frame, table.labels)
    assert [a.column for a in auto.anchors] == ["industry", "company_size", "region"]


# ---------------------------------------------------------------------------------- suggestion


def _unseen_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    return pd.DataFrame({
        "customer_id": [f"K{i}" for i in range(n)],
        "Sector": rng.choice(["Retail", "Banking", "Energy"], n),
        "employee_band": rng.choice(["1-10", "11-50", "51-200", "201-1000", "1000+"], n),
        "Market": rng.choice(["DACH", "Nordics", "UK&I", "Benelux"], n),
        "HQ Country": rng.choice(["DE", "FR", "US", "JP", "BR"], n),
        "Region": rng.integers(1, 4, n),  # coded 1/2/3
        "customer_segment": rng.choice(["SMB", "Mid-Market", "Enterprise"], n),
        "EmployeeCount": rng.integers(1, 20_000, n),  # a raw headcount
        "revenue": rng.lognormal(8, 1, n),
        "market_cap": rng.lognormal(12, 2, n),
        "account_state": rng.choice(["active", "inactive", "suspended"], n),
        "plan_tier": rng.choice(["Basic", "Pro", "Max"], n),
        # 51 levels in 300 rows: too many for a categorical feature (role "text"), fine here.
        "billing_state": rng.choice([f"State {chr(65 + i // 26)}{chr(65 + i % 26)}"
                                     for i in range(51)], n),
        "monthly_spend": rng.lognormal(4, 1, n),
    })


def test_suggest_anchors_on_names_it_has_never_seen():
    found = {a.column: a for a in suggest_anchors(_unseen_table())}
    assert {c: a.kind for c, a in found.items()} == {
        "Sector": "industry",
        "employee_band": "company_size",
        "Market": "region",
        "HQ Country": "region",
        "Region": "region",
        "customer_segment": "company_size",  # by its values: SMB / Mid-Market / Enterprise
        "EmployeeCount": "company_size",
        "billing_state": "region",
    }
    assert found["EmployeeCount"].banded and not found["employee_band"].banded
    assert found["Region"].n_levels == 3 and "whole-number codes" in found["Region"].reason
    for a in found.values():
        assert a.reason.endswith(".")


def test_suggest_anchors_from_roles_alone():
    df = _unseen_table()
    found = {a.column for a in suggest_anchors(infer_roles(df))}
    # Without values a customer_segment cannot be told from any segment (or plan_tier from a
    # size tier), and a state is taken on trust.
    assert found == {"Sector", "employee_band", "Market", "HQ Country", "Region",
                     "EmployeeCount", "account_state", "billing_state"}


def test_anchor_levels_bands_headcounts_and_writes_codes_plainly():
    df = pd.DataFrame({"employees": [1, 10, 11, 50, 51, 250, 999, 4000, 7000, 20000, None] * 3,
                       "region_code": [1.0, 2.0, None] * 11})
    bands = anchor_levels(df, "employees")
    assert bands.astype(str).tolist()[:11] == [
        "1-10", "1-10", "11-50", "11-50", "51-200", "201-500", "501-1000", "1001-5000",
        "5001-10000", "10000+", MISSING_LEVEL,
    ]
    assert anchor_levels(df, "region_code").tolist()[:3] == ["1", "2", MISSING_LEVEL]


def test_unusable_anchor_columns_raise_one_sentence():
    df = pd.DataFrame({"city": [f"c{i}" for i in range(200)], "spend": np.arange(200.0)})
    with pytest.raises(ColumnError) as err:
        anchor_levels(df, "city")
    assert "at most 60" in _one_sentence(err.value)
    with pytest.raises(ColumnError) as err:
        anchor_levels(df, "spend")
    assert "band it first" in _one_sentence(err.value)
    with pytest.raises(ColumnError) as err:
        anchor_levels(df, "sector")
    assert "not in the table" in _one_sentence(err.value)


# ------------------------------------------------------------------------------ within anchors


@pytest.fixture(scope="module")
def small_table():
    return make_feedback(900, 3, seed=4, rare_share=0.04)


def test_segment_within_anchors_runs_per_level_and_pools_small_ones(small_table):
    df = small_table.frame
    counts = df["industry"].value_counts()
    min_rows = 150
    small = set(counts[counts < min_rows].index)
    assert len(small) >= 2 and counts[list(small)].sum() >= min_rows  # the fixture's shape
    result = segment_within_anchors(df, "industry", SegmentSettings(k=3), min_rows=min_rows)
    big = [g for g in result.groups if g.level != POOLED_LEVEL]
    assert [g.level for g in big] == list(counts[counts >= min_rows].index)
    pooled = result.groups[-1]
    assert pooled.level == POOLED_LEVEL and set(pooled.members) == small
    assert len(pooled.rows) == counts[list(small)].sum()
    for g in result.groups:
        assert g.run is not None and g.skipped_reason is None
        assert g.run.analysis.roles.get("industry").role == "excluded"
        assert set(df["industry"].iloc[g.rows]) == set(g.members)
        lab = g.run.labels
        combined = result.labels[g.rows]
        assert np.array_equal(combined[lab >= 0], g.label_offset + lab[lab >= 0])
        assert np.all(combined[lab < 0] == -1)
        assert result.names[g.label_offset] == f"{g.level} / Segment 0"
    assert result.summary.n_segments == len(result.names) == 3 * len(result.groups)
    names = result.label_names()
    row = int(result.groups[0].rows[0])
    assert names.iloc[row] == result.names[result.labels[row]]


def test_small_levels_are_skipped_when_asked_or_when_the_pool_is_too_small(small_table):
    df = small_table.frame
    counts = df["industry"].value_counts()
    min_rows = 150
    small = counts[counts < min_rows]
    skip = segment_within_anchors(df, "industry", SegmentSettings(k=3), min_rows=min_rows,
                                  small_levels="skip")
    skipped = [g for g in skip.groups if g.run is None]
    assert {g.level for g in skipped} == set(small.index)
    for g in skipped:
        assert f"Only {counts[g.level]} rows" in g.skipped_reason
        assert np.all(skip.labels[g.rows] == -1)
        assert (skip.label_names().iloc[g.rows] == "").all()
    assert skip.summary.n_unsegmented_rows >= small.sum()

    # Two small levels whose pool is still too small: skipped as one group, with the reason.
    zoned = df.assign(zone=["A"] * 20 + ["B"] * 25 + ["Main"] * (len(df) - 45))
    pool = segment_within_anchors(zoned, "zone", SegmentSettings(k=2), min_rows=100)
    assert [g.level for g in pool.groups] == ["Main", POOLED_LEVEL]
    last = pool.groups[-1]
    assert last.members == ("B", "A") and last.run is None  # most common first
    assert last.skipped_reason == ("The 2 small levels pooled together have only 45 rows, "
                                   "fewer than the 100 needed.")
    assert np.all(pool.labels[:45] == -1) and np.all(pool.labels[45:] >= -1)
    assert pool.groups[0].run is not None


def test_a_level_the_settings_do_not_fit_is_skipped_with_the_reason(small_table):
    # k=15 needs at least 75 rows (5 per segment): the 60-row level is skipped with the
    # pipeline's own sentence, the big one is segmented.
    df = small_table.frame.assign(zone=["Small"] * 60 + ["Main"] * (len(small_table.frame) - 60))
    result = segment_within_anchors(df, "zone", SegmentSettings(k=15), min_rows=50)
    main, small = result.groups
    assert main.level == "Main" and main.run is not None and main.run.analysis.choice.k == 15
    assert small.level == "Small" and small.run is None
    assert small.skipped_reason.startswith("k=15 is impossible for 60 customers")


def test_segment_within_anchors_refuses_bad_choices(small_table):
    df = small_table.frame
    with pytest.raises(ColumnError) as err:
        segment_within_anchors(df, "customer_id")
    _one_sentence(err.value)
    with pytest.raises(ColumnError) as err:
        segment_within_anchors(df, "churned")
    assert "is an outcome" in _one_sentence(err.value)
    with pytest.raises(ColumnError):
        segment_within_anchors(df, "Industry")
    with pytest.raises(SettingsError) as err:
        segment_within_anchors(df, "industry", min_rows=5)
    _one_sentence(err.value)


# --------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_wholesale_region_is_an_anchor_and_channel_tracks_the_segments():
    # Wholesale customers: Region is coded 1/2/3 (Lisbon 77, Oporto 47, other 316 rows); the
    # spending pattern separates hotels/restaurants from retailers (Channel), not regions.
    df = pd.read_csv(shared_dataset("wholesale_customers", "Wholesale_customers_data.csv"))
    found = {a.column: a.kind for a in suggest_anchors(df)}
    assert found == {"Region": "region"}
    run = run_segmentation(df, SegmentSettings(exclude=("Channel", "Region")))
    channel, region = anchors_per_segment(df, run.labels, ["Channel", "Region"]).anchors
    assert channel.significant and channel.p_value < 1e-6
    assert region.cramers_v < channel.cramers_v / 2

    within = segment_within_anchors(df, "Region", min_rows=100)
    assert [g.level for g in within.groups] == ["3", POOLED_LEVEL]
    assert within.groups[1].members == ("1", "2") and len(within.groups[1].rows) == 124
    assert all(g.run is not None for g in within.groups)
    assert within.names[0].startswith("3 / Segment 0")


def test_a_quantity_named_size_is_not_a_company_size_anchor():
    # basket_size / household_size hold bare numbers: a quantity, not a band table. Taking one as
    # an anchor made the pipeline stop ("33 distinct numbers ... band it first") on a table whose
    # user had asked for no anchors at all.
    from copilot.segmentation.analysis.anchors import suggest_anchors

    df = pd.DataFrame({
        "basket_size": [float(i % 33) for i in range(330)],
        "household_size": [i % 6 + 1 for i in range(330)],
        "company_size": ["1-10", "11-50", "51-200"] * 110,
    })
    assert [a.column for a in suggest_anchors(df)] == ["company_size"]

"""The holdout flag: each customer's own (stable when the base or their segment changes),
order-independent, balanced per segment up to sampling noise, salt-specific."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import InputError
from copilot.segmentation.analysis.holdout import holdout_flags
from tests.cli_helpers import near_share


def _customers(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.array([f"CUST-{i:06d}" for i in rng.permutation(n)])
    segments = rng.choice(5, size=n, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    return ids, segments


def test_every_segment_holds_out_its_share_up_to_sampling_noise():
    ids, segments = _customers()
    flags = holdout_flags(ids, segments, share=0.1)
    for s in range(5):
        members = segments == s
        assert near_share(flags[members].sum(), members.sum())
    assert near_share(flags.sum(), len(flags))


def test_a_customer_keeps_their_flag_when_customers_join_leave_or_move_segment():
    ids, segments = _customers()
    flags = holdout_flags(ids, segments)
    rng = np.random.default_rng(5)
    kept = rng.random(len(ids)) < 0.8  # a fifth churned
    joined = np.array([f"NEW-{i:05d}" for i in range(2000)])
    later_ids = np.concatenate([ids[kept], joined])
    later_segments = rng.permutation(np.concatenate([segments[kept], np.zeros(2000, int)]))
    later = holdout_flags(later_ids, later_segments)
    assert (later[:kept.sum()] == flags[kept]).all()  # not one flag of a staying customer moved


def test_same_customers_same_flags_in_any_order_and_a_new_salt_draws_anew():
    ids, segments = _customers()
    flags = holdout_flags(ids, segments)
    order = np.random.default_rng(3).permutation(len(ids))
    shuffled = holdout_flags(ids[order], segments[order])
    assert (shuffled == flags[order]).all()
    other = holdout_flags(ids, segments, salt="spring-campaign")
    overlap = (other & flags).sum() / flags.sum()
    assert overlap < 0.3  # about 10% by chance; the same group would be 100%


def test_the_group_does_not_follow_the_id_order():
    ids, segments = _customers()
    flags = holdout_flags(ids, segments)
    numbers = np.array([int(i.split("-")[1]) for i in ids])
    # held-out IDs spread over the whole range, not the first or last ones
    assert 0.3 < np.median(numbers[flags]) / len(ids) < 0.7


@pytest.mark.parametrize("share", [-0.1, 0.9])
def test_a_bad_share_is_one_sentence(share):
    with pytest.raises(InputError, match="holdout share"):
        holdout_flags(["a", "b"], [0, 0], share=share)


def test_missing_ids_among_text_ids_get_a_flag_not_a_crash():
    ids = np.array(["a", np.nan, "b", None, "c"] * 20, dtype=object)
    flags = holdout_flags(ids, [0] * 100, share=0.1)
    # One ID, one flag; every missing ID is the same (empty) key.
    assert all(len(set(flags[i::5])) == 1 for i in range(5)) and flags[1] == flags[3]


def test_the_flag_follows_the_id_text_not_the_type_a_reader_gave_it():
    ints = np.arange(12_000, 12_400)
    floats = ints.astype(float)  # how pandas reads an ID column with one blank
    segments = np.repeat([0, 1], 200)
    assert (holdout_flags(ints, segments) == holdout_flags(floats, segments)).all()
    assert (holdout_flags(ints, segments) == holdout_flags(ints.astype(str), segments)).all()


def test_share_zero_means_no_control_group():
    assert not holdout_flags(["a", "b", "c"], [0, 0, 1], share=0).any()


@pytest.mark.parametrize("ids", [
    pd.Series(np.arange(5_000) * 7919),
    pd.Series([f"{i:07d}" for i in range(5_000)]),  # leading zeros stay
    pd.Series([f"ü-{i}-日本-🙂" if i % 3 else None for i in range(5_000)], dtype=object),
    pd.Series(np.where(np.arange(5_000) % 11, np.arange(5_000, dtype=float), np.nan)),
], ids=["ints", "zero-padded", "unicode-with-gaps", "floats-with-gaps"])
def test_large_id_columns_hashed_in_duckdb_get_the_same_flags(monkeypatch, ids):
    # From DUCKDB_FROM_KEYS IDs the digests come from DuckDB's sha256: every flag must be the
    # one the per-ID hashlib path gives (the CRM export and a rerun flag the same customers).
    from copilot.segmentation.analysis import holdout

    monkeypatch.setattr(holdout, "DUCKDB_FROM_KEYS", 10**9)
    one_by_one = holdout.holdout_flags(ids, share=0.3, salt="an experiment")
    monkeypatch.setattr(holdout, "DUCKDB_FROM_KEYS", 100)
    in_duckdb = holdout.holdout_flags(ids, share=0.3, salt="an experiment")
    assert 0.15 < one_by_one.mean() < 0.45  # (every missing ID is the one text "")
    np.testing.assert_array_equal(in_duckdb, one_by_one)

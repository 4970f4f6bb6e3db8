"""Assigning with a saved model: values it can only score by a fallback are reported, and IDs
are written (and held out) as the text a person typed, whatever type the reader gave them."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.segmentation.analysis.holdout import holdout_flags
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.model.assign import assign_table
from copilot.segmentation.model.bundle import load_bundle, save_bundle_with_data
from fixtures.customers import make_customers
from tests.cli_helpers import near_share


@pytest.fixture(scope="module")
def model_and_rows(tmp_path_factory):
    table = make_customers(1_400, 3, seed=21).frame
    train, new = table.iloc[:800], table.iloc[800:].reset_index(drop=True)
    run = run_segmentation(train, SegmentSettings(id_column="customer_id", k=3, seed=0))
    folder = save_bundle_with_data(run, train, tmp_path_factory.mktemp("assign") / "model")
    return load_bundle(folder), new


def test_unseen_levels_and_text_in_numbers_are_counted_with_an_example(model_and_rows):
    model, new = model_and_rows
    category = model.info.preparation.categorical[0].name
    number = next(s.name for s in model.info.preparation.numeric if s.source == "numeric")
    odd = new.copy()
    odd[category] = odd[category].astype(object)
    odd.loc[:6, category] = "Martian"  # 7 rows
    odd[number] = odd[number].astype(object)
    odd.loc[10:12, number] = "abc"  # 3 rows: too few to refuse the column
    result = assign_table(model, odd)
    notes = " ".join(result.notes)
    assert f"7 value(s) of {category} are not seen in training" in notes and "Martian" in notes
    assert f"3 value(s) of {number} are not numbers" in notes and "'abc'" in notes
    assert len(result.frame) == len(odd)  # reported, never dropped
    assert not any("not seen" in n for n in assign_table(model, new).notes)


def test_float_ids_are_written_as_typed_and_keep_their_holdout(model_and_rows):
    model, new = model_and_rows
    new = new.assign(customer_id=12_000 + np.arange(len(new)))
    as_int = assign_table(model, new)
    floats = new.assign(customer_id=new["customer_id"].astype(float))
    floats.loc[5, "customer_id"] = np.nan  # the blank that makes a reader choose floats
    as_float = assign_table(model, floats)
    ids = as_float.frame["customer_id"]
    assert not ids.str.endswith(".0").any() and ids.iloc[4] == "12004"
    same = ids != ""
    assert (as_float.frame["holdout"][same] == as_int.frame["holdout"][same]).mean() > 0.99
    assert any("1 row(s) have no customer_id" in n for n in as_float.notes)


def test_ids_with_leading_zeros_stay_as_text(model_and_rows):
    model, new = model_and_rows
    padded = new.assign(customer_id=[f"{i:07d}" for i in range(len(new))])
    frame = assign_table(model, padded).frame
    assert frame["customer_id"].tolist() == padded["customer_id"].tolist()
    flagged = frame.groupby("segment")["holdout"].agg(["sum", "size"])
    assert all(near_share(r["sum"], r["size"]) for _, r in flagged.iterrows())
    # The flag is the hash of the ID as typed: the padded text, not a number.
    assert (frame["holdout"].to_numpy() == holdout_flags(padded["customer_id"])).all()


def test_two_valued_columns_spelled_otherwise_read_as_trained_or_as_missing(model_and_rows):
    model, new = model_and_rows
    step = next(s for s in model.info.preparation.numeric if s.source == "boolean")
    values = new[step.name].astype(str)
    assert set(values) == {"Yes", "No"}  # the generator's two values
    plain = assign_table(model, new).frame
    # Another export's spelling of the same two values: the same segments, and a note.
    for other in ({"Yes": "True", "No": "False"}, {"Yes": "YES ", "No": "no"}):
        respelled = assign_table(model, new.assign(**{step.name: values.map(other)}))
        assert (respelled.frame["segment"] == plain["segment"]).all()
        assert any(f"of {step.name} are spelled other than in training" in n
                   for n in respelled.notes)
    # A value that is neither is missing, not "No" (which it used to be read as), and said.
    odd = new.assign(**{step.name: values.where(values == "No", "maybe")})
    result = assign_table(model, odd)
    n_odd = int((values == "Yes").sum())
    assert any(f"{n_odd:,} value(s) of {step.name} are neither of the two values" in n
               and "'maybe'" in n for n in result.notes)
    as_missing = assign_table(model, new.assign(**{step.name: values.where(values == "No")}))
    assert (result.frame["segment"] == as_missing.frame["segment"]).all()


def test_values_the_preparation_cannot_represent_are_said_not_hidden(model_and_rows):
    model, new = model_and_rows
    dist = next(d for d in model.info.distributions if d.kind == "numeric"
                and d.name in model.info.preparation.input_columns and d.quantiles[0] >= 0)
    low, high = dist.quantiles[0], dist.quantiles[-1]
    odd = new.copy()
    odd[dist.name] = odd[dist.name].astype(float)
    odd.loc[:3, dist.name] = high * 100 + 1  # 4 rows far above anything trained on
    result = assign_table(model, odd)
    notes = " ".join(result.notes)
    assert f"4 value(s) of {dist.name} are far outside the training range" in notes
    assert len(result.frame) == len(odd) and (result.frame["segment"] >= -1).all()
    # Inside the training range nothing is said.
    inside = new.copy()
    inside[dist.name] = np.clip(inside[dist.name].astype(float), low, high)
    assert not any(f"of {dist.name} are far outside" in n
                   for n in assign_table(model, inside).notes)
    step = next(s for s in model.info.preparation.numeric if s.name == dist.name)
    if step.transform == "log1p":
        odd.loc[10:11, dist.name] = -5.0
        assert any(f"2 value(s) of {dist.name} are negative" in n
                   for n in assign_table(model, odd).notes)

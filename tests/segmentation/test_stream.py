"""Chunked reading and assignment: the same customers, segments and holdout as a whole-file
load, in CSV, gzip CSV and Parquet, however small the chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import InputError
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.data.load import load_table
from copilot.segmentation.data.stream import iter_table_chunks
from copilot.segmentation.model.assign import assign_chunks, assign_file, assign_table
from copilot.segmentation.model.bundle import load_bundle, save_bundle_with_data
from fixtures.customers import make_customers
from tests.cli_helpers import near_share


@pytest.fixture(scope="module")
def model_and_table(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    # One draw split in two: the fixture's columns vary with the seed.
    table = make_customers(3_100, 3, seed=11).frame
    train, new = table.iloc[:600], table.iloc[600:].reset_index(drop=True)
    run = run_segmentation(train, SegmentSettings(id_column="customer_id", k=3, seed=0))
    model = load_bundle(save_bundle_with_data(run, train, root / "model"))
    return root, model, new


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".tsv"])
def test_chunks_concatenate_to_the_whole_file_load(model_and_table, suffix):
    root, _, new = model_and_table
    path = root / f"new{suffix}"
    if suffix == ".parquet":
        new.to_parquet(path, index=False)
    else:
        new.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    whole = load_table(path).frame
    chunks = list(iter_table_chunks(path, rows=700))
    assert [len(c) for c in chunks] == [700, 700, 700, 400]
    joined = pd.concat(chunks, ignore_index=True)
    assert list(joined.columns) == list(whole.columns)
    for column in whole.columns:
        left, right = whole[column], joined[column]
        if pd.api.types.is_numeric_dtype(left):
            np.testing.assert_allclose(left.to_numpy(float), right.to_numpy(float))
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist(), column


def test_a_file_assigned_in_chunks_matches_the_table_assigned_whole(model_and_table, monkeypatch):
    root, model, new = model_and_table
    path = root / "assign.csv"
    new.to_csv(path, index=False)
    whole = assign_table(model, load_table(path).frame)
    # Small chunks: the holdout must still be drawn over all rows, not per chunk.
    monkeypatch.setattr("copilot.segmentation.data.stream.CHUNK_ROWS", 300)
    chunked = assign_chunks(model, iter_table_chunks(path, rows=300))
    columns = ["customer_id", "segment", "segment_name", "confidence", "holdout"]
    pd.testing.assert_frame_equal(whole.frame[columns], chunked.frame[columns])
    by_segment = chunked.frame.groupby("segment")["holdout"].agg(["sum", "size"])
    for segment, row in by_segment.iterrows():
        assert near_share(row["sum"], row["size"]), segment
    assert assign_file(model, path).frame["segment"].tolist() == whole.frame["segment"].tolist()


def test_a_chunk_with_text_in_a_numeric_column_is_refused_by_name(model_and_table):
    root, model, new = model_and_table
    column = next(c for c in model.info.features if pd.api.types.is_float_dtype(new[c]))
    bad = new.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[1_000:, column] = "unknown"  # only the later chunks are broken
    path = root / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(InputError, match=column):
        assign_file(model, path)


def test_what_the_chunks_found_is_said_once_with_the_file_s_count(model_and_table):
    root, _, new = model_and_table
    column = next(c for c in new.columns if pd.api.types.is_float_dtype(new[c]))
    text = new.astype({column: object})
    text.loc[text.index % 100 == 7, column] = " "  # a blank in every chunk: 25 in all
    path = root / "blanks.csv"
    text.to_csv(path, index=False)
    whole_notes = [n for n in load_table(path).notes if n.startswith(f"{column}:")]
    notes: list[str] = []
    list(iter_table_chunks(path, rows=700, notes=notes))
    said = [n for n in notes if n.startswith(f"{column}:")]
    assert len(said) == 1 and "25 blank values" in said[0]
    assert said == whole_notes  # the same sentence a whole-file load gives

"""CRM presets: column names, value formats, IDs kept as text."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest

from copilot.core.errors import InputError
from copilot.segmentation.analysis.holdout import holdout_flags
from copilot.segmentation.outputs.crm import (
    PRESETS,
    crm_csv,
    crm_frame,
    format_for_crm,
    get_preset,
    ids_as_text,
    write_crm_csv,
)


def frame(ids, **overrides) -> pd.DataFrame:
    n = len(ids)
    data = {
        "customer_id": ids,
        "segment": [i % 2 for i in range(n)],
        "segment_name": ["Loyal" if i % 2 == 0 else "At risk" for i in range(n)],
        "confidence": [0.912345] * n,
        "holdout": [i == 0 for i in range(n)],
        "model_version": "0123abcd",
        "assigned_at": "2025-03-01T23:30:00+00:00",
    }
    data.update(overrides)
    return pd.DataFrame(data)


def read_back(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def test_preset_column_names():
    assert PRESETS["generic"].columns == ("customer_id", "segment_id", "segment_name",
                                          "confidence", "holdout", "model_version",
                                          "assigned_at")
    # HubSpot maps columns to properties by internal name: lowercase with underscores.
    hubspot = PRESETS["hubspot"].columns
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in hubspot)
    assert hubspot[4] == "segment_holdout" and hubspot[6] == "segment_assigned_at"
    # Salesforce custom fields: API names ending in __c.
    salesforce = PRESETS["salesforce"].columns
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9_]*__c", c) for c in salesforce)
    assert salesforce[0] == "Customer_ID__c" and salesforce[4] == "Segment_Holdout__c"
    for preset in PRESETS.values():
        assert len(set(preset.columns)) == 7
        assert list(read_back(crm_csv(frame(["a", "b"]), preset.name)).columns) == list(
            preset.columns)


@pytest.mark.parametrize("preset, stamp", [
    ("generic", "2025-03-01T23:30:00Z"),
    ("hubspot", "2025-03-01"),
    ("salesforce", "2025-03-01T23:30:00.000Z"),
])
def test_booleans_and_time_stamps_in_the_formats_imports_read(preset, stamp):
    out = read_back(crm_csv(frame(["a", "b"]), preset))
    cols = PRESETS[preset].columns
    assert out[cols[4]].tolist() == ["true", "false"]
    assert out[cols[6]].tolist() == [stamp, stamp]
    assert out[cols[3]].tolist() == ["0.9123", "0.9123"]
    assert out[cols[1]].tolist() == ["0", "1"]
    assert out[cols[5]].tolist() == ["0123abcd", "0123abcd"]


def test_time_stamps_are_converted_to_utc():
    f = frame(["a"], assigned_at="2025-03-02T01:30:00+02:00")
    assert format_for_crm(f, "salesforce").iloc[0, 6] == "2025-03-01T23:30:00.000Z"
    assert format_for_crm(f, "hubspot").iloc[0, 6] == "2025-03-01"  # the UTC date


def test_ids_with_leading_zeros_survive_the_file(tmp_path):
    ids = ["00123", "0042", "7"]
    path = write_crm_csv(frame(ids), tmp_path / "crm.csv", "hubspot")
    lines = path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ids


def test_whole_number_ids_read_as_floats_lose_the_point_zero():
    # A numeric ID column with a gap is read by pandas as floats: 17850 -> 17850.0.
    assert ids_as_text(pd.Series([17850.0, np.nan, 12.0])).tolist() == ["17850", "", "12"]
    assert ids_as_text(pd.Series(["17850.0", "12.0"])).tolist() == ["17850", "12"]
    assert ids_as_text(pd.Series(["17850.0", "A-1.0"])).tolist() == ["17850.0", "A-1.0"]
    assert ids_as_text(pd.Series([3, 4])).tolist() == ["3", "4"]
    out = read_back(crm_csv(frame([17850.0, 12.0]), "generic"))
    assert out["customer_id"].tolist() == ["17850", "12"]


def test_crm_frame_matches_what_assign_gives():
    ids = [f"{i:05d}" for i in range(200)]
    segments = np.array([0] * 120 + [1] * 70 + [-1] * 10)
    f = crm_frame(ids, segments, np.linspace(0, 1, 200), names={0: "Loyal", 1: "At risk"},
                  model_version="m", assigned_at="2025-03-01T00:00:00+00:00",
                  holdout_share=0.1, salt="exp-1")
    assert list(f.columns) == ["customer_id", "segment", "segment_name", "confidence",
                               "holdout", "model_version", "assigned_at"]
    assert f["customer_id"].tolist() == ids
    assert f["segment_name"].value_counts().to_dict() == {"Loyal": 120, "At risk": 70,
                                                          "unassigned": 10}
    # The same per-segment draw as assign_table: 10% of each segment, by salt and ID.
    expected = holdout_flags(ids, segments, share=0.1, salt="exp-1")
    assert (f["holdout"].to_numpy() == expected).all()


def test_an_unknown_preset_is_one_sentence():
    with pytest.raises(InputError, match="generic, hubspot, salesforce"):
        get_preset("pipedrive")

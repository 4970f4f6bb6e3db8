"""Saved model bundles: a round trip in a fresh process gives the same segments; tampered,
foreign, newer or hostile files are refused with one sentence; missing columns are named."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from copilot.core.errors import InputError
from copilot.segmentation.analysis.pipeline import SegmentSettings, run_segmentation
from copilot.segmentation.model.bundle import (
    ARRAYS_FILE,
    JSON_FILE,
    load_bundle,
    rename_bundle,
    save_bundle_with_data,
)
from fixtures.customers import make_customers

REPO = Path(__file__).resolve().parents[2]
ALGORITHMS = ("kmeans", "gmm", "hierarchical", "hdbscan")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One bundle per algorithm, trained on the same synthetic table (with missing values)."""
    root = tmp_path_factory.mktemp("bundles")
    frame = make_customers(500, 3, seed=4).frame  # a seed HDBSCAN finds segments in
    frame.to_csv(root / "train.csv", index=False)
    out = {}
    for algorithm in ALGORITHMS:
        run = run_segmentation(frame, SegmentSettings(id_column="customer_id", k=3 if algorithm
                                                      != "hdbscan" else None,
                                                      algorithm=algorithm, seed=0))
        path = save_bundle_with_data(run, frame, root / f"model-{algorithm}",
                                     names={0: "Core", 1: "Power", 2: "Light"})
        np.save(root / f"labels-{algorithm}.npy", run.labels)
        out[algorithm] = (run, path)
    return root, frame, out


def test_a_fresh_process_assigns_the_training_rows_to_the_same_segments(trained):
    root, _, _bundles = trained
    # A new interpreter: nothing from the training run (caches, fitted objects) is reused.
    code = (
        "import sys, numpy as np, pandas as pd\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from copilot.segmentation.model.bundle import load_bundle\n"
        f"root = {str(root)!r}\n"
        "df = pd.read_csv(root + '/train.csv')\n"
        f"for a in {ALGORITHMS!r}:\n"
        "    labels, conf = load_bundle(root + '/model-' + a).assign(df)\n"
        "    same = (labels == np.load(root + '/labels-' + a + '.npy')).mean()\n"
        "    print(a, same, float(conf.min()), float(conf.max()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    for line in filter(None, out):
        _algorithm, same, low, high = line.split()
        assert float(same) == 1.0, line
        assert 0.0 <= float(low) <= float(high) <= 1.0


def test_the_bundle_records_what_a_crm_and_a_drift_check_need(trained):
    _, frame, bundles = trained
    _run, path = bundles["gmm"]
    info = json.loads((path / JSON_FILE).read_text())
    assert info["format"] == "segment-copilot-model" and info["version"] == 1
    assert len(info["bundle_id"]) == 16 and info["created_at"].endswith("+00:00")
    assert info["names"] == {"0": "Core", "1": "Power", "2": "Light"}
    assert set(info["rules"]) == {"0", "1", "2"}
    assert {c["name"] for c in info["schema_"]} == set(frame.columns)
    numeric = next(d for d in info["distributions"] if d["name"] == "tenure_months")
    assert len(numeric["quantiles"]) == 11 and numeric["quantiles"] == sorted(numeric["quantiles"])
    plan = next(d for d in info["distributions"] if d["name"] == "plan")
    assert abs(sum(plan["levels"].values()) - 1) < 1e-9


def test_the_id_depends_on_the_model_not_the_time(trained, tmp_path):
    _, frame, bundles = trained
    run, path = bundles["kmeans"]
    again = save_bundle_with_data(run, frame, tmp_path / "again",
                                  names={0: "Core", 1: "Power", 2: "Light"})
    first = json.loads((path / JSON_FILE).read_text())["bundle_id"]
    assert json.loads((again / JSON_FILE).read_text())["bundle_id"] == first
    renamed = save_bundle_with_data(run, frame, tmp_path / "renamed", names={0: "Other"})
    assert json.loads((renamed / JSON_FILE).read_text())["bundle_id"] != first


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm"])
def test_renaming_a_saved_model_keeps_its_segments_and_ids_it_like_a_fresh_save(
        trained, tmp_path, algorithm):
    _, frame, bundles = trained
    run, path = bundles[algorithm]
    copy = _copy(path, tmp_path / "copy")
    same = rename_bundle(copy, {0: "Core", 1: "Power", 2: "Light"})
    assert same.bundle_id == load_bundle(path).info.bundle_id
    info = rename_bundle(copy, {1: "Heavy Users"})
    fresh = save_bundle_with_data(run, frame, tmp_path / "fresh",
                                  names={0: "Core", 1: "Heavy Users", 2: "Light"})
    assert info.bundle_id == load_bundle(fresh).info.bundle_id != same.bundle_id
    reloaded = load_bundle(copy)
    assert reloaded.info.names[1] == "Heavy Users"
    assert (reloaded.assign(frame)[0] == run.labels).all()


def _copy(path: Path, to: Path) -> Path:
    to.mkdir()
    for name in (JSON_FILE, ARRAYS_FILE):
        (to / name).write_bytes((path / name).read_bytes())
    return to


def one_sentence(err: InputError) -> str:
    text = str(err)
    assert text.endswith(".") and "\n" not in text
    return text


def test_tampered_foreign_newer_and_missing_bundles_are_refused(trained, tmp_path):
    _, _, bundles = trained
    _, path = bundles["kmeans"]
    tampered = _copy(path, tmp_path / "tampered")
    blob = bytearray((tampered / ARRAYS_FILE).read_bytes())
    blob[-40] ^= 0xFF
    (tampered / ARRAYS_FILE).write_bytes(bytes(blob))
    with pytest.raises(InputError) as err:
        load_bundle(tampered)
    assert "does not match" in one_sentence(err.value)

    newer = _copy(path, tmp_path / "newer")
    info = json.loads((newer / JSON_FILE).read_text())
    (newer / JSON_FILE).write_text(json.dumps({**info, "version": 99}))
    with pytest.raises(InputError) as err:
        load_bundle(newer)
    assert "newer" in one_sentence(err.value) and "upgrade" in str(err.value)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / JSON_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InputError) as err:
        load_bundle(foreign)
    assert "not a segment-copilot model" in one_sentence(err.value)

    damaged = _copy(path, tmp_path / "damaged")
    (damaged / JSON_FILE).write_text(json.dumps({**info, "k": "three"}))
    with pytest.raises(InputError) as err:
        load_bundle(damaged)
    assert "damaged" in one_sentence(err.value)

    with pytest.raises(InputError) as err:
        load_bundle(tmp_path / "nowhere")
    assert "no saved model" in one_sentence(err.value)


def test_an_array_file_that_needs_unpickling_is_refused_not_loaded(trained, tmp_path):
    _, _, bundles = trained
    _, path = bundles["kmeans"]
    hostile = _copy(path, tmp_path / "hostile")
    buffer = io.BytesIO()
    np.savez(buffer, centers=np.array([{"x": 1}], dtype=object))  # a pickle inside
    blob = buffer.getvalue()
    import hashlib

    info = json.loads((hostile / JSON_FILE).read_text())
    info["arrays_sha256"] = hashlib.sha256(blob).hexdigest()  # even with a matching checksum
    from copilot.segmentation.model.bundle import _content_id

    info["bundle_id"] = _content_id(info)  # and a matching content ID
    (hostile / JSON_FILE).write_text(json.dumps(info))
    (hostile / ARRAYS_FILE).write_bytes(blob)
    with pytest.raises(InputError) as err:
        load_bundle(hostile)
    assert "unreadable" in one_sentence(err.value)


def test_a_table_without_the_training_columns_is_told_which(trained):
    _, frame, bundles = trained
    _, path = bundles["gmm"]
    with pytest.raises(InputError) as err:
        load_bundle(path).assign(frame.drop(columns=["plan", "tenure_months"]))
    text = one_sentence(err.value)
    assert "plan" in text and "tenure_months" in text


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_customer_far_from_every_segment_is_unassigned_not_forced_in(trained, algorithm):
    _, frame, bundles = trained
    model = load_bundle(bundles[algorithm][1])
    numeric = [c for c in model.info.features if c in frame.select_dtypes("number").columns]
    assert numeric, "the fixture has numeric features"
    # Twenty training customers moved far beyond the training range on every numeric feature.
    far = frame.head(20).copy()
    for column in numeric:
        spread = frame[column].max() - frame[column].min()
        far[column] = frame[column].max() + 20 * spread
    labels, confidence = model.assign(far)
    assert (labels == -1).all(), labels
    assert (confidence == 0).all()
    # The same customers as they were keep their training segments.
    labels, _ = model.assign(frame.head(20))
    assert (labels == bundles[algorithm][0].labels[:20]).all()


@pytest.mark.parametrize("edit", [
    lambda info: info["names"].update({"1": "Core"}),
    lambda info: info.update({"k": 4}),
    lambda info: info["segment_shares"].update({"0": 0.9}),
])
def test_an_edited_bundle_json_is_refused_not_trusted(trained, tmp_path, edit):
    _, _, bundles = trained
    copy = _copy(bundles["kmeans"][1], tmp_path / "edited")
    info = json.loads((copy / JSON_FILE).read_text())
    edit(info)
    (copy / JSON_FILE).write_text(json.dumps(info))
    with pytest.raises(InputError) as err:
        load_bundle(copy)
    assert "changed after it was saved" in one_sentence(err.value)


def test_the_output_folder_stands_for_its_model_and_a_file_is_told_apart(trained, tmp_path):
    _, frame, bundles = trained
    path = bundles["kmeans"][1]
    assert load_bundle(path.parent / path.name).info.bundle_id  # the model folder itself
    holder = tmp_path / "out"
    holder.mkdir()
    _copy(path, holder / "model")
    assert load_bundle(holder).info.bundle_id == load_bundle(path).info.bundle_id
    table = tmp_path / "customers.csv"
    frame.to_csv(table, index=False)
    with pytest.raises(InputError) as err:
        load_bundle(table)
    assert "is a file, not a saved model" in one_sentence(err.value)


def test_hdbscan_s_own_outliers_are_not_called_a_change_when_assigned_again(trained):
    from copilot.segmentation.model.assign import assign_table

    _, frame, bundles = trained
    run, path = bundles["hdbscan"]
    n_noise = int((run.labels == -1).sum())
    notes = " ".join(assign_table(load_bundle(path), frame).notes)
    if n_noise:
        assert f"{n_noise:,} row(s)" in notes and "did not either" in notes
    assert "have changed" not in notes


def _reseal(folder: Path, info: dict, arrays: dict | None = None) -> None:
    """Write a bundle whose checksums and content ID match what was changed, as an attacker
    or a careless script would."""
    import hashlib

    from copilot.segmentation.model.bundle import _content_id

    if arrays is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        (folder / ARRAYS_FILE).write_bytes(buffer.getvalue())
        info["arrays_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    info["bundle_id"] = _content_id(info)
    (folder / JSON_FILE).write_text(json.dumps(info))


@pytest.mark.parametrize("change", ["k", "centres", "names", "nan"])
def test_a_resealed_bundle_that_does_not_add_up_is_refused(trained, tmp_path, change):
    _, _, bundles = trained
    _, path = bundles["kmeans"]
    folder = _copy(path, tmp_path / change)
    info = json.loads((folder / JSON_FILE).read_text())
    with np.load(folder / ARRAYS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if change == "k":
        info["k"] = 50
        arrays = None
    elif change == "centres":
        arrays["centers"] = arrays["centers"][:, :2]
    elif change == "names":
        info["names"] = {"0": "A", "7": "B", "9": "C"}
        arrays = None
    else:
        arrays["centers"][0, 0] = np.nan
    _reseal(folder, info, arrays)
    with pytest.raises(InputError) as err:
        load_bundle(folder)
    assert "does not add up" in one_sentence(err.value)


def test_deeply_nested_json_is_one_sentence_not_a_recursion_error(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / JSON_FILE).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError) as err:
        load_bundle(folder)
    assert "corrupt" in one_sentence(err.value)

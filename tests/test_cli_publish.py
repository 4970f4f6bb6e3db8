"""An output folder is published whole or not at all (issue 15): a re-run never leaves an
earlier run's files beside the new ones, a kill at any point of the write leaves the folder
complete or untouched, and a run never replaces its own input or a folder of other files."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from copilot.segmentation.outputs.publish import staged_folder
from fixtures.customers import make_customers
from tests.cli_helpers import assert_one_sentence_error, cli_command, run_cli, start_cli


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    make_customers(300, 3, seed=11).frame.to_csv(path, index=False)
    return path


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its content hash."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _complete(folder: Path, k: int, rows: int) -> bool:
    """A whole run: the analysis, its assignments and its model agree, nothing else of a run."""
    try:
        analysis = json.loads((folder / "analysis.json").read_text())
        bundle = json.loads((folder / "model" / "bundle.json").read_text())
        lines = (folder / "assignments.csv").read_text().splitlines()
    except (OSError, ValueError):
        return False
    return (analysis["choice"]["k"] == k == bundle["k"] and len(lines) - 1 == rows
            and not (folder / "writing.json").exists()
            and not any(p.name.startswith(".") for p in folder.rglob("*")))


def test_a_rerun_replaces_the_whole_set_and_keeps_the_users_files(tmp_path, data):
    out = tmp_path / "out"
    assert run_cli("segment", data, "--out-dir", out, "--k", "4", "--no-llm").returncode == 0
    # What an earlier run with names left, and a file of the user's own.
    (out / "writing.json").write_text('{"names": "of a k=4 run"}')
    (out / "notes.txt").write_text("mine")
    proc = run_cli("segment", data, "--out-dir", out, "--k", "3", "--no-llm")
    assert proc.returncode == 0, proc.stderr
    assert _complete(out, 3, 300)  # the old writing.json is gone with its run
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_a_failure_inside_the_stage_leaves_the_folder_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "analysis.json").write_text("old")
    before = _snapshot(out)
    with pytest.raises(RuntimeError), staged_folder(out) as stage:
        (stage / "analysis.json").write_text("new")
        raise RuntimeError("the model failed mid-write")
    assert _snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize(("args", "needles"), [
    (("--out-dir", "{tmp}/out"), ("replaces",)),  # the input is out/assignments.csv
    (("--out-dir", "."), ("current folder",)),
    (("--out-dir", "{tmp}/mine"), ("not a segmentation run",)),
])
def test_folders_a_run_must_not_replace_are_refused_before_any_work(tmp_path, data, args,
                                                                    needles):
    out = tmp_path / "out"
    assert run_cli("segment", data, "--out-dir", out, "--k", "3", "--no-llm").returncode == 0
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("years of work")
    before = {d: _snapshot(tmp_path / d) for d in ("out", "mine")}
    source = out / "assignments.csv" if "out" in args[1] else data
    proc = run_cli("segment", source, *(a.format(tmp=tmp_path) for a in args), "--no-llm",
                   cwd=tmp_path)
    assert_one_sentence_error(proc, *needles)
    assert {d: _snapshot(tmp_path / d) for d in ("out", "mine")} == before


def _stages(parent: Path) -> set[str]:
    return {p.name for p in parent.iterdir() if p.name.startswith(".out.staging-")}


def _new_stage(parent: Path, proc, old: set[str]) -> str | None:
    """Wait until the run's own hidden staging sibling exists (its files are being written;
    ``old``: those a killed run left, which it removes first); None if the run ended first."""
    while proc.poll() is None:
        if new := _stages(parent) - old:
            return new.pop()
        time.sleep(0.003)
    return None


def test_killed_at_random_points_of_the_write_the_folder_is_complete_or_untouched(tmp_path,
                                                                                  data):
    """8 runs in a row, each killed (4 by SIGKILL, 4 by SIGINT) at a random point of its last
    stretch, where the files are written: each time the folder is the previous run's, byte
    for byte, or a complete new one.

    The kills aim at the write: each waits for the run's staging folder to appear, then
    comes at a random point of twice the stage's life (from its creation to the swap,
    measured on the first run), each signal once in each quarter of that span. Before,
    20 kills fell anywhere in 0.5-1.1 of a run's length (about 10 s on a busy machine), so
    nearly all landed before the stage (about 0.1 s long) or after the swap; now every kill
    lands in or just after it, and some kill must land while the stage is there.

    The runs are forked from the tests' fork server (``start_cli``): real processes that take
    real signals, without a fresh interpreter's 2 CPU-seconds of imports each. The last run,
    which clears what the kills left, is the console script in a fresh interpreter."""
    out = tmp_path / "out"
    args = ["segment", str(data), "--out-dir", str(out), "--no-llm", "--algorithm", "kmeans"]
    command = [*cli_command(), *args]
    first = start_cli(*args, "--k", "4")
    stage = _new_stage(tmp_path, first, set())
    assert stage
    started = time.perf_counter()
    while stage in _stages(tmp_path):
        time.sleep(0.003)
    write = time.perf_counter() - started  # the stage's life: from its first file to the swap
    assert first.wait(timeout=300) == 0
    rng = random.Random(15)
    # Each signal once in each quarter of twice the stage's life, in a random order.
    kills = [(sig, (q + rng.random()) * 2 / 4) for sig in ("K", "I") for q in range(4)]
    rng.shuffle(kills)
    state, k_now = _snapshot(out), 4
    outcomes, inside = [], 0
    for i, (sig, share) in enumerate(kills):
        k = 3 if k_now == 4 else 4
        left = _stages(tmp_path)
        proc = start_cli(*args, "--k", str(k))
        stage = _new_stage(tmp_path, proc, left)
        time.sleep(share * write)
        inside += stage in _stages(tmp_path)
        proc.send_signal(signal.SIGKILL if sig == "K" else signal.SIGINT)
        proc.wait(timeout=60)
        now = _snapshot(out)
        if now == state:
            outcomes.append("untouched" + sig)
        else:
            assert _complete(out, k, 300), (i, sig, sorted(now))
            outcomes.append("complete" + sig)
            state, k_now = now, k
        # Nothing half-written inside the folder, whichever way it went.
        assert not any(p.name.startswith(".") for p in out.rglob("*")), sorted(now)
    # The next run clears what a killed one left beside the folder.
    assert subprocess.run([*command, "--k", "3"], capture_output=True, check=False).returncode == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []
    assert len(outcomes) == 8
    assert inside >= 1, outcomes  # some kill did land in the middle of the write
    print("kill outcomes:", {o: outcomes.count(o) for o in set(outcomes)}, "inside:", inside)


def test_sigint_is_one_sentence_not_a_traceback(tmp_path, data):
    proc = subprocess.Popen([*cli_command(), "segment", str(data), "--out-dir",
                             str(tmp_path / "o"), "--no-llm"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert proc.returncode != 0 or (tmp_path / "o" / "analysis.json").exists()

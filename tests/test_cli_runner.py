"""The tests' CLI runner (a process forked from a server that has imported the product) and
the installed console script give the same exit code, output and files."""

from __future__ import annotations

import re
import subprocess

import pytest

from fixtures.customers import make_customers
from tests.cli_helpers import cli_command, run_cli


def _script(*args, cwd):
    return subprocess.run([*cli_command(), *map(str, args)], check=False, capture_output=True,
                          text=True, cwd=cwd, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args", [
    ("segment", "missing.csv"),          # one sentence, exit 2
    ("segment", "--no-such-option"),     # argparse's own exit
    ("--version",),
])
def test_both_ways_fail_and_answer_alike(args, tmp_path):
    forked, script = run_cli(*args, cwd=tmp_path), _script(*args, cwd=tmp_path)
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        script.returncode, script.stdout, script.stderr)


def test_both_ways_write_the_same_segments_in_the_working_folder(tmp_path):
    make_customers(300, 3, seed=4).frame.to_csv(tmp_path / "c.csv", index=False)
    forked = run_cli("segment", "c.csv", "--out-dir", "a", "--k", "3", cwd=tmp_path)
    script = _script("segment", "c.csv", "--out-dir", "b", "--k", "3", cwd=tmp_path)
    assert forked.returncode == script.returncode == 0, (forked.stderr, script.stderr)
    assert (tmp_path / "a/assignments.csv").read_bytes() == (tmp_path / "b/assignments.csv").read_bytes()
    assert _steady(forked.stdout, "a") == _steady(script.stdout, "b")


def _steady(text: str, folder: str) -> str:
    """The output without what differs between any two runs: seconds, and the folder name."""
    text = re.sub(r"\d+(\.\d+)? ?s\b", "<t>", text)
    return re.sub(rf"\b{folder}\b", "<out>", text)


def test_the_tests_environment_reaches_the_run_as_it_reaches_a_subprocess(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMENT_COPILOT_PROVIDER", "nonsense")
    forked, script = run_cli("doctor", cwd=tmp_path), _script("doctor", cwd=tmp_path)
    assert forked.returncode == script.returncode == 1
    assert "Unknown LLM provider 'nonsense'" in forked.stdout
    assert forked.stdout == script.stdout

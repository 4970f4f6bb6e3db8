"""Run the real ``segment-copilot`` console script in a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "segment-copilot"
    if script.exists():
        return [str(script)]
    found = shutil.which("segment-copilot")
    return [found] if found else [sys.executable, "-m", "copilot.cli"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300):
    return subprocess.run(
        [*cli_command(), *map(str, args)], capture_output=True, text=True, cwd=cwd,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )


def assert_one_sentence_error(proc, *needles: str) -> None:
    """Exit code 2, no traceback, and one 'error: ...' line on stderr mentioning the needles."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.rstrip().endswith("."), line
    for needle in needles:
        assert needle.lower() in line.lower(), (needle, line)


def near_share(held: int, n: int, share: float = 0.1) -> bool:
    """``held`` of ``n`` customers is ``share`` up to sampling noise (4 standard deviations):
    the holdout hashes each ID on its own, so a segment holds out its share on average."""
    return abs(held - share * n) <= 4 * (n * share * (1 - share)) ** 0.5 + 1

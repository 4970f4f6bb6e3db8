"""Run the real ``segment-copilot`` command in its own process.

Each run is a new process with its own file descriptors, working folder, environment and exit
code, that calls ``copilot.cli.main``, the function the console script calls. The process is
forked from a server that has already imported the product and its libraries (pandas,
scikit-learn, SciPy, pyarrow: about 2 CPU-seconds a run, 150 runs a suite) instead of starting
an interpreter and importing them again. What a fresh interpreter adds (the console script's
own three lines, a signal from outside) is tested with :func:`cli_command` and
``subprocess`` where that is the point (the kill test, the tmux chat test, the installed-copy
test). ``SEGMENT_COPILOT_TEST_CLI=subprocess`` runs every test through the console script
instead, to check that both ways agree.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Imported once by the fork server, so each run starts with them loaded. The product's own
# modules read their settings (environment, working folder) when called, never on import, so
# a run forked after these imports is the same as a fresh start.
PRELOAD = ("tests.cli_preload",)

_context = None


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "segment-copilot"
    if script.exists():
        return [str(script)]
    found = shutil.which("segment-copilot")
    return [found] if found else [sys.executable, "-m", "copilot.cli"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300):
    """``segment-copilot ARGS`` in a new process; a ``subprocess.CompletedProcess``."""
    argv = [*map(str, args)]
    if _through_console_script():
        return subprocess.run([*cli_command(), *argv], check=False, capture_output=True, text=True, cwd=cwd,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    return _run_forked(argv, Path(cwd) if cwd else Path.cwd(), timeout)


def run_cli_here(*args: str):
    """``segment-copilot ARGS`` in the test's own process: ``copilot.cli.main`` with the
    standard streams captured; a ``subprocess.CompletedProcess``.

    Only for what a process of its own cannot share: the tests' Spark session. A run forked
    or started apart starts its own Java (about 20 CPU-seconds and 17 s to the first
    ``mapInPandas``), where one here reuses the session that is already active, as a CLI run
    reuses its own (``spark_session``). One Spark command per kind of run still starts its
    own Java through :func:`run_cli`. ``SEGMENT_COPILOT_TEST_CLI=subprocess`` runs these
    through the console script too."""
    argv = [*map(str, args)]
    if _through_console_script():
        return run_cli(*argv)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _main_exit_code(argv)
    return subprocess.CompletedProcess(["segment-copilot", *argv], code, out.getvalue(),
                                       err.getvalue())


class StartedRun:
    """A ``segment-copilot`` run started from the fork server and left running (output
    discarded): what ``subprocess.Popen`` offers the kill test, for a process that starts in
    milliseconds instead of importing the product for 2 CPU-seconds. Its signal handlers are a
    fresh interpreter's (the fork server restores them in each child), so SIGINT raises
    KeyboardInterrupt inside ``main`` as it does in the console script."""

    def __init__(self, argv: list[str], cwd: Path):
        self._process = _start_forked(argv, cwd, os.devnull, os.devnull)
        self.pid = self._process.pid

    def poll(self) -> int | None:
        return self._process.exitcode

    def send_signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:  # it ended and the fork server reaped it, as Popen's would
            pass

    def wait(self, timeout: float | None = None) -> int | None:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(["segment-copilot"], timeout or 0)
        return self._process.exitcode


def start_cli(*args: str, cwd: Path | None = None):
    """``segment-copilot ARGS`` started in a new process and left running: a ``StartedRun``,
    or with ``SEGMENT_COPILOT_TEST_CLI=subprocess`` a ``subprocess.Popen`` of the console
    script."""
    argv = [*map(str, args)]
    if _through_console_script():
        return subprocess.Popen([*cli_command(), *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return StartedRun(argv, Path(cwd) if cwd else Path.cwd())


def _through_console_script() -> bool:
    """Runs go through the installed console script (``SEGMENT_COPILOT_TEST_CLI=subprocess``,
    or no fork server on this system) instead of the fork server."""
    return os.environ.get("SEGMENT_COPILOT_TEST_CLI") == "subprocess" or os.name != "posix"


def _forkserver():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(list(PRELOAD))
    return _context


def _run_forked(argv: list[str], cwd: Path, timeout: float):
    with tempfile.TemporaryDirectory(prefix="cli-run-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        process = _start_forked(argv, cwd, str(out), str(err))
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(["segment-copilot", *argv], timeout)
        code = process.exitcode
        return subprocess.CompletedProcess(
            ["segment-copilot", *argv], code,
            out.read_text(encoding="utf-8", errors="replace"),
            err.read_text(encoding="utf-8", errors="replace"))


def _start_forked(argv: list[str], cwd: Path, out: str, err: str):
    """A process forked from the server that runs ``argv`` in ``cwd`` with this process's
    environment, its stdout and stderr written to the files ``out`` and ``err``; started."""
    process = _forkserver().Process(target=_child, args=(argv, str(cwd), dict(os.environ),
                                                         out, err))
    process.start()
    return process


def _main_exit_code(argv: list[str]) -> int:
    """``copilot.cli.main(argv)``'s exit code, as the console script would exit with it:
    argparse's usage errors raise SystemExit, and a message given as the code goes to
    stderr with exit code 1."""
    from copilot.cli import main

    try:
        return int(main(argv) or 0)
    except SystemExit as stop:
        if isinstance(stop.code, str):
            sys.stderr.write(stop.code + "\n")
            return 1
        return int(stop.code or 0)


def _child(argv: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """In the forked process: the console script's work, on fresh descriptors 0, 1 and 2."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                            (1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    # As a fresh interpreter would: text streams on the new descriptors, not the server's.
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.argv = ["segment-copilot", *argv]
    code = _main_exit_code(argv)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


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

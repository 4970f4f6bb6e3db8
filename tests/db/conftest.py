"""A real PostgreSQL server for the database tests: one per test session, on 127.0.0.1.

The server binaries come from Debian's ``postgresql`` package (``.ci/run`` installs it when
missing). ``initdb`` refuses to run as root, and CI runs as root, so then the cluster belongs to
the ``postgres`` system user the package creates and every server command runs as that user
(``runuser``). The user the tests connect as has a password (scram-sha-256 over TCP), so a
wrong password is refused as it would be on a real server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "copilot"
PASSWORD = "s3cret-Pw_42"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    database: str = "postgres"

    def url(self, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@{self.host}:{self.port}/{self.database}"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres():
    """A running server with a password-protected user; stopped and removed at the end."""
    pytest.importorskip("adbc_driver_postgresql", reason="the postgres extra is not installed")
    bindir = _binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's "
                    "postgresql package to run the database tests")
    # Its own folder straight under the temp root, which every user can reach: the server
    # user must open it, and pytest's own temp tree is private to the user running the tests
    # (a short path also keeps the server's socket name under the kernel's limit).
    root = Path(tempfile.mkdtemp(prefix="copilot-pg-"))
    data, pwfile, log = root / "data", root / "pw", root / "server.log"
    pwfile.write_text(PASSWORD + "\n")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres user
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", USER,
                        "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync",
                        "--no-instructions"], check=True, capture_output=True)
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                        "-o", (f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off "
                               "-c full_page_writes=off -c synchronous_commit=off"), "start"],
                       check=True, capture_output=True)
        yield Postgres(host="127.0.0.1", port=port)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m",
                            "immediate", "-w", "stop"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def run_sql(url: str, *statements: str):
    """Run statements in one transaction; the rows of the last one."""
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(url) as conn, conn.cursor() as cur:
        rows = None
        for sql in statements:
            cur.execute(sql)
            rows = cur.fetchall() if cur.description else None
        conn.commit()
    return rows


def ingest(url: str, name: str, frame, *, types: dict[str, str] | None = None) -> None:
    """``frame`` as the table ``name`` (replaced), through Arrow; ``types`` casts columns to
    SQL types in the database (numeric, boolean, ...) the way a real table declares them."""
    import pyarrow as pa
    from adbc_driver_postgresql import dbapi

    stage = f"{name}_stage"
    with dbapi.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
        cur.execute(f"DROP TABLE IF EXISTS {stage}")
        cur.adbc_ingest(stage, pa.Table.from_pandas(frame, preserve_index=False), mode="create")
        cols = ", ".join(f'"{c}"::{types[c]} AS "{c}"' if types and c in types else f'"{c}"'
                         for c in frame.columns)
        cur.execute(f"CREATE TABLE {name} AS SELECT {cols} FROM {stage}")
        cur.execute(f"DROP TABLE {stage}")
        conn.commit()

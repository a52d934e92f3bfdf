"""A private PostgreSQL server for one test: `initdb` into a temporary directory, `pg_ctl` to start, stop and
restart it on a free port. Never the machine's own server, which the rest of the suite shares.

initdb and postgres refuse to run as root, and tests run as root here: the server then runs as the
`postgres` system user (runuser), in a directory that user owns. Nothing is synced to disk (fsync off):
the test restarts the server, it does not crash the machine.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import pytest

from tests.conftest import free_port

BINARIES = ("/usr/local/bin", "/usr/lib/postgresql/15/bin")


def _binary(name: str) -> str | None:
    for folder in BINARIES:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


class PrivatePostgres:
    def __init__(self, database: str = "lectern") -> None:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("initdb/pg_ctl not found: a private PostgreSQL server cannot be started")
            pytest.skip("initdb/pg_ctl not found: a private PostgreSQL server cannot be started")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.database = database
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="lectern-private-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        command = list(argv) if self.user is None else ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}\n{log}")

    def __enter__(self) -> PrivatePostgres:
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()
        self._run(
            _binary("psql") or "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
            "-c", f'CREATE DATABASE "{self.database}"',
        )  # fmt: skip
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        """A fast shutdown: open connections are ended, as when an operator restarts the server."""
        if (self.data / "postmaster.pid").exists():
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

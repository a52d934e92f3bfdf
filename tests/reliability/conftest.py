"""Reliability fixtures: the Mux emulator and the real API over HTTP, on the database a test names."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.testing import ApiServer
from core.db.engine import make_engine, make_session_factory
from core.settings import Settings

# The API tests' emulator fixtures (session-scoped, reset per test by fresh_emu): one emulator for both suites.
from tests.api.conftest import RunningApi, emu, fresh_emu  # noqa: F401
from tests.conftest import free_port
from tests.waiting import wait_until

StartApi = Callable[..., RunningApi]


@pytest.fixture
def start_api() -> Iterator[StartApi]:
    """Start the API (uvicorn in a thread, a free port) with the given settings; stopped after the test."""
    stack: list[tuple[ApiServer, httpx.Client, Any]] = []

    def start(settings: Settings, **kwargs: Any) -> RunningApi:
        server = ApiServer(create_app(settings, **kwargs)).__enter__()
        engine = make_engine(settings.database_url)
        http = httpx.Client(base_url=server.url, timeout=30.0, limits=httpx.Limits(keepalive_expiry=2.0))
        stack.append((server, http, engine))
        return RunningApi(server.url, settings, make_session_factory(engine), http)

    yield start
    for server, http, engine in reversed(stack):
        http.close()
        server.stop()
        engine.dispose()


class LecternProcess:
    """A `lectern ...` command as its own process (`lectern api --workers 2`, a migration worker), output to a file.

    `env` replaces every LECTERN_*/DATABASE_URL/MUX_* variable of the test run's environment.
    """

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("LECTERN_", "PROMETHEUS_", "MUX_", "DATABASE_"))
        }
        self.argv = [sys.executable, "-m", "lectern", *argv]
        self.env = base | env
        self.cwd = cwd
        self.log_path = cwd / f"{argv[0]}-{os.getpid()}-{id(self)}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> LecternProcess:
        with self.log_path.open("wb") as log:  # a file, not a pipe: a full pipe would stall the process
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def lectern_api(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start `lectern api --workers N` on a free port with the given environment; its URL once /healthz answers."""
    started: list[LecternProcess] = []

    def start(env: dict[str, str], workers: int = 2) -> str:
        port = free_port()
        argv = ["api", "--port", str(port), "--workers", str(workers), "--no-access-log"]
        process = LecternProcess(argv, env, tmp_path).start()
        started.append(process)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if not process.alive():
                raise RuntimeError(f"the API exited:\n{process.output()[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(up, timeout=300, interval=0.2, what="the API answering")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; its output:\n{process.output()[-3000:]}") from None
        return url

    yield start
    for process in started:
        process.stop()

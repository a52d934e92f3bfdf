"""Reliability fixtures: the Mux emulator and the real API over HTTP, on the database a test names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.testing import ApiServer
from core.db.engine import make_engine, make_session_factory
from core.settings import Settings
from emulator.testing import EmulatorServer
from tests.api.conftest import WEBHOOK_SECRET, RunningApi

StartApi = Callable[..., RunningApi]


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(
        webhook_secret=WEBHOOK_SECRET,
        processing_delay=0.0,
        webhook_retry_base=0.05,
        webhook_retry_cap=0.5,
        webhook_attempt_timeout=2.0,
    ) as server:
        yield server


@pytest.fixture
def fresh_emu(emu: EmulatorServer) -> Iterator[EmulatorServer]:
    emu.reset()
    emu.clear_faults()
    yield emu
    emu.set_webhook_urls([])
    emu.clear_faults()


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

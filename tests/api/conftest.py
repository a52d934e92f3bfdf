"""API test fixtures: the real API over HTTP (uvicorn thread), the Mux emulator, moto S3, both databases."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from api.testing import ApiServer
from core.auth import mint_token
from core.db.engine import make_engine, make_session_factory
from core.settings import Settings, load_settings
from emulator.testing import EmulatorServer
from tests.conftest import S3Server

JWT_SECRET = "platform-jwt-secret-for-api-tests-0123456789"
WEBHOOK_SECRET = "whsec-api-tests"


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s 320x240 H.264/AAC clip of ~300 KB (two 256 KiB upload chunks)."""
    path = tmp_path_factory.mktemp("clips") / "lesson.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine", "-t", "3",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-b:v", "2M", "-c:a", "aac", "-shortest", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def api_settings(
    db_url: str, s3: S3Server | None = None, emu: EmulatorServer | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "platform_jwt_secret": JWT_SECRET,
        "mux_webhook_secret": WEBHOOK_SECRET,
        "lesson_events_poll_s": 0.05,
        # The test client scrapes /metrics from loopback (off by default: tests/api/test_health.py).
        "metrics_allow": ["127.0.0.1/32"],
    }
    if s3 is not None:
        values |= {
            "s3_endpoint_url": s3.endpoint_url,
            "s3_bucket": s3.bucket,
            "aws_access_key_id": s3.access_key,
            "aws_secret_access_key": s3.secret_key,
            "aws_region": s3.region,
        }
    if emu is not None:
        values |= {
            "mux_api_url": emu.url,
            "mux_token_id": emu.token_id,
            "mux_token_secret": emu.token_secret,
            "mux_stream_base_url": f"{emu.url}/stream",
            "mux_image_base_url": f"{emu.url}/image",
            "mux_webhook_secret": emu.webhook_secret,
        }
    return load_settings(**(values | overrides))


@dataclass
class RunningApi:
    url: str
    settings: Settings
    session_factory: sessionmaker[Session]
    http: httpx.Client

    def token(self, user_id: int) -> str:
        return mint_token(JWT_SECRET, user_id, ttl_s=600)

    def auth(self, user_id: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}


ApiFactory = Callable[..., RunningApi]


@pytest.fixture
def start_api(db_url: str) -> Iterator[ApiFactory]:
    """Start the API (real uvicorn on a free port) with the given settings; stopped after the test."""
    stack: list[tuple[ApiServer, httpx.Client, Any]] = []

    def start(settings: Settings | None = None, **kwargs: Any) -> RunningApi:
        settings = settings or api_settings(db_url)
        server = ApiServer(create_app(settings, **kwargs)).__enter__()
        engine = make_engine(settings.database_url)
        # keep-alive shorter than uvicorn's 5 s, so no request races the server closing an idle connection
        http = httpx.Client(base_url=server.url, timeout=30.0, limits=httpx.Limits(keepalive_expiry=2.0))
        stack.append((server, http, engine))
        return RunningApi(server.url, settings, make_session_factory(engine), http)

    yield start
    for server, http, engine in reversed(stack):
        http.close()
        server.stop()
        engine.dispose()

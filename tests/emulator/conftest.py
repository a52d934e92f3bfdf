"""Fixtures for the emulator tests: one emulator per session (reset per test), real clips, receivers."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import mux_python
import pytest

from emulator.testing import EmulatorServer
from tests.emulator.helpers import Clips, Received, WebhookReceiver, make_client


def _ffmpeg(*args: str) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", *args]
    subprocess.run(cmd, check=True, capture_output=True)


def _clip(dest: Path, size: str, extra: tuple[str, ...] = ()) -> Path:
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440",
        "-t", "3", *extra,
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", str(dest),
    )  # fmt: skip
    return dest


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    root = tmp_path_factory.mktemp("clips")
    text = root / "notes.txt"
    text.write_text("These are lecture notes, not a video.\n" * 200)
    return Clips(
        small=_clip(root / "small.mp4", "320x240"),
        vga=_clip(root / "vga.mp4", "640x480"),
        noisy=_clip(root / "noisy.mp4", "320x240", ("-vf", "noise=alls=20:allf=t")),
        text=text,
    )


@pytest.fixture(scope="session")
def emu_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(
        webhook_retry_base=0.05,
        webhook_retry_cap=0.5,
        webhook_attempt_timeout=0.5,
        upload_sweep_interval=0.2,
    ) as server:
        yield server


@pytest.fixture
def emu(emu_server: EmulatorServer) -> EmulatorServer:
    """The shared emulator with all state, faults and runtime config put back to a clean start."""
    emu_server.configure(webhook_urls=[], webhook_secret="whsec-test", processing_delay=0.0, max_page_limit=100)
    emu_server.reset()
    return emu_server


@pytest.fixture
def mux_client(emu: EmulatorServer) -> Iterator[mux_python.ApiClient]:
    client = make_client(emu)
    yield client
    client.close()


@pytest.fixture
def assets_api(mux_client: mux_python.ApiClient) -> mux_python.AssetsApi:
    return mux_python.AssetsApi(mux_client)


@pytest.fixture
def uploads_api(mux_client: mux_python.ApiClient) -> mux_python.DirectUploadsApi:
    return mux_python.DirectUploadsApi(mux_client)


@pytest.fixture
def keys_api(mux_client: mux_python.ApiClient) -> mux_python.SigningKeysApi:
    return mux_python.SigningKeysApi(mux_client)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    holder: dict[str, WebhookReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state = holder["receiver"]
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                hang = state.hang_seconds.popleft() if state.hang_seconds else 0.0
                status = state.statuses.popleft() if state.statuses else 200
            if hang:
                time.sleep(hang)  # a receiver too slow to answer: the emulator must give up on it
                return
            with state.lock:
                state.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, time.monotonic())
                )
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = WebhookReceiver(server=server)
    holder["receiver"] = state
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()

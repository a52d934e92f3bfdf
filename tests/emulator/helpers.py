"""Helpers shared by the emulator tests (fixtures live in conftest.py)."""

from __future__ import annotations

import collections
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import mux_python

from emulator.testing import EmulatorServer
from tests.waiting import wait_until

CHUNK = 256 * 1024


@dataclass(frozen=True)
class Clips:
    small: Path  # 320x240, 3 s, 25 fps, with audio
    vga: Path  # 640x480, 3 s: two renditions
    noisy: Path  # 320x240, 3 s, ~1 MB: several 256 KiB chunks
    text: Path  # not media at all


def make_client(emu: EmulatorServer, **settings: Any) -> mux_python.ApiClient:
    config = mux_python.Configuration(host=emu.url, username=emu.token_id, password=emu.token_secret)
    for key, value in settings.items():
        setattr(config, key, value)
    return mux_python.ApiClient(config)


def put_whole(url: str, path: Path) -> httpx.Response:
    return httpx.put(url, content=path.read_bytes(), headers={"Content-Type": "video/mp4"})


def put_chunked(url: str, data: bytes, chunk: int = CHUNK, resend: int | None = None) -> list[httpx.Response]:
    """Upload like UpChunk: Content-Range chunks, follow the 308 Range; optionally resend chunk #resend."""
    total, offset, index = len(data), 0, 0
    responses: list[httpx.Response] = []
    with httpx.Client(timeout=30) as client:
        while offset < total:
            end = min(offset + chunk, total) - 1
            headers = {"Content-Range": f"bytes {offset}-{end}/{total}", "Content-Type": "video/mp4"}
            response = client.put(url, content=data[offset : end + 1], headers=headers)
            responses.append(response)
            if index == resend:
                responses.append(client.put(url, content=data[offset : end + 1], headers=headers))
            index += 1
            if response.status_code == 200:
                break
            assert response.status_code == 308, response.text
            offset = int(response.headers["Range"].split("-")[1]) + 1
    return responses


def upload_and_wait(
    emu: EmulatorServer,
    uploads_api: mux_python.DirectUploadsApi,
    path: Path,
    *,
    policy: str = "public",
    **settings: Any,
) -> dict[str, Any]:
    """Direct-upload a file through mux-python + a PUT, then wait until the asset is ready."""
    request = mux_python.CreateUploadRequest(
        cors_origin="*",
        new_asset_settings=mux_python.CreateAssetRequest(playback_policies=[policy], **settings),
    )
    upload = uploads_api.create_direct_upload(request).data
    assert put_whole(upload.url, path).status_code == 200
    asset_id = uploads_api.get_direct_upload(upload.id).data.asset_id
    return emu.wait_for_asset_status(asset_id, "ready")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class WebhookReceiver:
    """A tiny HTTP server recording raw webhook requests; answers from a queue of status codes."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    statuses: collections.deque[int] = field(default_factory=collections.deque)
    hang_seconds: collections.deque[float] = field(default_factory=collections.deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/mux"

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 15.0) -> list[Received]:
        def met() -> list[Received] | None:
            with self.lock:
                snapshot = list(self.requests)
            return snapshot if predicate(snapshot) else None

        return wait_until(met, timeout, interval=0.02, what="receiver condition")


def verify_mux_signature(header: str | None, raw: bytes, secret: str, tolerance: float = 300.0) -> bool:
    """Independent implementation of Mux's documented scheme, to check the emulator's signatures."""
    if not header:
        return False
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures or abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)

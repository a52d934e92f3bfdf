"""In-process emulator for tests: `with EmulatorServer() as emu: ...`.

Starts uvicorn in a background thread on a free 127.0.0.1 port and talks to it only over HTTP, so a
test exercises exactly what a separate `lectern emulator` process would serve.

api/testing.py does the same for Lectern's API on purpose: the emulator shares no code with Lectern (it
stands in for Mux), so the likeness is deliberate.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from emulator.app import create_app
from emulator.config import EmulatorConfig

STARTUP_TIMEOUT = 15.0


class EmulatorServer:
    def __init__(
        self,
        token_id: str = "test-id",
        token_secret: str = "test-secret",
        webhook_urls: Iterable[str] = (),
        webhook_secret: str = "whsec-test",
        processing_delay: float = 0.0,
        data_dir: str | Path | None = None,
        state_file: str | Path | None = None,
        port: int = 0,
        **overrides: Any,
    ) -> None:
        self.config = EmulatorConfig(
            host="127.0.0.1",
            port=port,
            token_id=token_id,
            token_secret=token_secret,
            webhook_urls=list(webhook_urls),
            webhook_secret=webhook_secret,
            processing_delay=processing_delay,
            data_dir=Path(data_dir) if data_dir is not None else None,
            state_file=Path(state_file) if state_file is not None else None,
            **overrides,
        )
        self.token_id = token_id
        self.token_secret = token_secret
        self.webhook_secret = webhook_secret
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets, and without it
        # every request pays a ~40 ms Nagle/delayed-ACK stall.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.config.port))
        self.config.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.config.port}"
        app = create_app(self.config)
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level=self.config.log_level, lifespan="on", timeout_graceful_shutdown=5)
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="mux-emulator", daemon=True
        )
        self._thread.start()
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them: a request sent on a
        # connection the server is closing at that moment fails with a reset.
        self._http = httpx.Client(base_url=self.url, timeout=10.0, limits=httpx.Limits(keepalive_expiry=2.0))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._server.started:
                try:
                    if self._http.get("/_emulator/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            if not self._thread.is_alive():
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"Mux emulator did not become healthy on {self.url}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._http is not None:
            self._http.close()
        self._server = self._thread = self._http = None

    # -- control helpers (all over HTTP) --------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        """An httpx client bound to the emulator (no auth; add it for /video/v1 calls)."""
        if self._http is None:
            raise RuntimeError("EmulatorServer is not running")
        return self._http

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.http.request(method, path, json=json)
        response.raise_for_status()
        return response.json()

    def set_webhook_urls(self, urls: Iterable[str]) -> None:
        self.configure(webhook_urls=list(urls))

    def configure(self, **changes: Any) -> dict[str, Any]:
        """PUT /_emulator/config (webhook_urls, webhook_secret, processing_delay, ...)."""
        data: dict[str, Any] = self._call("PUT", "/_emulator/config", changes)["data"]
        if "webhook_secret" in changes:
            self.webhook_secret = changes["webhook_secret"]
        return data

    def set_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("PUT", "/_emulator/faults", faults)["data"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/_emulator/faults")

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset")

    def set_asset_raw(self, asset_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """PATCH /_emulator/assets/{id}/raw: serve the asset with these fields as given (a status Mux may add)."""
        data: dict[str, Any] = self._call("PATCH", f"/_emulator/assets/{asset_id}/raw", fields)["data"]
        return data

    def webhook_log(self, **filters: str) -> list[dict[str, Any]]:
        response = self.http.get("/_emulator/webhooks", params=filters)
        response.raise_for_status()
        return list(response.json()["data"])

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        params = {"type": event_type} if event_type else {}
        response = self.http.get("/_emulator/events", params=params)
        response.raise_for_status()
        return list(response.json()["data"])

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_emulator/stats")["data"])

    def advance_clock(self, seconds: float) -> float:
        return float(self._call("POST", "/_emulator/clock/advance", {"seconds": seconds})["data"]["now"])

    def wait_for_asset_status(self, asset_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll GET /video/v1/assets/{id} until it has `status`; returns the asset JSON.

        Raises AssertionError at once if the asset errors while waiting for another status, and
        TimeoutError after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while True:
            response = self.http.get(f"/video/v1/assets/{asset_id}", auth=(self.token_id, self.token_secret))
            if response.status_code == 200:
                last = response.json()["data"]
                if last["status"] == status:
                    return last
                if last["status"] == "errored" and status != "errored":
                    raise AssertionError(f"asset {asset_id} errored: {last.get('errors')}")
            if time.monotonic() >= deadline:
                seen = last.get("status", response.status_code)
                raise TimeoutError(f"asset {asset_id} not {status} after {timeout} s (last: {seen})")
            time.sleep(0.05)

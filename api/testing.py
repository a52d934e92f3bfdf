"""Serve an app over real HTTP from a background thread: `with ApiServer(app) as server: server.url`.

For tests and the benchmark. Uvicorn binds a free 127.0.0.1 port first, so the URL is known before the
app starts; `start` returns once /healthz answers.

emulator/testing.py does the same for the Mux emulator on purpose: the emulator shares no code with Lectern
(it stands in for Mux), so the likeness is deliberate.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from api.server import server_config, tcp_listener

STARTUP_TIMEOUT_S = 15.0


class ApiServer:
    def __init__(self, app: Any, *, port: int = 0, log_level: str = "warning", **uvicorn_options: Any) -> None:
        self.app = app
        self.port = port
        self.log_level = log_level
        self.options = uvicorn_options
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        sock = tcp_listener("127.0.0.1", self.port)  # TCP_NODELAY: see api/server.py
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        options: dict[str, Any] = {
            "log_level": self.log_level,
            "lifespan": "on",
            "timeout_graceful_shutdown": 5,
            "access_log": False,
            "log_config": None,
            **self.options,
        }
        # A Lectern app is served as `lectern api` serves it (with its request-head limits).
        settings = getattr(getattr(getattr(self.app, "state", None), "services", None), "settings", None)
        config = server_config(self.app, settings, **options) if settings else uvicorn.Config(self.app, **options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"lectern-api-{self.port}"
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client(base_url=self.url, timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self._server.started:
                    try:
                        if http.get("/healthz").status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                if not self._thread.is_alive():
                    break
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"Lectern API did not start on {self.url}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._server = self._thread = None

"""Running the API under uvicorn (one process, or several workers sharing one listening socket).

We bind the socket ourselves: uvicorn's own multi-worker socket is created without `IPPROTO_TCP`, so
asyncio never sets TCP_NODELAY on accepted connections and every keep-alive response whose headers and
body go out in two writes waits ~40 ms for a delayed ACK (measured: /healthz median 48 ms with
`--workers 2`, 2.6 ms with one worker).
"""

from __future__ import annotations

import json
import socket
from http import HTTPStatus
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from api.errors import error_body, error_headers, status_for
from core.errors import HeadersTooLarge
from core.logging import get_logger
from core.memory import keep_freed_memory
from core.metrics import prepare_directory, use_directory
from core.settings import Settings

HEAD_END = b"\r\n\r\n"
log = get_logger(__name__)


class HeaderLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with limits on the request head, answered 431 before the app runs.

    httptools (uvicorn's parser) keeps a header line in memory until it ends, with no cap: a 64 MB header
    was read whole. Here the bytes of a request's head are counted as they arrive (request line and headers,
    up to the blank line) and the header lines as the parser reports them; over either limit the connection
    gets a 431 and is closed. The limits travel on uvicorn's Config (`head_limits`), which is pickled to
    worker processes. (h11's `h11_max_incomplete_event_size` would cap the bytes but answer 400.)
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limits: tuple[int, int] = getattr(config, "head_limits", (16 * 1024, 100))
        self.max_head_bytes, self.max_headers = limits
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._header_count = 0
        self._refused: str | None = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            end = (self._head_tail + data).find(HEAD_END)
            head_part = len(data) if end < 0 else end + len(HEAD_END) - len(self._head_tail)
            if self._head_bytes + head_part > self.max_head_bytes:
                self._refuse(f"request line and headers over {self.max_head_bytes} bytes")
                return
            self._head_bytes += len(data)
            self._head_tail = data[-(len(HEAD_END) - 1) :]
        super().data_received(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._refused = f"more than {self.max_headers} header lines"
            raise ValueError(self._refused)  # httptools stops parsing; send_400_response answers below
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._head_tail, self._header_count = True, 0, b"", 0

    def send_400_response(self, msg: str) -> None:
        if self._refused is not None:
            self._refuse(self._refused)
            return
        super().send_400_response(msg)

    def _refuse(self, reason: str) -> None:
        self.logger.warning("Request refused: %s", reason)
        error = HeadersTooLarge(reason)
        body = json.dumps(error_body(error)).encode()
        status = HTTPStatus(status_for(error))
        headers = {"content-type": "application/json", **error_headers(error), "connection": "close"}
        headers["content-length"] = str(len(body))
        lines = [f"HTTP/1.1 {status.value} {status.phrase}", *(f"{k.lower()}: {v}" for k, v in headers.items())]
        head = "\r\n".join(lines) + "\r\n\r\n"
        self.transport.write(head.encode() + body)
        self.transport.close()
        self._in_head = False


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's Config with Lectern's request-head limits (every way of serving the API goes through here)."""
    config = uvicorn.Config(app, http=HeaderLimitedProtocol, **options)
    config.head_limits = (settings.api_max_header_bytes, settings.api_max_headers)  # type: ignore[attr-defined]
    return config


def tcp_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def share_metrics(directory: Path) -> None:
    """Every worker writes its metrics to `directory` and /metrics merges them all (core/metrics.py).

    Done here, in the process that starts the workers and before it starts them: the files of processes that
    have ended go (a restart starts the API's counters from zero), and the workers, spawned afresh, find the
    directory in their environment when they import prometheus_client.
    """
    removed = prepare_directory(directory)
    use_directory(directory)
    log.info("api.metrics_directory", directory=str(directory), removed_files=removed)


def serve(settings: Settings, *, host: str, port: int, workers: int = 1, access_log: bool = True) -> None:
    options: dict[str, Any] = {
        "log_config": None,  # our handler on the root logger (JSON lines, secrets redacted)
        "access_log": access_log,
        "log_level": settings.log_level.lower(),
        "lifespan": "on",
    }
    settings.require_api_secrets()  # before binding or forking: one clear error, not one per worker
    sock = tcp_listener(host, port)
    if settings.metrics_dir is not None:
        share_metrics(settings.metrics_dir)
    if workers == 1:
        # Imported here: a parent of several workers never builds an app, and the app's imports (pandas for
        # the cost routes) take seconds the workers spend anyway.
        from api.main import create_app

        keep_freed_memory()
        uvicorn.Server(server_config(create_app(settings), settings, **options)).run(sockets=[sock])
        return
    # Each worker builds its own app from the same environment (an import string is required).
    # A worker answers uvicorn's health pings only once it has imported everything (~5-10 s on a busy 2-core
    # machine); uvicorn's 5 s default killed every worker mid-import, forever.
    config = server_config(
        "api.main:app_from_env", settings, factory=True, workers=workers, timeout_worker_healthcheck=60, **options
    )
    Multiprocess(config, sockets=[sock]).run()

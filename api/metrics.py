"""The API's Prometheus metrics, correct with any number of worker processes.

Under `lectern api` the process is in prometheus_client's multiprocess mode (core/metrics.py): every worker
writes its values to the shared metrics directory, and /metrics merges the files of every process there
(API workers, the sync scheduler, migration workers), whichever worker answers. Anywhere else (tests, an app
embedded by hand) each app has its own in-memory registry, so two apps in one process never share counters.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from core.metrics import collect_directory, multiprocess_dir

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Instruments:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.requests = Counter(
            "lectern_http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "lectern_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "lectern_http_requests_in_progress",
            "HTTP requests being answered now (open event streams included), over live API workers.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.webhooks = Counter(
            "lectern_webhook_events",
            "Mux webhook deliveries by event type and outcome.",
            ["type", "outcome"],
            registry=registry,
        )


@cache
def _process_instruments() -> _Instruments:
    # Multiprocess mode: one set per process. Two objects for one metric would each write their own running
    # total to the same place in the process's file, and the last writer would win.
    return _Instruments(None)


class ApiMetrics:
    def __init__(self) -> None:
        self.directory: Path | None = multiprocess_dir()
        self.registry = CollectorRegistry(auto_describe=True)
        instruments = _Instruments(self.registry) if self.directory is None else _process_instruments()
        self.requests = instruments.requests
        self.latency = instruments.latency
        self.in_progress = instruments.in_progress
        self.webhooks = instruments.webhooks

    def exposition(self) -> bytes:
        """The Prometheus text /metrics answers (blocking: reads the directory's files in multiprocess mode)."""
        if self.directory is None:
            return generate_latest(self.registry)
        return collect_directory(self.directory)


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead); labels by route template, never by raw path."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.in_progress.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)

"""One ASGI middleware for what precedes every route: stats, basic auth, rate limits, faults, CORS.

Order mirrors a real edge: authenticate first (401 before 404), then rate-limit, then (injected)
upstream failures. Control routes (/_emulator) are exempt from all of it.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import uuid
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.errors import (
    HostError,
    is_api_path,
    mux_error_response,
    too_many_requests_response,
    unauthorized,
)
from emulator.faults import route_key
from emulator.runtime import Emulator

CONTROL_PREFIX = "/_emulator"
_FAULT_BODIES = {
    500: ("internal_server_error", "An unexpected error occurred, please retry."),
    503: ("service_unavailable", "The service is temporarily unavailable, please retry."),
}


def _template(scope: Scope) -> str | None:
    """The route template a request will hit (`/video/v1/assets/{asset_id}`), for stats and faults."""
    path, method = scope["path"], scope["method"]
    partial: str | None = None
    for regex, template, methods in scope["app"].state.route_table:
        if regex.match(path):
            if method in methods or (method == "HEAD" and "GET" in methods):
                return str(template)
            partial = partial or str(template)
    return partial


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _authorized(emu: Emulator, scope: Scope) -> bool:
    header = _header(scope, b"authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    ok_user = hmac.compare_digest(user.encode(), emu.config.token_id.encode())
    ok_password = hmac.compare_digest(password.encode(), emu.config.token_secret.encode())
    return ok_user and ok_password


def _fault_response(status: int, path: str, retry_after: int | None) -> Response:
    if status == 429:
        return too_many_requests_response(retry_after)
    error_type, message = _FAULT_BODIES[status]
    if is_api_path(path):
        return mux_error_response(status, error_type, [message])
    if path.startswith(("/stream/", "/image/")):
        return JSONResponse(
            HostError(status, message).body(), status_code=status, headers={"Access-Control-Allow-Origin": "*"}
        )
    return Response(message, status_code=status, media_type="text/plain")


class EmulatorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        emu: Emulator = scope["app"].state.emulator
        path: str = scope["path"]
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            await self._control(emu, scope, receive, send)
            return
        method: str = scope["method"]
        template = _template(scope)
        key = f"{method} {template}" if template else f"{method} <unmatched>"
        extra_headers: list[tuple[bytes, bytes]] = []
        status_seen: dict[str, int] = {}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen["status"] = message["status"]
                message["headers"] = list(message.get("headers", [])) + extra_headers
            await send(message)

        try:
            response: Response | None = None
            if is_api_path(path):
                extra_headers.append((b"x-request-id", uuid.uuid4().hex.encode()))
                if not _authorized(emu, scope):
                    response = unauthorized().response()
                else:
                    allowed, limit_headers, wait = emu.faults.rate_limit(method)
                    extra_headers += [(k.lower().encode(), v.encode()) for k, v in limit_headers.items()]
                    if not allowed:
                        response = too_many_requests_response(wait)
            if response is None:
                decision = emu.faults.decide(route_key(method, template or path))
                if decision is not None:
                    if decision.latency_ms:
                        await asyncio.sleep(decision.latency_ms / 1000)
                    if decision.status is not None:
                        response = _fault_response(decision.status, path, decision.retry_after)
            if response is not None:
                await _drain(receive)
                await response(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            emu.stats.record(key, status_seen.get("status", 500))

    async def _control(self, emu: Emulator, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin")
        allowed = origin is not None and ("*" in emu.config.cors_origins or origin in emu.config.cors_origins)
        cors: list[tuple[bytes, bytes]] = []
        if allowed and origin is not None:
            cors = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            headers: dict[str, Any] = {k.decode(): v.decode() for k, v in cors}
            if allowed:
                headers |= {
                    "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS",
                    "access-control-allow-headers": _header(scope, b"access-control-request-headers") or "*",
                }
            await Response(status_code=204, headers=headers)(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and cors:
                message["headers"] = list(message.get("headers", [])) + cors
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def _drain(receive: Receive) -> None:
    """Consume the request body we are not going to read, so the connection stays reusable."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return

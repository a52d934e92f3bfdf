"""Pure ASGI middleware that guards every request before a route runs.

- `BodyLimitMiddleware`: a body over the limit is answered 413 without being read: a Content-Length over
  it at once, a chunked body as soon as the bytes counted so far pass it.
- `AuthBeforeBodyMiddleware`: a request with a body to an authenticated route must carry a valid bearer
  token before one byte of that body is read (FastAPI reads and parses a body before it resolves the
  dependencies that authenticate).
- `SecurityHeadersMiddleware`: nosniff, referrer and framing policy on every answer; HSTS over https.

Pure ASGI rather than `BaseHTTPMiddleware`, which would buffer and cost a task per request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from api.errors import error_body, error_headers, status_for
from core.auth import bearer_token
from core.errors import BodyTooLarge, LecternError, Unauthenticated

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def send_error(send: Any, exc: LecternError, *, extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """The project's error shape, sent straight on the ASGI channel (no app behind it has run)."""
    body = json.dumps(error_body(exc)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in error_headers(exc).items()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status_for(exc), "headers": headers})
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def has_body(scope: Scope) -> bool:
    length = header(scope, b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return header(scope, b"transfer-encoding") is not None


def declared_over(content_length: bytes | str, limit: int) -> bool:
    """Whether a Content-Length declares more than `limit` bytes (a value too long to be a size counts as more)."""
    value = content_length.strip()
    if not value.isascii() or not value.isdigit():
        return False  # not a length: the HTTP parser refuses it, or the streamed count below decides
    return len(value) > 18 or int(value) > limit


class BodyLimitMiddleware:
    """`limit` bytes for every route; `per_path` overrides it (None: that route enforces its own limit)."""

    def __init__(self, app: Any, *, limit: int, per_path: Mapping[str, int | None] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.limit)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared_over(declared, limit):
            await send_error(send, BodyTooLarge(limit), extra_headers=((b"connection", b"close"),))
            return
        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app made of the cut-off body is replaced by the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await send_error(send, BodyTooLarge(limit), extra_headers=((b"connection", b"close"),))


class AuthBeforeBodyMiddleware:
    """Requests with a body to `prefix` (except `public` paths) need a valid bearer token before it is read.

    `verify` checks the token (signature and expiry; the route still checks the user and the lesson).
    `self_authenticating` matches routes that authenticate themselves and read at most a small body of their
    own limit first (progress reports: a sendBeacon carries its ticket in the URL or the body, never a header).
    """

    def __init__(
        self,
        app: Any,
        *,
        verify: Callable[[str], object],
        prefix: str = "/api/",
        public: frozenset[str] = frozenset(),
        self_authenticating: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.verify = verify
        self.prefix = prefix
        self.public = public
        self.self_authenticating = self_authenticating

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(self.prefix)
            and scope["path"] not in self.public
            and has_body(scope)
            and not (self.self_authenticating and self.self_authenticating.fullmatch(scope["path"]))
        ):
            try:
                raw = header(scope, b"authorization")
                self.verify(bearer_token(raw.decode("latin-1") if raw is not None else None))
            except Unauthenticated as exc:
                await send_error(send, exc, extra_headers=((b"connection", b"close"),))
                return
        await self.app(scope, receive, send)


def security_headers(*, frame_ancestors: list[str], hsts_max_age_s: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(headers for every answer, the HSTS value). Pure, so the policy is tested without a server."""
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", f"frame-ancestors {ancestors}".encode()),
    ]
    if not frame_ancestors:
        headers.append((b"x-frame-options", b"DENY"))  # for browsers that predate frame-ancestors
    return headers, f"max-age={hsts_max_age_s}; includeSubDomains".encode()


class SecurityHeadersMiddleware:
    """Adds the policy headers a route did not set itself; HSTS on https (or always, with `hsts_always`)."""

    def __init__(
        self, app: Any, *, frame_ancestors: list[str], hsts_always: bool = False, hsts_max_age_s: int = 15552000
    ) -> None:
        self.app = app
        self.headers, self.hsts = security_headers(frame_ancestors=frame_ancestors, hsts_max_age_s=hsts_max_age_s)
        self.hsts_always = hsts_always

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        add = list(self.headers)
        if self.hsts_always or scope.get("scheme") == "https":
            add.append((b"strict-transport-security", self.hsts))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in add if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)

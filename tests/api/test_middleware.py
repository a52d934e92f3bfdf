"""Request guards over real HTTP: body limits (declared and chunked), authentication before the body,
security headers, CORS."""

from __future__ import annotations

import asyncio
import json

import pytest

from api.middleware import BodyLimitMiddleware, declared_over, security_headers
from core.db.engine import transaction
from tests.api.conftest import JWT_SECRET, ApiFactory, RunningApi, api_settings
from tests.api.rawhttp import connect, read_response
from tests.factories import make_lesson, make_user

UPLOAD = "/api/videos/mux/upload-url"


@pytest.fixture
def api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url))


@pytest.fixture
def teacher(api: RunningApi) -> int:
    with transaction(api.session_factory) as s:
        return make_user(s, "teacher").id


def head(api: RunningApi, method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{api.url.rsplit(':', 1)[1]}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def json_auth(api: RunningApi, user_id: int) -> dict[str, str]:
    return api.auth(user_id) | {"Content-Type": "application/json"}


def test_a_declared_body_over_the_limit_is_413_before_it_is_sent(api: RunningApi, teacher: int) -> None:
    sock = connect(api.url, timeout=5)
    with sock:
        # 100 MB announced, not one byte sent: the answer comes at once (the probe's 100 MB JSON was read whole).
        sock.sendall(head(api, "POST", UPLOAD, {"Content-Length": str(100 * 2**20), **api.auth(teacher)}))
        status, headers, body = read_response(sock)
    assert status == 413
    assert json.loads(body) == {
        "error": {"type": "BodyTooLarge", "kind": "too_large", "message": "request body over 65536 bytes"}
    }
    assert headers["x-content-type-options"] == "nosniff"  # outer middleware still applies


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit(api: RunningApi, teacher: int) -> None:
    sock = connect(api.url, timeout=5)
    with sock:
        sock.sendall(head(api, "POST", UPLOAD, {"Transfer-Encoding": "chunked", **api.auth(teacher)}))
        piece = b"x" * 40_000
        for _ in range(2):  # 80,000 bytes, and the body never ends (no last chunk)
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        status, _, body = read_response(sock)
    assert status == 413 and json.loads(body)["error"]["type"] == "BodyTooLarge"


def test_a_body_under_the_limit_still_reaches_the_route(api: RunningApi, teacher: int) -> None:
    resp = api.http.post(UPLOAD, content=b'{"lesson_id": 999999}' + b" " * 60_000, headers=json_auth(api, teacher))
    # Parsed and answered by the route (which needs Mux, not configured here).
    assert (resp.status_code, resp.json()["error"]["type"]) == (503, "NotConfigured")


def test_the_limit_is_a_setting(db_url: str, start_api: ApiFactory) -> None:
    api = start_api(api_settings(db_url, api_max_body_bytes=2048))
    with transaction(api.session_factory) as s:
        user = make_user(s, "teacher").id
    ok = api.http.post(UPLOAD, content=b'{"lesson_id": 999999}' + b" " * 2000, headers=json_auth(api, user))
    assert ok.status_code == 503  # reached the route
    big = api.http.post(UPLOAD, content=b'{"lesson_id": 999999}' + b" " * 2100, headers=json_auth(api, user))
    assert big.status_code == 413


def test_the_webhook_keeps_its_own_larger_limit(api: RunningApi) -> None:
    # 200 KB: over the API's 64 KB, under LECTERN_WEBHOOK_MAX_BODY_BYTES (1 MB) -> the signature is checked.
    resp = api.http.post("/api/videos/mux/webhook", content=b"{" + b" " * 200_000 + b"}")
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "WebhookSignatureInvalid"
    over = api.http.post("/api/videos/mux/webhook", content=b" " * (api.settings.webhook_max_body_bytes + 1))
    assert over.status_code == 413


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwdw=="])
def test_authentication_comes_before_the_body(api: RunningApi, authorization: str | None) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": "60000"}
    if authorization:
        headers["Authorization"] = authorization
    sock = connect(api.url, timeout=5)
    with sock:
        sock.sendall(head(api, "POST", UPLOAD, headers))  # the body is never sent: no token, no reading
        status, headers_out, body = read_response(sock)
    assert status == 401 and json.loads(body)["error"]["type"] == "Unauthenticated"
    assert headers_out["www-authenticate"] == "Bearer"


def test_security_headers_on_every_answer(api: RunningApi, teacher: int) -> None:
    with transaction(api.session_factory) as s:
        lesson = make_lesson(s).id
    for resp in (
        api.http.get("/healthz"),
        api.http.get(f"/api/videos/{lesson}/playback"),  # 401
        api.http.get(f"/api/videos/{lesson}/playback", headers=api.auth(teacher)),  # 404
        api.http.get("/nowhere"),
    ):
        assert resp.headers["x-content-type-options"] == "nosniff", resp.url
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert resp.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert resp.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in resp.headers  # plain http, HSTS not forced
    assert JWT_SECRET not in resp.text


def test_frame_ancestors_allow_list_and_forced_hsts(db_url: str, start_api: ApiFactory) -> None:
    api = start_api(api_settings(db_url, api_frame_ancestors=["https://courses.example", "'self'"], api_hsts=True))
    resp = api.http.get("/healthz")
    assert resp.headers["content-security-policy"] == "frame-ancestors https://courses.example 'self'"
    assert "x-frame-options" not in resp.headers  # it cannot name an allow-list; CSP does
    assert resp.headers["strict-transport-security"] == "max-age=15552000; includeSubDomains"


def test_hsts_is_sent_on_https_requests() -> None:
    headers, hsts = security_headers(frame_ancestors=[], hsts_max_age_s=60)
    assert hsts == b"max-age=60; includeSubDomains"
    assert (b"x-frame-options", b"DENY") in headers


def test_cors_is_off_by_default_and_an_allow_list_when_set(db_url: str, start_api: ApiFactory) -> None:
    preflight = {"Origin": "https://courses.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}  # fmt: skip
    off = start_api(api_settings(db_url))
    resp = off.http.options("/api/videos/1/playback", headers=preflight)
    assert "access-control-allow-origin" not in resp.headers
    on = start_api(api_settings(db_url, api_cors_origins=["https://courses.example"]))
    resp = on.http.options("/api/videos/1/playback", headers=preflight)
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "https://courses.example"
    assert "authorization" in resp.headers["access-control-allow-headers"].lower()
    other = on.http.options("/api/videos/1/playback", headers=preflight | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    simple = on.http.get("/healthz", headers={"Origin": "https://courses.example"})
    assert simple.headers["access-control-allow-origin"] == "https://courses.example"


@pytest.mark.parametrize(
    ("content_length", "over"),
    [("100", False), ("65537", True), (" 65536 ", False), ("9" * 5000, True), ("²", False), ("-1", False)],
)
def test_declared_lengths_are_compared_without_int_on_huge_values(content_length: str, over: bool) -> None:
    # int() of 5,000 digits raises (Python's digit limit): the middleware answered 500 behind an ASGI server
    # that passes such a header on (uvicorn's httptools parser refuses it first).
    assert declared_over(content_length, 65536) is over
    assert declared_over(content_length.encode(), 65536) is over


def test_a_huge_declared_length_is_413_at_the_asgi_level() -> None:
    sent: list[dict[str, object]] = []

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the route must not run")

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/api/x", "method": "POST", "headers": [(b"content-length", b"9" * 5000)]}
    asyncio.run(BodyLimitMiddleware(app, limit=65536)(scope, receive, send))
    assert sent[0]["status"] == 413

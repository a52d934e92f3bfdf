"""Every error kind over real HTTP: its one status from api/errors.py and the one JSON body shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.errors import HTTP_STATUS_BY_KIND
from api.main import create_app
from api.testing import ApiServer
from core.auth import mint_token
from core.db.engine import make_engine, make_session_factory
from core.errors import ErrorKind
from core.webhooks import SIGNATURE_HEADER, sign
from tests.api.conftest import JWT_SECRET, WEBHOOK_SECRET, api_settings
from tests.error_kinds import sample
from tests.factories import make_user

TOO_LARGE = {"type": "BodyTooLarge", "kind": "too_large", "message": "request body over 1024 bytes"}
# Written out, not imported from api/errors.py: the test states the contract instead of copying the code.
STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RETRYABLE: 429,
    ErrorKind.HEADERS_TOO_LARGE: 431,
    ErrorKind.INTERNAL: 500,
    ErrorKind.UPSTREAM: 502,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.MISCONFIGURED: 503,
}


@contextmanager
def serve(app: FastAPI) -> Iterator[httpx.Client]:
    try:
        with ApiServer(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as http:
            yield http
    finally:
        app.state.services.close()


@pytest.fixture
def http(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """The API with its real routes, a 1 KiB webhook body limit and the settings a test passes as its param."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    settings = api_settings(f"sqlite:///{tmp_path}/errors.db", webhook_max_body_bytes=1024, **overrides)
    with serve(create_app(settings)) as http:
        yield http


@pytest.fixture
def raising(tmp_path: Path) -> Iterator[httpx.Client]:
    """The API plus one route, for this test only, that raises the sample error of the kind in its path."""
    app = create_app(api_settings(f"sqlite:///{tmp_path}/errors.db"))

    @app.get("/_test/raise/{kind}")
    def raise_kind(kind: ErrorKind) -> None:
        raise sample(kind).error

    with serve(app) as http:
        yield http


def test_the_table_has_every_kind() -> None:
    assert HTTP_STATUS_BY_KIND == STATUS


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_each_kind_answers_its_status_and_body(raising: httpx.Client, kind: ErrorKind) -> None:
    expected = sample(kind)
    resp = raising.get(f"/_test/raise/{kind.value}")
    assert resp.status_code == STATUS[kind]
    assert resp.headers["cache-control"] == "no-store"
    error = resp.json()["error"]
    assert error["type"] == type(expected.error).__name__
    assert error["kind"] == kind.value
    assert error["message"] == expected.shown
    if kind is ErrorKind.RETRYABLE:
        assert resp.headers["retry-after"] == "5"
    if kind is ErrorKind.UNAUTHENTICATED:
        assert resp.headers["www-authenticate"] == "Bearer" and error["reason"] == "token expired"
    if kind is ErrorKind.CONFLICT:
        assert error["context"] == {"status": "waiting_upload"}


# Real routes, with no route of the test's own: the same kinds, statuses and body shape.


@pytest.mark.parametrize("http", [{"metrics_allow": []}], indirect=True)
def test_not_found_metrics_are_off(http: httpx.Client) -> None:
    resp = http.get("/metrics")
    assert resp.status_code == 404
    assert resp.json()["error"] == {
        "type": "NotFound",
        "kind": "not_found",
        "message": "metrics are off (set LECTERN_METRICS_TOKEN or LECTERN_METRICS_ALLOW)",
    }


@pytest.mark.parametrize("http", [{"metrics_allow": ["10.0.0.0/8"]}], indirect=True)
def test_forbidden_metrics_from_an_address_outside_the_allow_list(http: httpx.Client) -> None:
    resp = http.get("/metrics")
    assert resp.status_code == 403
    assert resp.json()["error"] == {
        "type": "Forbidden",
        "kind": "forbidden",
        "message": "this address may not read metrics (LECTERN_METRICS_ALLOW)",
    }


def test_unauthenticated_a_route_without_a_token(http: httpx.Client) -> None:
    resp = http.get("/api/videos/1/playback")
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
    error = resp.json()["error"]
    assert error["type"] == "Unauthenticated" and error["kind"] == "unauthenticated" and error["message"]


def test_unauthenticated_an_unsigned_webhook(http: httpx.Client) -> None:
    resp = http.post("/api/videos/mux/webhook", content=b"{}")
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert (error["type"], error["kind"]) == ("WebhookSignatureInvalid", "unauthenticated") and error["reason"]


def test_invalid_a_signed_webhook_that_is_no_mux_event(http: httpx.Client) -> None:
    body = b'{"hello": "world"}'
    resp = http.post(
        "/api/videos/mux/webhook",
        content=body,
        headers={SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET, int(time.time()))},
    )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["type"], error["kind"]) == ("WebhookPayloadInvalid", "invalid") and error["message"]


def test_too_large_a_webhook_over_its_body_limit(http: httpx.Client) -> None:
    resp = http.post("/api/videos/mux/webhook", content=b"x" * 2048)
    assert resp.status_code == 413
    assert resp.json()["error"] == {
        "type": "BodyTooLarge",
        "kind": "too_large",
        "message": "request body over 1024 bytes",
    }


def test_too_large_a_streamed_webhook_over_its_body_limit(http: httpx.Client) -> None:
    # No Content-Length: the route counts the bytes as they come and stops at the limit.
    resp = http.post("/api/videos/mux/webhook", content=iter([b"x" * 800, b"x" * 800]))
    assert resp.status_code == 413
    assert resp.json()["error"] == {
        "type": "BodyTooLarge",
        "kind": "too_large",
        "message": "request body over 1024 bytes",
    }


def test_cost_and_warehouse_errors_reach_an_admin_as_invalid_and_unavailable(db_url: str, tmp_path: Path) -> None:
    settings = api_settings(db_url, warehouse_path=tmp_path / "never-published.duckdb")
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session, session.begin():
        admin = make_user(session, role="admin").id
    engine.dispose()
    headers = {"Authorization": f"Bearer {mint_token(JWT_SECRET, admin, ttl_s=600)}"}
    with serve(create_app(settings)) as http:
        bad = http.get("/api/costs/report", params={"from": "2026-13-01"}, headers=headers)
        assert bad.status_code == 400
        assert (bad.json()["error"]["type"], bad.json()["error"]["kind"]) == ("CostInputInvalid", "invalid")

        missing = http.get("/api/costs/report", headers=headers)
        assert missing.status_code == 503
        assert missing.json()["error"] == {
            "type": "WarehouseNotReady",
            "kind": "unavailable",
            "message": "No warehouse yet: run `lectern sync --once` (it publishes the first snapshot).",
        }
        assert str(tmp_path) not in missing.text

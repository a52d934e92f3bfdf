from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3
from mux_python.rest import ApiException

from core.errors import (
    MuxAuthError,
    MuxInvalidRequest,
    MuxNotFound,
    MuxRateLimited,
    MuxResponseInvalid,
    MuxUnavailable,
)
from core.mux import MuxService, build_api_client
from core.mux.client import parse_error_body, parse_retry_after, translate_api_exception
from core.retry import RetryPolicy
from core.settings import load_settings
from tests.core.mux.fakes import RawResponse


def api_exception(status: int, body: Any = None, headers: dict[str, str] | None = None) -> ApiException:
    exc = ApiException(status=status, reason="reason")
    exc.body = json.dumps(body).encode() if body is not None else None
    exc.headers = headers
    return exc


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, MuxInvalidRequest),
        (422, MuxInvalidRequest),
        (401, MuxAuthError),
        (403, MuxAuthError),
        (404, MuxNotFound),
        (429, MuxRateLimited),
        (500, MuxUnavailable),
        (503, MuxUnavailable),
        (408, MuxUnavailable),
    ],
)
def test_statuses_map_to_error_classes(status: int, cls: type) -> None:
    err = translate_api_exception(api_exception(status, {"error": {"type": "t", "messages": ["m1", "m2"]}}), "op")
    assert type(err) is cls
    assert err.status == status
    assert err.type == "t"
    assert err.messages == ("m1", "m2")
    assert "m1; m2" in err.message


def test_mux_messages_survive_both_body_shapes() -> None:
    assert parse_error_body(b'{"error": {"type": "invalid_parameters", "messages": ["Failed to parse ID"]}}') == (
        "invalid_parameters",
        ("Failed to parse ID",),
    )
    assert parse_error_body(b'{"errors": ["Too many requests, retry later."]}') == (
        None,
        ("Too many requests, retry later.",),
    )
    assert parse_error_body(b"<html>bad gateway</html>") == (None, ("<html>bad gateway</html>",))
    assert parse_error_body(None) == (None, ())


def test_retry_after_is_read_as_seconds_or_http_date() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    for endless in ("inf", "1e999", "nan", "-inf"):
        assert parse_retry_after({"Retry-After": endless}) is None, endless
    assert parse_retry_after(None) is None
    err = translate_api_exception(api_exception(429, {"errors": ["slow down"]}, {"Retry-After": "2"}), "op")
    assert isinstance(err, MuxRateLimited)
    assert err.retry_after == 2.0


def test_build_api_client_points_the_sdk_at_the_configured_host() -> None:
    settings = load_settings(mux_api_url="http://127.0.0.1:9/", mux_token_id="id", mux_token_secret="secret")
    client = build_api_client(settings)
    assert client.configuration.host == "http://127.0.0.1:9"
    assert client.configuration.username == "id"
    assert client.configuration.retries is False


class FakeAssetsApi:
    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.calls: list[dict[str, Any]] = []

    def get_asset(self, asset_id: str, **kwargs: Any) -> Any:
        self.calls.append({"asset_id": asset_id, **kwargs})
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def asset_json(asset_id: str = "a1", **extra: Any) -> dict[str, Any]:
    return {
        "id": asset_id,
        "status": "ready",
        "duration": 3.0,
        "playback_ids": [{"id": "p1", "policy": "signed"}],
        "passthrough": "7",
        "upload_id": "u1",
        "created_at": "1700000000",
        **extra,
    }


def asset_response(asset_id: str = "a1", **extra: Any) -> RawResponse:
    return RawResponse({"data": asset_json(asset_id, **extra)})


def service(outcomes: list[Any], attempts: int = 4) -> tuple[MuxService, FakeAssetsApi, list[float]]:
    sleeps: list[float] = []
    settings = load_settings(mux_token_id="id", mux_token_secret="secret", mux_request_timeout_s=7)
    svc = MuxService(settings, retry_policy=RetryPolicy(attempts=attempts, jitter=0.0), sleep=sleeps.append)
    fake = FakeAssetsApi(outcomes)
    svc.assets_api = fake  # type: ignore[assignment]
    return svc, fake, sleeps


def test_call_retries_5xx_429_and_connection_errors_then_returns_lectern_objects() -> None:
    svc, fake, sleeps = service(
        [
            api_exception(503),
            api_exception(429, {"errors": ["x"]}, {"Retry-After": "1"}),
            urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
            asset_response(),
        ]
    )
    asset = svc.get_asset("a1")
    assert asset.id == "a1"
    assert asset.playback_id_for("signed") == "p1"
    assert asset.created_at is not None and asset.created_at.year == 2023
    assert len(fake.calls) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert all(call["_request_timeout"] == 7 for call in fake.calls)


def test_call_does_not_retry_other_4xx() -> None:
    svc, fake, sleeps = service([api_exception(400, {"error": {"type": "invalid_parameters", "messages": ["bad"]}})])
    with pytest.raises(MuxInvalidRequest, match="bad"):
        svc.get_asset("a1")
    assert len(fake.calls) == 1
    assert sleeps == []


def test_none_from_the_sdk_is_an_error_not_a_silent_none() -> None:
    svc, _, _ = service([None])
    with pytest.raises(MuxResponseInvalid):
        svc.get_asset("a1")


def test_enum_drift_in_a_response_is_a_typed_error() -> None:
    svc, _, _ = service([ValueError("Invalid value for `status` (weird)")])
    with pytest.raises(MuxResponseInvalid, match="weird"):
        svc.get_asset("a1")


class PagedAssetsApi:
    """list_assets by cursor, serving at most `cap` rows whatever `limit` asks (as Mux may)."""

    def __init__(self, total: int, cap: int) -> None:
        self.items = [asset_json(f"a{i}") for i in range(total)]
        self.cap = cap
        self.calls: list[dict[str, Any]] = []

    def list_assets(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        limit = min(kwargs["limit"], self.cap)
        start = int(kwargs["cursor"]) if "cursor" in kwargs else 0
        chunk = self.items[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(self.items) else None
        return RawResponse({"data": chunk, "next_cursor": next_cursor})


@pytest.mark.parametrize(("cap", "requests"), [(5, 5), (3, 8)])
def test_iter_assets_walks_every_page_by_cursor_even_when_mux_caps_the_limit(cap: int, requests: int) -> None:
    svc, _, _ = service([])
    fake = PagedAssetsApi(total=23, cap=cap)
    svc.assets_api = fake  # type: ignore[assignment]
    ids = [a.id for a in svc.iter_assets(page_size=5)]
    assert ids == [f"a{i}" for i in range(23)]
    assert len(fake.calls) == requests
    assert "cursor" not in fake.calls[0] and all(c["_preload_content"] is False for c in fake.calls)

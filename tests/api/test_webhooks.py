"""The webhook receiver over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.db.engine import transaction
from core.db.models import Lesson, WebhookEvent
from core.webhooks import sign
from tests.api.conftest import WEBHOOK_SECRET, ApiFactory, RunningApi, api_settings
from tests.core.mux_events import T0, asset_event, body, upload_event
from tests.factories import make_course, make_lesson, make_user

PATH = "/api/videos/mux/webhook"
PLAYBACK_IDS = [{"id": "PUB1", "policy": "public"}]


def post(
    api: RunningApi | httpx.Client,
    raw: bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    t: int | None = None,
    signature: str | None = None,
) -> httpx.Response:
    http = api.http if isinstance(api, RunningApi) else api
    header = signature if signature is not None else sign(raw, secret, int(time.time()) if t is None else t)
    return http.post(PATH, content=raw, headers={"Mux-Signature": header, "Content-Type": "application/json"})


@pytest.fixture
def api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url, webhook_max_body_bytes=4096))


@pytest.fixture
def lesson_id(api: RunningApi) -> int:
    with transaction(api.session_factory) as s:
        return make_lesson(
            s, mux_upload_id="U1", video_status="waiting_upload", video_status_at=T0 - timedelta(minutes=5)
        ).id


def lesson(api: RunningApi, lesson_id: int) -> Lesson:
    with api.session_factory() as s:
        row = s.get(Lesson, lesson_id)
        assert row is not None
        return row


def stored(api: RunningApi) -> list[tuple[str, str]]:
    with api.session_factory() as s:
        return list(s.execute(select(WebhookEvent.id, WebhookEvent.outcome).order_by(WebhookEvent.id)).tuples())


def test_forged_signature_is_401_with_reason_and_nothing_stored(api: RunningApi, lesson_id: int) -> None:
    raw = body(asset_event("video.asset.ready", "A1", lesson_id=lesson_id, playback_ids=PLAYBACK_IDS))
    resp = post(api, raw, secret="not-the-secret")
    assert resp.status_code == 401
    assert resp.json()["error"]["reason"] == "no signature matches the payload"
    assert post(api, raw, signature="").json()["error"]["reason"] == "missing Mux-Signature header"
    assert stored(api) == []
    assert lesson(api, lesson_id).video_status == "waiting_upload"


def test_stale_and_future_timestamps_are_401(api: RunningApi, lesson_id: int) -> None:
    raw = body(asset_event("video.asset.ready", "A1", lesson_id=lesson_id, playback_ids=PLAYBACK_IDS))
    old = post(api, raw, t=int(time.time()) - 301)
    assert old.status_code == 401 and "too old" in old.json()["error"]["reason"]
    future = post(api, raw, t=int(time.time()) + 3600)
    assert future.status_code == 401 and "future" in future.json()["error"]["reason"]
    assert stored(api) == []


def test_replayed_event_is_answered_duplicate_and_changes_nothing(api: RunningApi, lesson_id: int) -> None:
    raw = body(
        asset_event(
            "video.asset.ready",
            "A1",
            lesson_id=lesson_id,
            upload_id="U1",
            playback_ids=PLAYBACK_IDS,
            duration=3.0,
            event_id="evt-replay",
        )
    )
    first = post(api, raw)
    assert (first.status_code, first.json()["outcome"]) == (200, "applied")
    with transaction(api.session_factory) as s:  # somebody changes the lesson after the event applied
        row = s.get(Lesson, lesson_id)
        assert row is not None
        row.video_error = "marker"
    replay = post(api, raw)
    assert (replay.status_code, replay.json()["outcome"]) == (200, "duplicate")
    assert lesson(api, lesson_id).video_error == "marker"
    assert stored(api) == [("evt-replay", "applied")]


def test_fifty_concurrent_duplicates_apply_exactly_once(api: RunningApi, lesson_id: int) -> None:
    raw = body(
        asset_event(
            "video.asset.ready",
            "A1",
            lesson_id=lesson_id,
            upload_id="U1",
            playback_ids=PLAYBACK_IDS,
            duration=3.0,
            event_id="evt-50",
        )
    )
    header = sign(raw, WEBHOOK_SECRET, int(time.time()))
    clients = [httpx.Client(base_url=api.url, timeout=30) for _ in range(10)]
    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(lambda i: post(clients[i % 10], raw, signature=header), range(50)))
    finally:
        for client in clients:
            client.close()
    assert {r.status_code for r in responses} == {200}
    assert Counter(r.json()["outcome"] for r in responses) == {"applied": 1, "duplicate": 49}
    assert stored(api) == [("evt-50", "applied")]
    row = lesson(api, lesson_id)
    assert (row.video_status, row.mux_playback_id) == ("ready", "PUB1")


def test_fifty_concurrent_competitors_leave_one_consistent_state(api: RunningApi, lesson_id: int) -> None:
    """Different events racing for one lesson: the newest wins, each is stored once, none half-applied."""
    docs = [
        asset_event(
            "video.asset.ready",
            "A1",
            lesson_id=lesson_id,
            upload_id="U1",
            seconds=i,
            playback_ids=[{"id": f"P{i:02}", "policy": "public"}],
            event_id=f"race-{i:02}",
        )
        for i in range(50)
    ]
    with httpx.Client(base_url=api.url, timeout=30) as http, ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(lambda d: post(http, body(d)), docs))
    assert {r.status_code for r in responses} == {200}
    outcomes = Counter(r.json()["outcome"] for r in responses)
    assert set(outcomes) <= {"applied", "stale"} and outcomes["applied"] >= 1
    assert lesson(api, lesson_id).mux_playback_id == "P49"
    with api.session_factory() as s:
        assert s.execute(select(func.count()).select_from(WebhookEvent)).scalar() == 50


def test_ready_before_asset_created_stays_ready(api: RunningApi, lesson_id: int) -> None:
    ready = asset_event(
        "video.asset.ready",
        "A1",
        lesson_id=lesson_id,
        upload_id="U1",
        seconds=3,
        playback_ids=PLAYBACK_IDS,
        duration=3.0,
    )
    created = upload_event("video.upload.asset_created", "U1", lesson_id=lesson_id, asset_id="A1", seconds=1)
    asset_created = asset_event("video.asset.created", "A1", lesson_id=lesson_id, upload_id="U1", seconds=1)
    assert post(api, body(ready)).json()["outcome"] == "applied"
    assert post(api, body(created)).json()["outcome"] == "stale"
    assert post(api, body(asset_created)).json()["outcome"] == "stale"
    row = lesson(api, lesson_id)
    assert (row.video_status, row.mux_asset_id, row.mux_playback_id) == ("ready", "A1", "PUB1")


def test_unknown_lesson_is_200_unmatched(api: RunningApi) -> None:
    resp = post(api, body(asset_event("video.asset.ready", "AX", lesson_id=424242, playback_ids=PLAYBACK_IDS)))
    assert resp.status_code == 200
    assert resp.json()["outcome"] == "unmatched"
    assert [outcome for _, outcome in stored(api)] == ["unmatched"]


def test_malformed_body_with_a_good_signature_is_400(api: RunningApi) -> None:
    for raw in (b"{not json", b"[]", b'{"type": "video.asset.ready"}'):
        resp = post(api, raw)
        assert resp.status_code == 400, raw
        assert resp.json()["error"]["type"] == "WebhookPayloadInvalid"


def test_oversized_body_is_413_before_anything_else(api: RunningApi) -> None:
    raw = b'{"pad": "' + b"x" * 5000 + b'"}'
    assert post(api, raw).status_code == 413
    # Without Content-Length (chunked), the limit still holds while reading.
    chunked = api.http.post(PATH, content=iter([raw[:3000], raw[3000:]]), headers={"Mux-Signature": "t=1,v1=00"})
    assert chunked.status_code == 413


def test_outcomes_are_counted_in_metrics(api: RunningApi, lesson_id: int) -> None:
    post(api, body(asset_event("video.asset.created", "A1", lesson_id=lesson_id, upload_id="U1")))
    post(api, b"{}", secret="wrong")
    text = api.http.get("/metrics").text
    assert 'lectern_webhook_events_total{outcome="applied",type="video.asset.created"} 1.0' in text
    assert 'lectern_webhook_events_total{outcome="bad_signature",type="unknown"} 1.0' in text
    assert 'route="/api/videos/mux/webhook"' in text


def test_answers_fast(api: RunningApi, lesson_id: int) -> None:
    docs: list[dict[str, Any]] = [
        asset_event("video.asset.created", "A1", lesson_id=lesson_id, upload_id="U1", seconds=i) for i in range(20)
    ]
    started = time.perf_counter()
    for doc in docs:
        assert post(api, body(doc)).status_code == 200
    assert (time.perf_counter() - started) / len(docs) < 0.5  # Mux gives 5 s; we use a small fraction


# --- poison events (issue 15 item 7): never a 500, never a redelivery loop -------------------------


def _ready(lesson_id: int, **data: Any) -> dict[str, Any]:
    doc = asset_event(
        "video.asset.ready", "A1", lesson_id=lesson_id, upload_id="U1", seconds=60, playback_ids=PLAYBACK_IDS
    )
    doc["data"].update(data)
    return doc


def _with(doc: dict[str, Any], **top: Any) -> dict[str, Any]:
    return doc | top


def _raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()  # Python's json writes NaN/Infinity: what a poison sender would send


def _deep(lesson_id: int) -> bytes:
    return b'{"id":"deep","type":"video.asset.ready","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"


# (name, body for the lesson, expected status, expected outcome (200) or error type (400), lesson status after)
POISON: list[tuple[str, Callable[[int], bytes], int, str, str]] = [
    ("created_at huge number", lambda i: _raw(_with(_ready(i), created_at=1e20)), 200, "ignored", "waiting_upload"),
    ("created_at NaN text", lambda i: _raw(_with(_ready(i), created_at="NaN")), 200, "ignored", "waiting_upload"),
    ("created_at year 1 with offset", lambda i: _raw(_with(_ready(i), created_at="0001-01-01T00:00:00+01:00")),
     200, "ignored", "waiting_upload"),
    ("created_at far future", lambda i: _raw(_with(_ready(i), created_at="9999-12-31T23:59:59Z")),
     200, "ignored", "waiting_upload"),
    ("created_at 400-digit int", lambda i: _raw(_with(_ready(i), created_at=10**400)), 200, "ignored",
     "waiting_upload"),
    ("passthrough unicode digit", lambda i: _raw(_ready(i, passthrough="²", upload_id="U9")), 200, "unmatched",
     "waiting_upload"),
    ("passthrough 23 digits", lambda i: _raw(_ready(i, passthrough="1" * 23, upload_id="U9")), 200, "unmatched",
     "waiting_upload"),
    ("asset id longer than stored", lambda i: _raw(_ready(i, id="A" * 300)), 200, "ignored", "waiting_upload"),
    ("playback_ids not a list", lambda i: _raw(_ready(i, playback_ids=5)), 200, "ignored", "waiting_upload"),
    ("duration 400-digit int", lambda i: _raw(_ready(i, duration=10**400)), 200, "applied", "ready"),
    ("error text with NUL and surrogate",
     lambda i: _raw(asset_event("video.asset.errored", "A1", lesson_id=i, upload_id="U1", seconds=60,
                                errors={"type": "invalid_input", "messages": ["bad\u0000\ud800", 5]})),
     200, "applied", "errored"),
    ("errors.messages not a list",
     lambda i: _raw(asset_event("video.asset.errored", "A1", lesson_id=i, upload_id="U1", seconds=60,
                                errors={"type": "invalid_input", "messages": 5})),
     200, "applied", "errored"),
    ("duration NaN", lambda i: _raw(_ready(i, duration=math.nan)), 400, "WebhookPayloadInvalid", "waiting_upload"),
    ("duration Infinity", lambda i: _raw(_ready(i, duration=math.inf)), 400, "WebhookPayloadInvalid",
     "waiting_upload"),
    ("duration 1e999", lambda i: _raw(_ready(i, duration="@")).replace(b'"@"', b"1e999"), 400,
     "WebhookPayloadInvalid", "waiting_upload"),
    ("100,000-deep JSON", _deep, 400, "WebhookPayloadInvalid", "waiting_upload"),
    ("event id with NUL", lambda i: _raw(_with(_ready(i), id="evt\u0000")), 400, "WebhookPayloadInvalid",
     "waiting_upload"),
    ("type with a lone surrogate", lambda i: _raw(_with(_ready(i), type="video.asset.ready\ud800")), 400,
     "WebhookPayloadInvalid", "waiting_upload"),
]  # fmt: skip


@pytest.fixture
def roomy_api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url))  # the default body limit (1 MB): room for 100,000-deep JSON


@pytest.mark.parametrize(("name", "make", "status", "expected", "lesson_status"), POISON, ids=[p[0] for p in POISON])
def test_poison_events_are_answered_without_a_500_and_without_a_loop(
    roomy_api: RunningApi, name: str, make: Callable[[int], bytes], status: int, expected: str, lesson_status: str
) -> None:
    api = roomy_api
    with transaction(api.session_factory) as s:
        teacher = make_user(s, "teacher")
        teacher_id = teacher.id
        lesson_id = make_lesson(
            s, make_course(s, teacher=teacher), mux_upload_id="U1", video_status="waiting_upload",
            video_status_at=T0 - timedelta(minutes=5),
        ).id  # fmt: skip
    raw = make(lesson_id)
    resp = post(api, raw)
    assert resp.status_code == status, resp.text
    if status == 200:
        assert resp.json()["outcome"] == expected, resp.json()
        again = post(api, raw)  # what Mux would do if we had failed: now a duplicate, so the loop ends
        assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
        assert [outcome for _, outcome in stored(api)] == [expected]
    else:
        assert resp.json()["error"]["type"] == expected
        assert resp.json()["error"]["message"]
        assert stored(api) == []
    row = lesson(api, lesson_id)
    assert row.video_status == lesson_status
    # The lesson still reads back through the API (no Infinity, no broken text).
    status_resp = api.http.get(f"/api/lessons/{lesson_id}/status", headers=api.auth(teacher_id))
    assert status_resp.status_code == 200


def test_unknown_status_error_type_and_fields_are_kept_and_logged_once(
    api: RunningApi, lesson_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14 item 4: values Mux may add never fail a delivery; the raw event is kept, each value logged once."""
    status, error_type = f"quarantined-{uuid.uuid4().hex[:8]}", f"new_kind-{uuid.uuid4().hex[:8]}"
    created = asset_event("video.asset.created", "A1", lesson_id=lesson_id, upload_id="U1", event_id="evt-new-1")
    created["data"] |= {"status": status, "brand_new_field": {"nested": [1, 2]}}
    created["brand_new_envelope_field"] = "x"
    again = asset_event("video.asset.created", "A1", lesson_id=lesson_id, upload_id="U1", seconds=1, event_id="evt-2")
    again["data"]["status"] = status
    errored = asset_event(
        "video.asset.errored", "A1", lesson_id=lesson_id, upload_id="U1", seconds=2, event_id="evt-new-3",
        errors={"type": error_type},
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="core.webhooks"):
        answers = [post(api, body(doc)) for doc in (created, again, errored)]
    assert [(r.status_code, r.json()["outcome"]) for r in answers] == [(200, "applied")] * 3
    row = lesson(api, lesson_id)
    assert (row.video_status, row.video_error) == ("errored", error_type)  # the raw error type is what we show
    with api.session_factory() as s:
        payload = s.get(WebhookEvent, "evt-new-1").payload  # type: ignore[union-attr]
    assert payload["data"]["status"] == status and payload["data"]["brand_new_field"] == {"nested": [1, 2]}
    unknown = [
        (r.lectern_fields["field"], r.lectern_fields["value"])  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "webhook.unknown_value"
    ]
    assert unknown == [("asset.status", status), ("asset.errors.type", error_type)]

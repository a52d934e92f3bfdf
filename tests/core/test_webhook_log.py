"""The webhook log (search, detail, redaction, counters), replays and the heal planner, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import Lesson, OperatorAction, WebhookEvent
from core.db.records import LessonState
from core.errors import NotFound, WebhookSignatureInvalid
from core.heal import Heal, plan_lesson_heal
from core.mux.pagination import CursorPaginator, paginate
from core.webhook_log import (
    EventFilter,
    FilterInvalid,
    decode_cursor,
    event_detail,
    redact,
    rejection_counts,
    rejection_totals,
    search_events,
)
from core.webhook_ops import WebhookOperations
from core.webhooks import Rejection, WebhookProcessor, parse_event, sign, signature_rejection, verify_signature
from tests.core.mux_events import T0, asset_event, body, upload_event
from tests.factories import make_lesson

PUB = [{"id": "P1", "policy": "public"}]


# --- redaction and filters (pure) ------------------------------------------------------------------


def test_redaction_takes_out_capabilities_and_keeps_the_rest() -> None:
    doc = upload_event("video.upload.asset_created", "U1", lesson_id=7, asset_id="A1")
    doc["data"]["url"] = "http://127.0.0.1:8800/_upload/U1?signature=abc"
    doc["data"]["new_asset_settings"]["input"] = (
        "https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Credential=AKIA&X-Amz-Signature=f00"
    )
    doc["data"]["new_asset_settings"]["thumbnail"] = "https://image.mux.com/P1/thumbnail.jpg?time=3"
    doc["attempts"] = [{"response_headers": {"Authorization": "Bearer t", "content-type": "json"}}]
    doc["data"]["api_key"] = ""  # empty: nothing to hide
    original = repr(doc)
    out, paths = redact(doc)
    assert repr(doc) == original  # a copy
    assert sorted(paths) == [
        "attempts[0].response_headers.Authorization",
        "data.new_asset_settings.input",
        "data.url",
    ]
    assert out["data"]["url"] == "[redacted]"
    assert out["data"]["new_asset_settings"]["input"] == "https://bucket.s3.amazonaws.com/v.mp4?[redacted]"
    assert out["data"]["new_asset_settings"]["thumbnail"].endswith("?time=3")  # no signature in it
    assert out["attempts"][0]["response_headers"]["content-type"] == "json"
    assert out["data"]["new_asset_settings"]["passthrough"] == "7" and out["data"]["asset_id"] == "A1"
    # An asset event's `url`-named fields are not upload URLs; only signed queries go.
    ready = asset_event("video.asset.ready", "A1", lesson_id=7, playback_ids=PUB)
    ready["data"]["url"] = "https://example.com/a"
    assert redact(ready) == (ready, [])


def test_filters_and_cursors_refuse_what_they_cannot_mean() -> None:
    with pytest.raises(FilterInvalid, match="unknown outcome duplicate"):
        EventFilter(outcomes=("duplicate",))
    with pytest.raises(FilterInvalid, match="since must be before until"):
        EventFilter(since=T0, until=T0)
    with pytest.raises(FilterInvalid, match="asset id"):
        EventFilter(asset_id="a b")
    naive = EventFilter(since=datetime(2026, 1, 1))
    assert naive.since == datetime(2026, 1, 1, tzinfo=UTC) and not naive.is_empty and EventFilter().is_empty
    for bad in ("", "%%%", "bm90IGEgY3Vyc29y", "MjAyNi0wMS0wMVQwMDowMDowMHxhIGI"):
        with pytest.raises(FilterInvalid, match="cursor"):
            decode_cursor(bad)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Rejection.signature_missing),
        ("garbage", Rejection.signature_malformed),
        ("t=abc,v1=00", Rejection.signature_malformed),
        ("v1=00", Rejection.signature_malformed),
        ("t=1800000000", Rejection.signature_malformed),
        (sign(b"{}", "s", 1_800_000_000 - 301), Rejection.timestamp_too_old),
        (sign(b"{}", "s", 1_800_000_000 + 301), Rejection.timestamp_in_future),
        (sign(b"{}", "other", 1_800_000_000), Rejection.signature_mismatch),
    ],
)
def test_every_signature_failure_has_its_own_counter(header: str | None, expected: Rejection) -> None:
    with pytest.raises(WebhookSignatureInvalid) as caught:
        verify_signature(b"{}", header, "s", now=1_800_000_000)
    assert signature_rejection(caught.value) == expected
    with pytest.raises(WebhookSignatureInvalid) as unset:
        verify_signature(b"{}", header, "", now=1_800_000_000)
    assert signature_rejection(unset.value) == Rejection.secret_not_configured
    assert all(len(r.value) <= 32 for r in Rejection)  # webhook_rejections.reason is String(32)


def state(id: int = 1, **kw: Any) -> LessonState:
    values: dict[str, Any] = {
        "video_url": None,
        "playback_policy": "public",
        "video_provider": None,
        "video_status": "processing",
        "video_status_at": None,
        "video_duration_s": None,
        "mux_upload_id": "U1",
        "mux_asset_id": "A1",
        "mux_playback_id": None,
    }
    return LessonState(id=id, **(values | kw))


def test_the_repair_heals_by_the_sync_s_rules() -> None:
    ready = {"id": "A1", "status": "ready", "upload_id": "U1", "passthrough": "1", "duration": 3.0, "playback_ids": PUB}
    assert plan_lesson_heal(ready, state(), busy=False) == Heal(1, "A1", "ready", "P1", 3.0, None, "A1")
    # Both webhooks missed: the waiting lesson gets the asset of its own upload, never another one.
    waiting = state(mux_asset_id=None, video_status="waiting_upload")
    assert plan_lesson_heal(ready, waiting, busy=False) == Heal(1, "A1", "ready", "P1", 3.0, None, None)
    assert plan_lesson_heal(ready | {"upload_id": "U2"}, waiting, busy=False) is None
    errored = ready | {"status": "errored", "errors": {"messages": ["bad file"]}}
    assert plan_lesson_heal(errored, state(), busy=False) == Heal(1, "A1", "errored", None, None, "bad file", "A1")
    assert plan_lesson_heal(ready, state(), busy=True) is None  # the migration switches it
    assert plan_lesson_heal(ready, state(video_provider="s3"), busy=False) is None
    assert plan_lesson_heal(ready | {"status": "preparing"}, state(), busy=False) is None
    healthy = state(video_status="ready", video_provider="mux", mux_playback_id="P1", video_duration_s=3.0)
    assert plan_lesson_heal(ready, healthy, busy=False) is None


# --- against the database --------------------------------------------------------------------------


def store(p: WebhookProcessor, doc: dict[str, Any]) -> str:
    return p.handle(parse_event(body(doc))).outcome


@pytest.fixture
def processor(session_factory: sessionmaker[Session]) -> WebhookProcessor:
    return WebhookProcessor(session_factory)


def test_search_walks_every_page_once_with_the_cursor_paginator(
    session_factory: sessionmaker[Session], processor: WebhookProcessor
) -> None:
    with transaction(session_factory) as s:
        lesson_id = make_lesson(s, mux_upload_id="U1", video_status="waiting_upload", video_status_at=T0).id
    docs = [asset_event("video.asset.ready", f"X{n}", lesson_id=None, seconds=n, event_id=f"x{n:02}") for n in range(7)]
    docs.append(upload_event("video.upload.asset_created", "U1", lesson_id=lesson_id, asset_id="A1", seconds=9))
    for doc in docs:
        store(processor, doc)

    def walk(where: EventFilter, limit: int = 3) -> list[str]:
        with session_factory() as s:
            fetch = lambda params: search_events(s, where, limit=limit, cursor=params.get("cursor"))  # noqa: E731
            return [row.id for page in paginate(fetch, CursorPaginator(), operation="log") for row in page]

    every = walk(EventFilter())
    assert sorted(every) == sorted(d["id"] for d in docs) and len(every) == len(set(every)) == 8
    assert walk(EventFilter(outcomes=("unmatched",)), limit=2) == [f"x{n:02}" for n in reversed(range(7))]
    assert walk(EventFilter(lesson_id=lesson_id)) == [docs[-1]["id"]]
    assert walk(EventFilter(asset_id="A1")) == [docs[-1]["id"]]  # named in an upload event's data
    assert walk(EventFilter(asset_id="X3")) == ["x03"]
    assert walk(EventFilter(upload_id="U1", types=("video.upload.asset_created",))) == [docs[-1]["id"]]
    assert walk(EventFilter(since=datetime.now(UTC) + timedelta(hours=1))) == []
    with session_factory() as s:
        detail = event_detail(s, docs[-1]["id"])
        assert (detail.row.asset_id, detail.row.upload_id, detail.row.outcome) == ("A1", "U1", "applied")
        assert detail.row.lag_s > 0 and detail.payload["data"]["asset_id"] == "A1"
        with pytest.raises(NotFound):
            event_detail(s, "nope")
        with pytest.raises(FilterInvalid, match="limit"):
            search_events(s, EventFilter(), limit=0)


def test_refused_and_duplicate_deliveries_count_per_hour_and_reason(
    session_factory: sessionmaker[Session], processor: WebhookProcessor
) -> None:
    doc = asset_event("video.asset.ready", "AZ", lesson_id=None)
    assert [store(processor, doc) for _ in range(3)] == ["unmatched", "duplicate", "duplicate"]
    for reason in (Rejection.signature_mismatch, Rejection.signature_mismatch, Rejection.too_large):
        processor.count_rejection(reason)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with session_factory() as s:
        counts = rejection_counts(s, since=hour - timedelta(hours=1), until=hour + timedelta(hours=1))
    assert rejection_totals(counts) == {"duplicate": 2, "signature_mismatch": 2, "too_large": 1}
    assert len(counts) <= 6 and all(c.hour.minute == 0 for c in counts)


def test_replays_apply_only_news_and_are_audited(
    session_factory: sessionmaker[Session], processor: WebhookProcessor
) -> None:
    ops = WebhookOperations(session_factory, processor, mux=None)
    early = asset_event("video.asset.created", "A5", lesson_id=None, seconds=1)
    ready = asset_event("video.asset.ready", "A5", lesson_id=None, seconds=2, playback_ids=PUB, duration=5.0)
    other = asset_event("video.asset.updated", "A5", lesson_id=None, seconds=3)
    assert [store(processor, d) for d in (early, ready, other)] == ["unmatched", "unmatched", "ignored"]
    assert ops.replay(ready["id"], actor="ops@example.test").after == "unmatched"  # still no lesson
    with transaction(session_factory) as s:
        lesson_id = make_lesson(s, mux_asset_id="A5", video_status="processing").id

    batch = ops.replay_matching(EventFilter(asset_id="A5"), actor="ops@example.test", max_events=1)
    assert batch.truncated and [(r.event_id, r.after) for r in batch.results] == [(early["id"], "applied")]
    batch = ops.replay_matching(EventFilter(asset_id="A5"), actor="ops@example.test")
    assert [(r.event_id, r.before, r.after) for r in batch.results] == [
        (ready["id"], "unmatched", "applied"),
        (other["id"], "ignored", "ignored"),
    ]
    assert batch.by_outcome == {"unmatched -> applied": 1, "ignored -> ignored": 1} and not batch.truncated
    with session_factory() as s:
        lesson = s.get(Lesson, lesson_id)
        assert lesson is not None and (lesson.video_status, lesson.video_duration_s) == ("ready", 5.0)
        audit = s.execute(select(OperatorAction).order_by(OperatorAction.id)).scalars().all()
        stored = dict(s.execute(select(WebhookEvent.id, WebhookEvent.outcome)).tuples().all())
    assert [(a.action, a.actor, a.target, a.outcome) for a in audit] == [
        ("webhook.replay", "ops@example.test", f"webhook:{ready['id']}", "unmatched"),
        ("webhook.replay", "ops@example.test", f"webhook:{early['id']}", "applied"),
        ("webhook.replay", "ops@example.test", f"webhook:{ready['id']}", "applied"),
        ("webhook.replay", "ops@example.test", f"webhook:{other['id']}", "ignored"),
    ]
    assert audit[2].detail == {
        "type": "video.asset.ready",
        "before": "unmatched",
        "after": "applied",
        "lesson_id": lesson_id,
        "lesson_changed": True,
        "reason": None,
    }
    assert stored == {early["id"]: "applied", ready["id"]: "applied", other["id"]: "ignored"}
    again = ops.replay_matching(EventFilter(asset_id="A5"), actor="x")
    assert [r.event_id for r in again.results] == [other["id"]]  # applied ones are skipped
    with pytest.raises(FilterInvalid, match="at least one filter"):
        ops.replay_matching(EventFilter(), actor="x")
    with pytest.raises(NotFound):
        ops.replay("missing", actor="x")

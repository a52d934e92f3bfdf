from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import Lesson, WebhookEvent
from core.db.records import LessonState
from core.errors import WebhookPayloadInvalid, WebhookSignatureInvalid
from core.webhooks import (
    MuxEvent,
    WebhookProcessor,
    json_depth_exceeds,
    parse_event,
    plan_transition,
    sign,
    verify_signature,
)
from tests.core.mux_events import T0, asset_event, body, upload_event
from tests.factories import make_lesson

SECRET = "whsec-unit"
NOW = 1_800_000_000
BODY = b'{"type":"video.asset.ready","id":"e1"}'


def header(t: int = NOW, secret: str = SECRET, payload: bytes = BODY) -> str:
    return sign(payload, secret, t)


def good_sig() -> str:
    return header().split("v1=")[1]


@pytest.mark.parametrize(
    ("hdr", "reason"),
    [
        (None, "missing Mux-Signature header"),
        ("", "missing Mux-Signature header"),
        ("garbage", "malformed Mux-Signature header"),
        ("t=abc,v1=00", "malformed timestamp"),
        ("v1=00", "no timestamp"),
        (f"t={NOW}", "no v1 signature"),
        (f"t={NOW},v0={'0' * 64}", "no v1 signature"),
        (header(NOW - 301), "timestamp too old"),
        (header(NOW + 301), "timestamp too far in the future"),
        (header(secret="another-secret"), "no signature matches"),
        (header(payload=BODY + b" "), "no signature matches"),
        (f"t={NOW},v1={'f' * 64}", "no signature matches"),
    ],
)
def test_bad_signatures_are_rejected_with_distinct_reasons(hdr: str | None, reason: str) -> None:
    with pytest.raises(WebhookSignatureInvalid) as caught:
        verify_signature(BODY, hdr, SECRET, tolerance_s=300, now=NOW)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    "hdr",
    [
        header(),
        header(NOW - 300),
        header(NOW + 300),
        f"t={NOW},v1={'0' * 64},v1={good_sig()}",  # several v1 values (secret rotation): any may match
        f"t={NOW}, v1={good_sig().upper()}",
    ],
)
def test_good_signatures_verify(hdr: str) -> None:
    signed_at = int(hdr.split(",")[0].removeprefix("t="))
    assert verify_signature(BODY, hdr, SECRET, tolerance_s=300, now=NOW) == signed_at


def test_an_unset_secret_never_verifies() -> None:
    with pytest.raises(WebhookSignatureInvalid, match="not configured"):
        verify_signature(BODY, header(secret=""), "", now=NOW)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"type":"x"}', "no usable id"),
        (b'{"id":"e"}', "no type"),
        (b'{"id":"e","type":"t","data":[1]}', "data is not an object"),
    ],
)
def test_malformed_events(raw: bytes, match: str) -> None:
    with pytest.raises(WebhookPayloadInvalid, match=match):
        parse_event(raw)


def test_event_fields_for_asset_and_upload_events() -> None:
    a = parse_event(body(asset_event("video.asset.ready", "A1", lesson_id=7, upload_id="U1", seconds=1.5)))
    assert (a.asset_id, a.upload_id, a.passthrough) == ("A1", "U1", "7")
    assert a.created_at == T0 + timedelta(seconds=1.5)
    u = parse_event(body(upload_event("video.upload.asset_created", "U1", lesson_id=7, asset_id="A1")))
    assert (u.asset_id, u.upload_id, u.passthrough, u.object_type) == ("A1", "U1", "7", "upload")


# --- plan_transition (pure) ------------------------------------------------------------------------

STATE = LessonState(
    id=7,
    video_url=None,
    playback_policy="signed",
    video_provider=None,
    video_status="waiting_upload",
    video_status_at=T0 - timedelta(seconds=30),
    video_duration_s=None,
    mux_upload_id="U1",
    mux_asset_id=None,
    mux_playback_id=None,
)
SIGNED_AND_PUBLIC = [{"id": "PUB", "policy": "public"}, {"id": "SIG", "policy": "signed"}]


def ev(doc: dict[str, Any]) -> MuxEvent:
    return parse_event(body(doc))


def test_ready_takes_the_playback_id_matching_the_lessons_policy() -> None:
    plan = plan_transition(
        ev(
            asset_event(
                "video.asset.ready", "A1", lesson_id=7, upload_id="U1", playback_ids=SIGNED_AND_PUBLIC, duration=3.03
            )
        ),
        STATE,
    )
    assert plan.outcome == "applied"
    assert plan.changes["mux_playback_id"] == "SIG"
    assert plan.changes["video_status"] == "ready"
    assert plan.changes["video_provider"] == "mux"
    assert plan.changes["video_duration_s"] == 3.03
    assert plan.changes["video_error"] is None


def test_ready_without_a_matching_playback_id_is_an_error_on_the_lesson() -> None:
    plan = plan_transition(
        ev(
            asset_event(
                "video.asset.ready", "A1", lesson_id=7, upload_id="U1", playback_ids=[{"id": "PUB", "policy": "public"}]
            )
        ),
        STATE,
    )
    assert plan.changes["video_status"] == "errored"
    assert "no signed playback ID" in plan.changes["video_error"]


@pytest.mark.parametrize(
    ("state_changes", "doc", "outcome", "status"),
    [
        ({}, upload_event("video.upload.asset_created", "U1", lesson_id=7, asset_id="A1"), "applied", "processing"),
        ({}, asset_event("video.asset.created", "A1", lesson_id=7, upload_id="U1"), "applied", "processing"),
        # The lesson's own pending upload applies even if the sender's clock is behind ours.
        (
            {},
            asset_event("video.asset.created", "A1", lesson_id=7, upload_id="U1", seconds=-3600),
            "applied",
            "processing",
        ),
        # Another (superseded) upload's events never touch the lesson.
        (
            {},
            asset_event("video.asset.ready", "A0", lesson_id=7, upload_id="U0", playback_ids=SIGNED_AND_PUBLIC),
            "stale",
            None,
        ),
        # Older than the state behind the lesson.
        (
            {"video_status": "ready", "mux_asset_id": "A1", "video_status_at": T0 + timedelta(seconds=10)},
            asset_event("video.asset.errored", "A1", lesson_id=7, upload_id="U1", seconds=5),
            "stale",
            None,
        ),
        # Never ready -> processing for the same asset, even with an equal or newer timestamp.
        (
            {"video_status": "ready", "mux_asset_id": "A1", "video_status_at": T0},
            upload_event("video.upload.asset_created", "U1", lesson_id=7, asset_id="A1", seconds=1),
            "stale",
            None,
        ),
        (
            {"video_status": "ready", "mux_asset_id": "A1", "video_status_at": T0},
            asset_event(
                "video.asset.errored",
                "A1",
                lesson_id=7,
                upload_id="U1",
                seconds=1,
                errors={"type": "invalid_input", "messages": ["bad file"]},
            ),
            "applied",
            "errored",
        ),
        ({}, upload_event("video.upload.cancelled", "U1", lesson_id=7), "applied", "none"),
        ({"video_url": "legacy/x.mp4"}, upload_event("video.upload.cancelled", "U1", lesson_id=7), "applied", "ready"),
        (
            {},
            upload_event("video.upload.errored", "U1", lesson_id=7, error={"type": "x", "message": "too big"}),
            "applied",
            "errored",
        ),
        ({}, asset_event("video.asset.updated", "A1", lesson_id=7), "ignored", None),
        # Not the lesson's asset or upload: passthrough alone never re-points a lesson that has its own.
        ({}, asset_event("video.asset.deleted", "A9", lesson_id=7), "unmatched", None),
        # The asset of the lesson's own upload, deleted before any event named it (delivered out of order).
        ({}, asset_event("video.asset.deleted", "A1", lesson_id=7, upload_id="U1", seconds=5), "applied", "none"),
        ({}, asset_event("video.asset.ready", "A9", lesson_id=7, playback_ids=SIGNED_AND_PUBLIC), "unmatched", None),
        (
            {"video_status": "ready", "mux_asset_id": "A1", "mux_upload_id": None, "video_status_at": T0},
            asset_event("video.asset.created", "A9", lesson_id=7, seconds=60),
            "unmatched",
            None,
        ),
    ],
)
def test_transitions(state_changes: dict[str, Any], doc: dict[str, Any], outcome: str, status: str | None) -> None:
    plan = plan_transition(ev(doc), replace(STATE, **state_changes))
    assert plan.outcome == outcome, plan.reason
    assert plan.changes.get("video_status") == status


def test_errored_keeps_mux_message() -> None:
    plan = plan_transition(
        ev(
            asset_event(
                "video.asset.errored",
                "A1",
                lesson_id=7,
                upload_id="U1",
                errors={"type": "invalid_input", "messages": ["File is not a video", "second"]},
            )
        ),
        STATE,
    )
    assert plan.changes["video_error"] == "File is not a video; second"


@pytest.mark.parametrize(("video_url", "provider", "status"), [("legacy/a.mp4", "s3", "ready"), (None, None, "none")])
def test_deleting_the_current_asset_falls_back_to_s3_or_nothing(
    video_url: str | None, provider: str | None, status: str
) -> None:
    state = replace(
        STATE, video_status="ready", mux_asset_id="A1", mux_playback_id="SIG", video_url=video_url, video_status_at=T0
    )
    plan = plan_transition(ev(asset_event("video.asset.deleted", "A1", lesson_id=7, upload_id="U1", seconds=5)), state)
    assert plan.outcome == "applied"
    assert plan.changes["mux_asset_id"] is None and plan.changes["mux_playback_id"] is None
    assert plan.changes["mux_upload_id"] is None
    assert (plan.changes["video_provider"], plan.changes["video_status"]) == (provider, status)


# --- processing against the database (SQLite and PostgreSQL) ------------------------------------


@pytest.fixture
def lesson_id(session_factory: sessionmaker[Session]) -> int:
    with transaction(session_factory) as s:
        lesson = make_lesson(
            s,
            playback_policy="signed",
            video_status="waiting_upload",
            mux_upload_id="U1",
            video_status_at=T0 - timedelta(minutes=1),
        )
        return lesson.id


def handle(processor: WebhookProcessor, doc: dict[str, Any]) -> str:
    return processor.handle(parse_event(body(doc))).outcome


def lesson_row(factory: sessionmaker[Session], lesson_id: int) -> Lesson:
    with factory() as s:
        lesson = s.get(Lesson, lesson_id)
        assert lesson is not None
        return lesson


def outcomes(factory: sessionmaker[Session]) -> dict[str, str]:
    with factory() as s:
        return dict(s.execute(select(WebhookEvent.id, WebhookEvent.outcome)).tuples().all())


def test_full_lifecycle_and_duplicates(session_factory: sessionmaker[Session], lesson_id: int) -> None:
    p = WebhookProcessor(session_factory)
    created = upload_event("video.upload.asset_created", "U1", lesson_id=lesson_id, asset_id="A1", event_id="e1")
    ready = asset_event(
        "video.asset.ready",
        "A1",
        lesson_id=lesson_id,
        upload_id="U1",
        seconds=2,
        playback_ids=SIGNED_AND_PUBLIC,
        duration=3.0,
        event_id="e2",
    )
    assert handle(p, created) == "applied"
    assert lesson_row(session_factory, lesson_id).video_status == "processing"
    assert handle(p, ready) == "applied"
    assert handle(p, ready) == "duplicate"
    assert handle(p, created) == "duplicate"
    lesson = lesson_row(session_factory, lesson_id)
    assert (lesson.video_status, lesson.mux_asset_id, lesson.mux_playback_id, lesson.video_provider) == (
        "ready",
        "A1",
        "SIG",
        "mux",
    )
    assert lesson.video_duration_s == 3.0
    assert lesson.video_status_at == T0 + timedelta(seconds=2)
    assert outcomes(session_factory) == {"e1": "applied", "e2": "applied"}


def test_ready_before_asset_created_ends_ready(session_factory: sessionmaker[Session], lesson_id: int) -> None:
    p = WebhookProcessor(session_factory)
    assert (
        handle(
            p,
            asset_event(
                "video.asset.ready",
                "A1",
                lesson_id=lesson_id,
                upload_id="U1",
                seconds=5,
                playback_ids=SIGNED_AND_PUBLIC,
                event_id="late-ready",
            ),
        )
        == "applied"
    )
    assert (
        handle(
            p,
            asset_event(
                "video.asset.created", "A1", lesson_id=lesson_id, upload_id="U1", seconds=1, event_id="early-created"
            ),
        )
        == "stale"
    )
    assert (
        handle(
            p,
            upload_event(
                "video.upload.asset_created",
                "U1",
                lesson_id=lesson_id,
                asset_id="A1",
                seconds=1,
                event_id="early-upload",
            ),
        )
        == "stale"
    )
    assert lesson_row(session_factory, lesson_id).video_status == "ready"
    assert outcomes(session_factory) == {"late-ready": "applied", "early-created": "stale", "early-upload": "stale"}


def test_unknown_lessons_and_unhandled_types_are_stored(session_factory: sessionmaker[Session]) -> None:
    p = WebhookProcessor(session_factory)
    assert handle(p, asset_event("video.asset.ready", "AX", lesson_id=None, event_id="u1")) == "unmatched"
    assert handle(p, asset_event("video.asset.ready", "AY", lesson_id=987654, event_id="u2")) == "unmatched"
    assert handle(p, asset_event("video.asset.track.ready", "AZ", lesson_id=None, event_id="i1")) == "ignored"
    assert outcomes(session_factory) == {"u1": "unmatched", "u2": "unmatched", "i1": "ignored"}


def test_matching_falls_back_to_asset_and_upload_ids(session_factory: sessionmaker[Session], lesson_id: int) -> None:
    p = WebhookProcessor(session_factory)
    assert handle(p, upload_event("video.upload.asset_created", "U1", lesson_id=None, asset_id="A1")) == "applied"
    assert (
        handle(
            p,
            asset_event(
                "video.asset.ready", "A1", lesson_id=None, upload_id=None, seconds=1, playback_ids=SIGNED_AND_PUBLIC
            ),
        )
        == "applied"
    )
    assert lesson_row(session_factory, lesson_id).mux_playback_id == "SIG"


def test_a_failure_is_recorded_and_a_redelivery_may_apply_it(
    session_factory: sessionmaker[Session], lesson_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = WebhookProcessor(session_factory)
    doc = asset_event("video.asset.created", "A1", lesson_id=lesson_id, upload_id="U1", event_id="boom")
    monkeypatch.setattr("core.webhooks.plan_transition", lambda *_: (_ for _ in ()).throw(RuntimeError("db hiccup")))
    with pytest.raises(RuntimeError):
        handle(p, doc)
    assert outcomes(session_factory) == {"boom": "failed"}
    assert lesson_row(session_factory, lesson_id).video_status == "waiting_upload"
    monkeypatch.undo()
    assert handle(p, doc) == "applied"
    assert handle(p, doc) == "duplicate"
    assert outcomes(session_factory) == {"boom": "applied"}


def test_concurrent_duplicates_apply_once(session_factory: sessionmaker[Session], lesson_id: int) -> None:
    p = WebhookProcessor(session_factory)
    doc = asset_event(
        "video.asset.ready", "A1", lesson_id=lesson_id, upload_id="U1", playback_ids=SIGNED_AND_PUBLIC, event_id="same"
    )
    results: list[str] = []
    barrier = threading.Barrier(12)

    def worker() -> None:
        barrier.wait()
        results.append(handle(p, doc))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["applied"] + ["duplicate"] * 11
    with session_factory() as s:
        assert s.execute(select(func.count()).select_from(WebhookEvent)).scalar() == 1


@pytest.mark.postgres
def test_a_connection_the_server_dropped_costs_one_retry_not_the_event(pg_url: str) -> None:
    """The webhook engine does not ping before use (a round trip per event); a dead connection is retried."""
    engine = make_engine(pg_url, pool_pre_ping=False, pool_size=1, max_overflow=0)
    try:
        factory = make_session_factory(engine)
        with transaction(factory) as s:
            lesson = make_lesson(s, playback_policy="signed", video_status="waiting_upload", mux_upload_id="U1",
                                 video_status_at=T0 - timedelta(minutes=1))  # fmt: skip
            lesson_id = lesson.id
        p = WebhookProcessor(factory)
        first = upload_event("video.upload.asset_created", "U1", lesson_id=lesson_id, asset_id="A1")
        assert handle(p, first) == "applied"
        with engine.connect() as conn:  # the pool's only connection: the one the next event gets
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with make_engine(pg_url).connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid or 0)})")
        ready = asset_event("video.asset.ready", "A1", lesson_id=lesson_id, seconds=1, playback_ids=SIGNED_AND_PUBLIC)
        assert handle(p, ready) == "applied"
        assert lesson_row(factory, lesson_id).video_status == "ready"
    finally:
        engine.dispose()


def _migration(doc: dict[str, Any], lesson_id: int = 7) -> dict[str, Any]:
    """The same event about an asset the S3-to-Mux migration made (its meta.external_id says so)."""
    meta = {"external_id": f"lectern-migration:lesson-{lesson_id}:courses/1/lessons/{lesson_id}/video.mp4"}
    target = doc["data"]["new_asset_settings"] if doc["type"].startswith("video.upload.") else doc["data"]
    target["meta"] = meta
    return doc


LEGACY = replace(STATE, video_url="courses/1/lessons/7/video.mp4", video_status="ready", mux_upload_id=None)


@pytest.mark.parametrize(
    "doc",
    [
        asset_event("video.asset.created", "M1", lesson_id=7),
        asset_event("video.asset.ready", "M1", lesson_id=7, playback_ids=SIGNED_AND_PUBLIC),
        asset_event("video.asset.errored", "M1", lesson_id=7, errors={"type": "invalid_input", "messages": ["x"]}),
        upload_event("video.upload.asset_created", "MU1", lesson_id=7, asset_id="M1"),
    ],
)
def test_a_migration_asset_is_left_to_the_migration_until_the_switch(doc: dict[str, Any]) -> None:
    # Without the marker the event would flip the legacy lesson before the migration verified the asset.
    assert plan_transition(ev(doc), LEGACY).outcome == "applied"
    plan = plan_transition(ev(_migration(doc)), LEGACY)
    assert plan.outcome == "ignored" and not plan.changes
    assert plan.reason is not None and "migration" in plan.reason


def test_after_the_switch_a_migration_asset_is_the_lessons_asset() -> None:
    switched = replace(LEGACY, mux_asset_id="M1", mux_playback_id="SIG", video_status_at=T0)
    deleted = _migration(asset_event("video.asset.deleted", "M1", lesson_id=7, seconds=60))
    plan = plan_transition(ev(deleted), switched)
    assert plan.outcome == "applied" and plan.changes["video_provider"] == "s3"


# --- ownership: passthrough never re-points a lesson (issue 15 item 6) ----------------------------


def test_passthrough_naming_a_lesson_waiting_for_its_own_upload_is_unmatched(
    session_factory: sessionmaker[Session], lesson_id: int
) -> None:
    p = WebhookProcessor(session_factory)
    foreign = asset_event(
        "video.asset.ready", "A9", lesson_id=lesson_id, seconds=60, playback_ids=SIGNED_AND_PUBLIC, event_id="foreign"
    )
    result = p.handle(parse_event(body(foreign)))
    assert (result.outcome, result.lesson_id) == ("unmatched", None)
    assert result.reason is not None and f"passthrough names lesson {lesson_id}" in result.reason
    lesson = lesson_row(session_factory, lesson_id)
    assert (lesson.video_status, lesson.mux_asset_id, lesson.mux_playback_id) == ("waiting_upload", None, None)
    assert outcomes(session_factory) == {"foreign": "unmatched"}
    # The lesson's own upload still applies afterwards.
    own = upload_event("video.upload.asset_created", "U1", lesson_id=lesson_id, asset_id="A1", seconds=61)
    assert handle(p, own) == "applied"
    assert lesson_row(session_factory, lesson_id).mux_asset_id == "A1"


def test_the_owner_of_an_asset_wins_over_passthrough(session_factory: sessionmaker[Session], lesson_id: int) -> None:
    with transaction(session_factory) as s:
        bystander = make_lesson(s, playback_policy="signed").id  # no Mux state: passthrough could claim it
    p = WebhookProcessor(session_factory)
    assert handle(p, upload_event("video.upload.asset_created", "U1", lesson_id=lesson_id, asset_id="A1")) == "applied"
    ready = asset_event("video.asset.ready", "A1", lesson_id=bystander, seconds=1, playback_ids=SIGNED_AND_PUBLIC)
    result = p.handle(parse_event(body(ready)))
    assert (result.outcome, result.lesson_id) == ("applied", lesson_id)
    assert lesson_row(session_factory, lesson_id).mux_playback_id == "SIG"
    other = lesson_row(session_factory, bystander)
    assert (other.video_status, other.mux_asset_id) == ("none", None)


def _undated(doc: dict[str, Any]) -> dict[str, Any]:
    doc.pop("created_at")
    return doc


def test_an_undated_event_never_overrides_known_state(session_factory: sessionmaker[Session], lesson_id: int) -> None:
    p = WebhookProcessor(session_factory)
    assert handle(p, upload_event("video.upload.asset_created", "U1", lesson_id=lesson_id, asset_id="A1")) == "applied"
    errored = asset_event("video.asset.errored", "A1", lesson_id=lesson_id, errors={"type": "invalid_input"})
    result = p.handle(parse_event(body(_undated(errored))))
    assert result.outcome == "stale" and "no created_at" in (result.reason or "")
    assert lesson_row(session_factory, lesson_id).video_status == "processing"


def test_an_undated_event_may_fill_a_lesson_with_no_state_without_dating_it(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        fresh = make_lesson(s, playback_policy="signed").id
    p = WebhookProcessor(session_factory)
    created = _undated(asset_event("video.asset.created", "A5", lesson_id=fresh))
    assert handle(p, created) == "applied"
    lesson = lesson_row(session_factory, fresh)
    assert (lesson.video_status, lesson.mux_asset_id, lesson.video_status_at) == ("processing", "A5", None)
    # Any dated event still decides, however old.
    ready = asset_event("video.asset.ready", "A5", lesson_id=fresh, seconds=-86400, playback_ids=SIGNED_AND_PUBLIC)
    assert handle(p, ready) == "applied"
    assert lesson_row(session_factory, fresh).video_status == "ready"


# --- strict parsing (issue 15 item 7) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b'{"id":"e","type":"t","data":{"duration":NaN}}', "NaN is not a JSON value"),
        (b'{"id":"e","type":"t","data":{"duration":Infinity}}', "Infinity is not a JSON value"),
        (b'{"id":"e","type":"t","data":{"duration":-Infinity}}', "-Infinity is not a JSON value"),
        (b'{"id":"e","type":"t","data":{"duration":1e999}}', "out of range"),
        (b'{"id":"e","type":"t","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deeper than 32"),
        (b'{"id":"e\\u0000","type":"t"}', "no usable id"),
        (b'{"id":"e","type":"video.asset.ready\\ud800"}', "no type"),
        (b'{"id":"' + b"e" * 65 + b'","type":"t"}', "no usable id"),
        (b"\xff\xfe{}", "not JSON"),
    ],
)
def test_strict_json_rejects_what_is_not_an_event(raw: bytes, match: str) -> None:
    with pytest.raises(WebhookPayloadInvalid, match=match):
        parse_event(raw)


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        (b"[[[]]]", False),
        (b'{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', False),  # brackets inside strings do not count
        (b'{"a":"\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', False),  # nor after an escaped quote
        (b'["\\\\",' + b"[" * 32 + b"]" * 32 + b"]", True),  # an escaped backslash ends before the quote
        (b'["\\"' + b"[" * 40 + b'"]', False),  # an escaped quote does not end the string
        (b"[" * 33 + b"]" * 33, True),
        (b"[]" * 1000, False),
    ],
)
def test_json_depth_is_measured_outside_strings(text: bytes, too_deep: bool) -> None:
    assert json_depth_exceeds(text, 32) is too_deep


def test_the_depth_check_is_linear_on_hostile_bodies() -> None:
    # An unterminated string of escaped quotes made a regex for whole strings rescan to the end at each quote.
    hostile = b"[" * 40 + b'"' + b'\\"' * 300_000
    started = time.perf_counter()
    assert json_depth_exceeds(hostile, 32) is True
    assert json_depth_exceeds(b'"' + b'\\"' * 300_000 + b"[" * 40, 32) is False  # all inside one string
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    ("passthrough", "lesson_id"),
    [("7", 7), ("²", None), ("7²", None), ("1" * 23, None), ("0", None), ("-7", None), (" 7", None),
     ("2147483648", None), ("lesson-7", None), (None, None)],
)  # fmt: skip
def test_only_an_ascii_lesson_id_in_passthrough_names_a_lesson(passthrough: str | None, lesson_id: int | None) -> None:
    doc = asset_event("video.asset.ready", "A1", lesson_id=None)
    doc["data"]["passthrough"] = passthrough
    assert ev(doc).passthrough_lesson_id == lesson_id


@pytest.mark.parametrize(
    ("created_at", "problem"),
    [
        (1e20, "not a usable time"),
        (-1e20, "not a usable time"),
        (10**400, "not a usable time"),
        ("NaN", "not a usable time"),
        ("inf", "not a usable time"),
        (True, "not a usable time"),
        ("0001-01-01T00:00:00+01:00", "not a usable time"),
        ("1969-07-20T20:17:40Z", "not a usable time"),
        ("9999-12-31T23:59:59Z", "in the future"),
        ({"at": 1}, "not a usable time"),
    ],
)
def test_an_unusable_created_at_is_a_problem_not_an_error(created_at: Any, problem: str) -> None:
    doc = asset_event("video.asset.ready", "A1", lesson_id=7)
    doc["created_at"] = created_at
    raw = json.dumps(doc).encode() if created_at != 10**400 else body(doc)
    event = parse_event(raw)
    assert event.problem is not None and problem in event.problem


@pytest.mark.parametrize(
    ("data_changes", "problem"),
    [
        ({"id": "A" * 65}, "asset id"),
        ({"id": "A\u00001"}, "asset id"),
        ({"upload_id": "U 1"}, "upload id"),
        ({"playback_ids": 5}, "playback_ids is not a list"),
    ],
)
def test_ids_lectern_cannot_store_are_a_problem(data_changes: dict[str, Any], problem: str) -> None:
    doc = asset_event("video.asset.ready", "A1", lesson_id=7)
    doc["data"].update(data_changes)
    event = ev(doc)
    assert event.problem is not None and problem in event.problem


@pytest.mark.parametrize(
    ("duration", "stored"), [(3.5, 3.5), (10**400, None), (-1, None), (1e12, None), (True, None), ("3", None)]
)
def test_only_a_plausible_duration_is_kept(duration: Any, stored: float | None) -> None:
    doc = asset_event("video.asset.ready", "A1", lesson_id=7, upload_id="U1", playback_ids=SIGNED_AND_PUBLIC)
    doc["data"]["duration"] = duration
    assert plan_transition(ev(doc), STATE).changes["video_duration_s"] == stored


def test_mux_error_text_is_made_storable() -> None:
    doc = asset_event("video.asset.errored", "A1", lesson_id=7, upload_id="U1")
    doc["data"]["errors"] = {"type": "invalid_input", "messages": ["bad\u0000 file \ud800", "x" * 5000]}
    error = plan_transition(ev(doc), STATE).changes["video_error"]
    assert "\x00" not in error and len(error) <= 2000 and error.startswith("bad file ?")
    error.encode("utf-8")
    doc["data"]["errors"] = {"type": "invalid_input", "messages": 5}
    assert plan_transition(ev(doc), STATE).changes["video_error"] == "invalid_input"

"""Every direct upload in `uploads`: recorded once, moved forward by webhooks and the sweep, summed up for the page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import Lesson, Upload, UploadStatus
from core.uploads import PendingUpload, UploadChange, plan_upload_sweep, record_upload, sweep_uploads, upload_stats
from core.webhooks import WebhookProcessor, parse_event, plan_upload_change
from tests.core.mux_events import T0, asset_event, body, event, upload_event
from tests.factories import make_course, make_lesson, make_user

NOW = T0 + timedelta(hours=2)
PUB = [{"id": "P1", "policy": "public"}]


def change(doc: dict[str, Any]) -> UploadChange | None:
    return plan_upload_change(parse_event(body(doc), received_at=NOW), NOW)


def test_what_each_event_says_about_its_upload() -> None:
    at = T0
    assert change(upload_event("video.upload.asset_created", "U1", lesson_id=1, asset_id="A1")) == UploadChange(
        "U1", UploadStatus.asset_created, at, "A1"
    )
    assert change(asset_event("video.asset.created", "A1", lesson_id=1, upload_id="U1")) == UploadChange(
        "U1", UploadStatus.asset_created, at, "A1"
    )
    assert change(asset_event("video.asset.ready", "A1", lesson_id=1, upload_id="U1")) == UploadChange(
        "U1", UploadStatus.ready, at, "A1"
    )
    errors = {"type": "invalid_input", "messages": ["no video track"]}
    assert change(asset_event("video.asset.errored", "A1", lesson_id=1, upload_id="U1", errors=errors)) == UploadChange(
        "U1", UploadStatus.errored, at, "A1", "no video track"
    )
    assert change(upload_event("video.upload.cancelled", "U1", lesson_id=1)) == UploadChange(
        "U1", UploadStatus.cancelled, at
    )
    failed = upload_event("video.upload.errored", "U1", lesson_id=1, error={"type": "x", "message": "too big"})
    assert change(failed) == UploadChange("U1", UploadStatus.errored, at, error="too big")
    # Nothing to say: no upload (an asset made from a URL), a deletion, a type Lectern ignores, an unusable event.
    assert change(asset_event("video.asset.ready", "A1", lesson_id=1)) is None
    assert change(asset_event("video.asset.deleted", "A1", lesson_id=1, upload_id="U1")) is None
    assert change(event("video.upload.created", {"id": "U1", "status": "waiting"})) is None
    assert change(asset_event("video.asset.ready", "A1", lesson_id=1, upload_id="U1") | {"created_at": "soon"}) is None


def test_the_sweep_plans_timeouts_and_missed_webhooks() -> None:
    old, fresh = NOW - timedelta(seconds=3600 + 301), NOW - timedelta(seconds=3600 + 299)
    pending = [
        PendingUpload("U-old", "waiting", old),
        PendingUpload("U-grace", "waiting", fresh),  # past its timeout, but within the grace for webhooks
        PendingUpload("U-ready", "waiting", old),
        PendingUpload("U-bad", "asset_created", old),
        PendingUpload("U-prep", "waiting", fresh),
        PendingUpload("U-prep2", "asset_created", fresh),
        PendingUpload("U-late", "timed_out", old),
    ]
    assets = [
        {"id": "A-ready", "status": "ready", "upload_id": "U-ready"},
        {"id": "A-bad", "status": "errored", "upload_id": "U-bad", "errors": {"messages": ["corrupt"]}},
        {"id": "A-prep", "status": "preparing", "upload_id": "U-prep"},
        {"id": "A-prep2", "status": "preparing", "upload_id": "U-prep2"},
        {"id": "A-late", "status": "preparing", "upload_id": "U-late"},
        {"id": "A-other", "status": "ready"},
    ]
    planned = {
        c.upload_id: (c.status, c.asset_id, c.error)
        for c in plan_upload_sweep(pending, assets, now=NOW, timeout_s=3600)
    }
    assert planned == {
        "U-old": ("timed_out", None, "no file arrived within the upload's timeout (3600 s)"),
        "U-ready": ("ready", "A-ready", None),
        "U-bad": ("errored", "A-bad", "corrupt"),
        "U-prep": ("asset_created", "A-prep", None),
        "U-late": ("asset_created", "A-late", None),  # Mux's word wins over our clock
    }


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(session_factory) as s:
        teacher = make_user(s, "teacher")
        lesson = make_lesson(s, make_course(s, teacher=teacher), mux_upload_id="U1", video_status="waiting_upload")
        lesson.video_status_at = T0 - timedelta(minutes=1)
        for upload_id in ("U1", "U1", "U-cancel", "U-fail", "U-mig"):  # recording twice keeps one row
            record_upload(s, upload_id, lesson_id=lesson.id, created_by=teacher.id, now=T0 - timedelta(minutes=1))
        return {"lesson": lesson.id, "teacher": teacher.id}


def rows(session_factory: sessionmaker[Session]) -> dict[str, tuple[str, str | None, str | None, bool]]:
    with session_factory() as s:
        found = s.execute(select(Upload)).scalars().all()
        return {u.mux_upload_id: (u.status, u.mux_asset_id, u.error, u.finished_at is not None) for u in found}


def test_webhooks_move_uploads_forward_only_and_retries_change_nothing(
    session_factory: sessionmaker[Session], world: dict[str, int]
) -> None:
    p = WebhookProcessor(session_factory)
    lesson = world["lesson"]

    def handle(doc: dict[str, Any]) -> str:
        return p.handle(parse_event(body(doc))).outcome

    created = upload_event("video.upload.asset_created", "U1", lesson_id=lesson, asset_id="A1", seconds=1)
    ready = asset_event("video.asset.ready", "A1", lesson_id=lesson, upload_id="U1", seconds=3, playback_ids=PUB)
    assert handle(created) == "applied"
    assert rows(session_factory)["U1"] == ("asset_created", "A1", None, False)
    assert handle(ready) == "applied"
    assert handle(ready) == "duplicate"  # Mux's retry
    late = asset_event("video.asset.created", "A1", lesson_id=lesson, upload_id="U1", seconds=2)
    assert handle(late) == "stale"
    assert rows(session_factory)["U1"] == ("ready", "A1", None, True)

    # Events about other uploads of the lesson still record their outcome (the lesson ignores or refuses them).
    assert handle(upload_event("video.upload.cancelled", "U-cancel", lesson_id=lesson, seconds=4)) == "stale"
    error = {"type": "invalid_file", "message": "not a video"}
    assert handle(upload_event("video.upload.errored", "U-fail", lesson_id=lesson, seconds=5, error=error)) == "stale"
    mig = asset_event("video.asset.ready", "A-mig", lesson_id=lesson, upload_id="U-mig", seconds=6, playback_ids=PUB)
    mig["data"]["meta"] = {"external_id": f"lectern-migration:lesson-{lesson}:key.mp4"}
    assert handle(mig) in ("ignored", "stale")
    assert rows(session_factory) == {
        "U1": ("ready", "A1", None, True),
        "U-cancel": ("cancelled", None, None, True),
        "U-fail": ("errored", None, "not a video", True),
        "U-mig": ("ready", "A-mig", None, True),
    }


def test_the_sweep_times_out_waiting_uploads_and_a_late_asset_still_counts(
    session_factory: sessionmaker[Session], world: dict[str, int]
) -> None:
    engine = session_factory.kw["bind"]
    with engine.begin() as conn:
        assert sweep_uploads(conn, [], now=T0 + timedelta(minutes=30), timeout_s=3600) == 0
        assert (
            sweep_uploads(conn, [{"id": "A-mig", "status": "ready", "upload_id": "U-mig"}], now=NOW, timeout_s=3600)
            == 4
        )
    assert rows(session_factory) == {
        "U1": ("timed_out", None, "no file arrived within the upload's timeout (3600 s)", True),
        "U-cancel": ("timed_out", None, "no file arrived within the upload's timeout (3600 s)", True),
        "U-fail": ("timed_out", None, "no file arrived within the upload's timeout (3600 s)", True),
        "U-mig": ("ready", "A-mig", None, True),
    }
    p = WebhookProcessor(session_factory)
    late = upload_event("video.upload.asset_created", "U1", lesson_id=world["lesson"], asset_id="A1", seconds=1)
    p.handle(parse_event(body(late)))
    assert rows(session_factory)["U1"] == ("asset_created", "A1", None, False)


def test_upload_stats_by_day_and_by_user(session_factory: sessionmaker[Session], world: dict[str, int]) -> None:
    with transaction(session_factory) as s:
        record_upload(s, "U-new", lesson_id=None, created_by=None, now=T0 + timedelta(days=1))
        s.execute(update(Upload).where(Upload.mux_upload_id == "U1").values(status="ready"))
        s.execute(update(Upload).where(Upload.mux_upload_id == "U-fail").values(status="errored", error="boom"))
        s.execute(update(Upload).where(Upload.mux_upload_id == "U-mig").values(status="timed_out"))
        s.execute(update(Upload).where(Upload.mux_upload_id == "U-cancel").values(status="cancelled"))
    with session_factory() as s:
        stats = upload_stats(s, since=T0 - timedelta(days=1), until=T0 + timedelta(days=2))
        lesson_title = s.get(Lesson, world["lesson"]).title  # type: ignore[union-attr]
    assert (stats.total.created, stats.total.ready, stats.total.failed) == (5, 1, 2)
    assert stats.total.success_rate == pytest.approx(1 / 3)
    day = (T0 - timedelta(minutes=1)).date()
    assert set(stats.by_day) == {day, date(2026, 11, 26)}
    assert stats.by_day[date(2026, 11, 26)].success_rate is None  # still waiting: no outcome yet
    assert stats.by_user[world["teacher"]].created == 4 and stats.by_user[None].created == 1
    assert stats.user_names[world["teacher"]].startswith("Teacher")
    assert [(f.upload_id, f.status, f.error, f.lesson_title) for f in stats.failures] == [
        ("U-mig", "timed_out", None, lesson_title),  # newest first; same time: newest row first
        ("U-fail", "errored", "boom", lesson_title),
    ]

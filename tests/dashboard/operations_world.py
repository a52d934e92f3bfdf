"""Rows for every Operations section, relative to `now`: webhook events and refusals, uploads, alerts, an audit
row in the platform DB; failed views with error messages and sync job states in the warehouse.

Times sit well inside their window (the last hour's rows 5 to 40 minutes back), so a test that runs a few
minutes after seeding still sees them where it expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.audit import record_action
from core.db.engine import transaction
from core.db.models import Alert, Course, Lesson, Upload, WebhookEvent, WebhookRejection
from sync.state import transaction as wh_transaction
from sync.state import write_state
from sync.views import load_window
from tests.core.mux_events import asset_event
from tests.factories import make_lesson
from tests.warehouse.factories import FakeViews, as_player_sends, make_view
from warehouse.loaders import assets_to_arrow, upsert
from warehouse.store import WarehouseLayout, WarehouseWriter

M = timedelta(minutes=1)
EVENT_ERROR = "lesson 7 is locked by another transaction; Mux will redeliver"
UPLOAD_ERROR = "Input file does not contain a video track"
# A direct upload's URL is a credential (anyone holding it may upload): the webhook log must not show it.
UPLOAD_URL = "https://storage.example.test/upload/up-4?signature=s3cr3t-upload-signature"
VIEW_ERROR = "Network error: the manifest answered 404"
SYNC_ERROR = "Mux answered 500 on the assets list"
# The replay and repair events arrived days ago: outside the last hour and day the other figures are read over.
REPAIR_AGE = timedelta(days=3)


@dataclass(frozen=True)
class Seeded:
    alert_firing: int
    alert_pending: int


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _event(n: int, type: str, outcome: str, received: datetime, lag_s: float, **fields: object) -> WebhookEvent:
    data = {"id": f"obj-{n}", "status": "ready"} | ({"url": UPLOAD_URL} if "upload" in type else {})
    return WebhookEvent(
        id=f"evt-{n}", type=type, outcome=outcome, occurred_at=received - timedelta(seconds=lag_s),
        received_at=received, payload={"type": type, "id": f"evt-{n}", "data": data},
        object_type="upload" if "upload" in type else "asset", object_id=f"obj-{n}", **fields,
    )  # fmt: skip


def _upload(n: int, lesson_id: int, teacher: int, status: str, created: datetime, error: str | None = None) -> Upload:
    finished = created + 3 * M if status not in ("waiting", "asset_created") else None
    return Upload(
        mux_upload_id=f"up-{n}", lesson_id=lesson_id, created_by=teacher, status=status, error=error,
        created_at=created, updated_at=created, finished_at=finished,
        mux_asset_id=f"asset-up-{n}" if status == "ready" else None,
    )  # fmt: skip


def seed_platform(
    factory: sessionmaker[Session], now: datetime, lessons: dict[str, int], teachers: dict[str, int]
) -> Seeded:
    """`lessons`: keys a_mux, a_errored, a_waiting, b_mux; `teachers`: keys teacher_a, teacher_b."""
    a, b = teachers["teacher_a"], teachers["teacher_b"]
    with transaction(factory) as s:
        s.add_all(
            [
                _event(1, "video.asset.ready", "applied", now - 30 * M, 2, lesson_id=lessons["a_mux"]),
                _event(2, "video.asset.ready", "applied", now - 20 * M, 4, lesson_id=lessons["b_mux"]),
                _event(3, "video.asset.errored", "failed", now - 10 * M, 10, error=EVENT_ERROR),
                _event(4, "video.upload.asset_created", "unmatched", now - 15 * M, 1),
                _event(5, "video.asset.created", "applied", now - 3 * 60 * M, 60, lesson_id=lessons["a_mux"]),
                _event(6, "video.asset.ready", "ignored", now - 3 * 24 * 60 * M, 0),
                WebhookRejection(hour=hour_of(now - 20 * M), reason="duplicate", count=3),
                WebhookRejection(hour=hour_of(now - 20 * M), reason="signature_mismatch", count=2),
                WebhookRejection(hour=hour_of(now - 2 * 24 * 60 * M), reason="duplicate", count=5),
                _upload(1, lessons["a_mux"], a, "ready", now - 40 * M),
                _upload(2, lessons["a_errored"], a, "errored", now - 35 * M, UPLOAD_ERROR),
                _upload(3, lessons["b_mux"], b, "timed_out", now - 25 * M),
                _upload(4, lessons["a_waiting"], a, "waiting", now - 5 * M),
                _upload(5, lessons["b_mux"], b, "ready", now - 2 * 24 * 60 * M),
            ]
        )
        firing = Alert(
            key=f"playback_failure:lesson:{lessons['a_mux']}", kind="playback_failure", severity="critical",
            message="Playback failures at 25 % on Alpha Mux lesson", state="firing", value=0.25, threshold=0.05,
            first_seen_at=now - 30 * M, last_seen_at=now - 2 * M, fired_at=now - 25 * M, lesson_id=lessons["a_mux"],
            teacher_id=a, created_at=now - 30 * M,
        )  # fmt: skip
        pending = Alert(
            key="upload_failure_rate", kind="upload_failure_rate", severity="warning",
            message="Upload failures at 50 %", state="pending", value=0.5, threshold=0.2,
            first_seen_at=now - 5 * M, last_seen_at=now - M, created_at=now - 5 * M,
        )  # fmt: skip
        resolved = Alert(
            key="webhook_silence", kind="webhook_silence", message="No webhook for 30 min", state="resolved",
            first_seen_at=now - 60 * M, last_seen_at=now - 50 * M, resolved_at=now - 50 * M, created_at=now - 60 * M,
        )  # fmt: skip
        s.add_all([firing, pending, resolved])
        record_action(s, action="webhook.replay", actor="admin@example.test", target="webhook:evt-3", outcome="failed")
        s.flush()
        return Seeded(alert_firing=firing.id, alert_pending=pending.id)


def _failed_view(n: int, now: datetime, lesson_id: int) -> dict[str, object]:
    """Views 0-2 fail with VIEW_ERROR, view 3 never starts; 0-3 on Edge, 4-5 on Chrome."""
    error = {"player_error_message": VIEW_ERROR, "player_error_code": "2"} if n < 3 else {}
    return make_view(
        9000 + n, end=now - (8 + n) * M, lesson_id=lesson_id, watch_ms=60_000, browser="Edge" if n < 4 else "Chrome",
        os="Windows", playback_failure=n < 3, video_startup_failure=n == 3, **error,
    )  # fmt: skip


def seed_warehouse(
    warehouse_path: Path, now: datetime, lessons: dict[str, int], assets: Sequence[dict[str, Any]] = ()
) -> None:
    """Failed views in the last hour (two browsers, one error message), the sync jobs' states and `assets`
    (Mux's JSON, as the `assets` job lists them) in the warehouse `assets` table."""
    views = [_failed_view(n, now, lessons["a_mux"] if n % 2 else lessons["b_mux"]) for n in range(6)]
    writer = WarehouseWriter(WarehouseLayout(warehouse_path))
    with writer.open() as con, wh_transaction(con):
        load_window(con, FakeViews(as_player_sends(views)), now - 2 * 60 * M, now + M, now=now, batch_rows=1000)
        if assets:
            upsert(con, "assets", assets_to_arrow(list(assets), seen_at=now), ["asset_id"])
        write_state(con, "views", now=now - 3 * M, status="ok", rows=6, watermark=now - 20 * M, duration_s=1.5)
        write_state(con, "assets", now=now - 4 * M, status="error", rows=0, error=SYNC_ERROR, duration_s=0.4)


@dataclass(frozen=True)
class Repairs:
    """Lessons and stored events for the replay and repair actions (see `seed_repairs`)."""

    locked: int  # a lesson whose `ready` event failed (a lock): a replay applies it
    batch: int  # a lesson with two failed events: a filtered replay applies both
    batch_asset: str
    stuck: int  # a migrated lesson stuck in processing: a repair reads Mux and makes it ready


def _stored(doc: dict[str, Any], received: datetime, outcome: str, lesson_id: int | None) -> WebhookEvent:
    data = doc["data"]
    return WebhookEvent(
        id=doc["id"], type=doc["type"], object_type="asset", object_id=data["id"], lesson_id=lesson_id,
        occurred_at=received - timedelta(seconds=1), received_at=received, outcome=outcome,
        error=EVENT_ERROR if outcome == "failed" else None, payload=doc,
    )  # fmt: skip


def seed_repairs(
    factory: sessionmaker[Session], now: datetime, course_id: int, stuck: int, stuck_asset: str
) -> Repairs:
    """Two lessons waiting for `ready` events stored as failed (a row lock), and the migrated lesson `stuck`
    set back to processing as if its `ready` event had never arrived, with an event that names it."""
    ready = {"video.asset.ready"}
    then = now - REPAIR_AGE
    with transaction(factory) as s:
        course = s.get(Course, course_id)
        locked = make_lesson(s, course, title="Locked lesson", mux_asset_id="asset-locked", video_status="processing",
                             video_provider="mux", video_status_at=then - 60 * M)  # fmt: skip
        batch = make_lesson(s, course, title="Batch lesson", mux_asset_id="asset-batch", video_status="processing",
                            video_provider="mux", video_status_at=then - 60 * M)  # fmt: skip
        pb = [{"id": "pb-locked", "policy": "public"}]
        events = [
            (asset_event("video.asset.ready", "asset-locked", lesson_id=locked.id, playback_ids=pb, duration=5.0,
                         at=then - 9 * M, event_id="evt-locked"), locked.id),
            (asset_event("video.asset.created", "asset-batch", lesson_id=batch.id, at=then - 8 * M,
                         event_id="evt-batch-1"), batch.id),
            (asset_event("video.asset.ready", "asset-batch", lesson_id=batch.id, duration=6.0, at=then - 7 * M,
                         playback_ids=[{"id": "pb-batch", "policy": "public"}], event_id="evt-batch-2"), batch.id),
            (asset_event("video.asset.created", stuck_asset, lesson_id=stuck, at=then - 6 * M, event_id="evt-stuck"),
             stuck),
        ]  # fmt: skip
        for doc, lesson_id in events:
            outcome = "failed" if doc["type"] in ready or doc["id"].startswith("evt-batch") else "applied"
            s.add(_stored(doc, then, outcome, lesson_id))
        s.execute(update(Lesson).where(Lesson.id == stuck).values(video_status="processing"))
        return Repairs(locked.id, batch.id, "asset-batch", stuck)

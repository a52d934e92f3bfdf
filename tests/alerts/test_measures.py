"""The rules measured on the platform DB (SQLite and PostgreSQL) and on the warehouse (DuckDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.alerts import measures
from core.alerts.rules import DEFAULT_RULES, resolve_rules
from core.db.models import Lesson, MigrationJob, Upload, WebhookEvent
from tests.alerts.conftest import Platform, add_views
from warehouse import alerts as wh
from warehouse.schema import migrate

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = DEFAULT_RULES


def upload(n: int, status: str, at: datetime, **values: object) -> Upload:
    return Upload(mux_upload_id=f"up-{n}", status=status, created_at=at, updated_at=at, **values)


def webhook(n: int, at: datetime) -> WebhookEvent:
    return WebhookEvent(id=f"ev-{n}", type="video.asset.ready", occurred_at=at, received_at=at, payload={})


def silence(engine: Engine, at: datetime = NOW) -> list[float | None]:
    with Session(engine) as session:
        found = measures.webhook_silence(session, RULES["webhook_silence"], now=at, upload_url_ttl_s=3600)
    return [o.value for o in found]


def test_webhook_silence_needs_waiting_uploads_and_no_webhook_since(engine: Engine) -> None:
    assert silence(engine) == []  # nothing pending: quiet is fine
    with Session(engine) as session, session.begin():
        session.add(upload(1, "asset_created", NOW - timedelta(minutes=50)))
        session.add(webhook(1, NOW - timedelta(hours=5)))
    assert silence(engine) == [50.0]  # waiting 50 min, the last webhook long before
    with Session(engine) as session, session.begin():
        session.add(webhook(2, NOW - timedelta(minutes=10)))  # webhooks still arrive: the pipe works
    assert silence(engine) == []
    assert silence(engine, NOW + timedelta(minutes=31)) == [41.0]


def test_webhook_silence_forgets_abandoned_upload_urls_and_counts_waiting_lessons(
    engine: Engine, platform: Platform
) -> None:
    with Session(engine) as session, session.begin():
        session.add(upload(1, "waiting", NOW - timedelta(hours=2)))  # its URL expired an hour ago
    assert silence(engine) == []
    with Session(engine) as session, session.begin():
        lesson = session.get(Lesson, platform.lesson_a)
        assert lesson is not None
        lesson.video_status, lesson.video_status_at = "processing", NOW - timedelta(minutes=40)
    assert silence(engine) == [40.0]


def test_webhook_silence_ignores_uploads_mux_has_acknowledged(engine: Engine, platform: Platform) -> None:
    """A teacher sending a large file for an hour: Mux said `video.upload.created` and has nothing more to say."""
    with Session(engine) as session, session.begin():
        session.add(upload(1, "waiting", NOW - timedelta(minutes=50)))
        lesson = session.get(Lesson, platform.lesson_a)
        assert lesson is not None
        lesson.video_status, lesson.video_status_at = "waiting_upload", NOW - timedelta(minutes=50)
        lesson.mux_upload_id = "up-1"
        session.add(webhook(1, NOW - timedelta(hours=5)))
    assert silence(engine) == [50.0]  # no word from Mux about the upload: the pipe may be broken
    with Session(engine) as session, session.begin():
        created = WebhookEvent(
            id="ev-created",
            type="video.upload.created",
            object_type="upload",
            object_id="up-1",
            occurred_at=NOW - timedelta(minutes=49),
            received_at=NOW - timedelta(minutes=49),
            payload={},
        )
        session.add(created)
    assert silence(engine) == []  # Mux acknowledged it; the file is still on its way
    with Session(engine) as session, session.begin():
        row = session.scalars(select(Upload).where(Upload.mux_upload_id == "up-1")).one()
        row.status, row.updated_at = "asset_created", NOW - timedelta(minutes=45)
    assert silence(engine) == [45.0]  # now Mux owes a ready or errored event and none came for 45 min


def test_upload_failure_rate_over_a_window_with_a_minimum(engine: Engine) -> None:
    rule = resolve_rules({"upload_failure_rate": {"min_count": 4, "threshold": 20}})["upload_failure_rate"]

    def rate(at: datetime = NOW) -> list[float | None]:
        with Session(engine) as session:
            return [o.value for o in measures.upload_failure_rate(session, rule, now=at)]

    with Session(engine) as session, session.begin():
        for n, status in enumerate(["ready", "ready", "errored"]):
            session.add(upload(n, status, NOW - timedelta(hours=1), finished_at=NOW - timedelta(hours=1)))
    assert rate() == []  # 3 finished: under the minimum
    with Session(engine) as session, session.begin():
        session.add(upload(9, "timed_out", NOW - timedelta(hours=2), finished_at=NOW - timedelta(hours=2)))
        session.add(upload(10, "waiting", NOW))  # not finished: not counted
    assert rate() == [50.0]
    assert rate(NOW + timedelta(days=2)) == []  # out of the window


def test_migration_failures_in_the_window(engine: Engine, platform: Platform) -> None:
    rule = RULES["migration_failures"]
    with Session(engine) as session, session.begin():
        session.add(MigrationJob(lesson_id=platform.lesson_a, s3_key="k", state="failed", error="403", updated_at=NOW))
    with Session(engine) as session:
        [found] = measures.migration_failures(session, rule, now=NOW)
        assert found.value == 1 and "lesson" in found.message and "403" in found.message
        assert measures.migration_failures(session, rule, now=NOW + timedelta(days=2)) == []


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    return con


def test_playback_failures_overall_and_per_lesson_with_minimum_views(warehouse: duckdb.DuckDBPyConnection) -> None:
    add_views(warehouse, lesson_id=1, count=30, failures=9, end=NOW, prefix="a")  # 30 %
    add_views(warehouse, lesson_id=2, count=30, failures=0, end=NOW, prefix="b")
    add_views(warehouse, lesson_id=3, count=5, failures=5, end=NOW, prefix="c")  # 100 %, under 20 views
    add_views(warehouse, lesson_id=4, count=40, failures=40, end=NOW - timedelta(hours=2), prefix="d")  # too old
    overall, lessons = wh.playback_failures(
        warehouse, RULES["playback_failure"], RULES["playback_failure_lesson"], now=NOW
    )
    assert [(o.key, o.value) for o in overall] == [("playback_failure", 21.54)]  # 14 of 65
    assert [(o.key, o.value, o.lesson_id) for o in lessons] == [("playback_failure_lesson:1", 30.0, 1)]
    assert wh.playback_failures(warehouse, RULES["playback_failure"], RULES["playback_failure_lesson"], now=NOW) == (
        overall,
        lessons,
    )
    later = NOW + timedelta(hours=2)
    assert wh.playback_failures(warehouse, RULES["playback_failure"], RULES["playback_failure_lesson"], now=later) == (
        [],
        [],
    )


def test_startup_p95(warehouse: duckdb.DuckDBPyConnection) -> None:
    add_views(warehouse, lesson_id=1, count=60, failures=0, end=NOW, prefix="fast", startup_ms=900)
    assert wh.startup_time_p95(warehouse, RULES["startup_time_p95"], now=NOW) == []
    add_views(warehouse, lesson_id=1, count=20, failures=0, end=NOW, prefix="slow", startup_ms=12_000)
    [slow] = wh.startup_time_p95(warehouse, RULES["startup_time_p95"], now=NOW)
    assert slow.value == 12.0 and slow.threshold == 5.0


def test_sync_jobs_failing_or_behind(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = [
        ("views", "error", "MuxUnavailable: 503", NOW, NOW - timedelta(hours=1)),
        ("delivery_usage", "ok", None, NOW - timedelta(hours=8), NOW - timedelta(hours=8)),
        ("platform", "ok", None, NOW, NOW),
        ("cost_alerts", "ok", None, NOW - timedelta(days=9), NOW - timedelta(days=9)),  # a job that is gone
    ]
    for job, status, error, run, success in rows:
        warehouse.execute(
            "INSERT INTO sync_state VALUES (?, NULL, ?, ?, 0, ?, ?, 1.0)", [job, run, success, status, error]
        )
    found = wh.sync_jobs(warehouse, RULES["sync_job"], now=NOW, jobs=["platform", "views", "delivery_usage"])
    assert [(o.key, o.value) for o in found] == [("sync_job:delivery_usage", 8.0), ("sync_job:views", 1.0)]
    assert "is failing" in found[1].message and "MuxUnavailable: 503" in found[1].message
    assert "8.0 h behind" in found[0].message

"""The `alerts` sync job end to end, on SQLite and PostgreSQL: the runner's path (`run_jobs` on a sync
container, as `lectern sync --once --job alerts` and the scheduler run it) and the real APScheduler.

Views with playback failures are written into the warehouse, the job evaluates on its working file, the
platform DB holds the alerts, and a real HTTP receiver on 127.0.0.1 gets the notifications.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.container import Lectern
from core.db.models import Alert, AlertNotification, MigrationJob
from core.settings import Settings, load_settings
from sync.runner import JOBS, SyncContext, run_jobs
from sync.scheduler import start
from sync.state import JobResult
from tests.alerts.conftest import Platform, Receiver, add_views
from tests.waiting import wait_until
from warehouse.reader import open_analyst_connection
from warehouse.store import WarehouseWriter

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
LESSON_RULE = '{"playback_failure_lesson": {"for_s": 600, "min_count": 10, "threshold": 10}}'


def configure(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path, receivers: str, **extra: str) -> Settings:
    env = {
        "DATABASE_URL": db_url,
        "LECTERN_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "",
        "LECTERN_PSEUDONYM_KEY": "alerts-test-pseudonym-key-0123456789",
        "LECTERN_ALERT_WEBHOOK_URLS": receivers,
        "LECTERN_ALERT_RULES": LESSON_RULE,
        **extra,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LECTERN_MONTHLY_BUDGET_USD", raising=False)
    return load_settings()


class Sync:
    """The sync's own wiring (a sync container, `SyncContext.from_settings`), with a clock the test moves."""

    def __init__(self, settings: Settings) -> None:
        self.now = NOW
        self.lectern = Lectern.from_settings(settings, kind="sync")
        self.ctx = SyncContext.from_settings(settings, lectern=self.lectern)
        self.ctx.clock = lambda: self.now

    def alerts(self, at: datetime) -> JobResult:
        self.now = at
        [result] = run_jobs(self.ctx, ["alerts"])
        return result

    def close(self) -> None:
        self.ctx.close()
        self.lectern.close()


@pytest.fixture
def sync_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Settings], Sync]]:
    made: list[Sync] = []

    def build(settings: Settings) -> Sync:
        made.append(Sync(settings))
        return made[-1]

    yield build
    for sync in made:
        sync.close()


def failing_views(settings: Settings, lesson_id: int, end: datetime, prefix: str) -> None:
    with WarehouseWriter.from_settings(settings).open() as con:
        add_views(con, lesson_id=lesson_id, count=40, failures=12, end=end, prefix=prefix)


def lesson_alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        stmt = select(Alert).where(Alert.kind == "playback_failure_lesson").order_by(Alert.id)
        return list(session.execute(stmt).scalars())


def test_a_condition_over_three_evaluations_is_one_alert_notified_once_on_fire_and_on_resolve(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    platform: Platform,
    receiver: Receiver,
    sync_for: Callable[[Settings], Sync],
) -> None:
    settings = configure(monkeypatch, db_url, tmp_path, f"ops={receiver.url}")
    sync = sync_for(settings)
    failing_views(settings, platform.lesson_a, NOW, "a")  # 30% of 40 views failed, in the hour before NOW
    key = f"playback_failure_lesson:{platform.lesson_a}"

    first = sync.alerts(NOW)
    assert first.status == "ok", first.error
    assert first.details["opened"] == [key] and first.rows == 0  # pending: nothing fires yet
    assert sync.alerts(NOW + timedelta(minutes=5)).details["fired"] == []
    third = sync.alerts(NOW + timedelta(minutes=10))
    assert third.details["fired"] == [key] and third.rows == 1
    assert third.details["notifications"]["delivered"] == 1  # delivered right after the evaluation

    [alert] = lesson_alerts(engine)
    assert (alert.state, alert.first_seen_at, alert.fired_at) == ("firing", NOW, NOW + timedelta(minutes=10))
    assert (alert.lesson_id, alert.teacher_id, alert.value, alert.threshold) == (
        platform.lesson_a,
        platform.teacher_a,
        30.0,
        10.0,
    )
    assert receiver.events() == [("fired", key)]
    assert "30.0% of lesson" in receiver.received()[0]["text"]

    # Two hours on, no failing views in the window: resolved, one more POST.
    cleared = sync.alerts(NOW + timedelta(hours=2))
    assert cleared.details["resolved"] == [key] and cleared.rows == 0
    assert receiver.events() == [("fired", key), ("resolved", key)]

    # Failures come back: a new alert (pending again), the resolved one kept.
    failing_views(settings, platform.lesson_a, NOW + timedelta(hours=3), "b")
    back = sync.alerts(NOW + timedelta(hours=3))
    assert back.details["opened"] == [key]
    old, new = lesson_alerts(engine)
    assert (old.state, new.state) == ("resolved", "pending") and old.id != new.id
    assert receiver.events() == [("fired", key), ("resolved", key)]

    con = open_analyst_connection(settings.warehouse_path)
    try:
        state = con.execute("SELECT status, rows FROM sync_state WHERE job = 'alerts'").fetchone()
    finally:
        con.close()
    assert state == ("ok", 0)


def test_receivers_that_are_down_never_hold_up_the_evaluator(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    platform: Platform,
    receiver: Receiver,
    closed_port_url: str,
    hanging_url: str,
    sync_for: Callable[[Settings], Sync],
) -> None:
    receivers = f"refused={closed_port_url},hangs={hanging_url},ops={receiver.url}"
    settings = configure(
        monkeypatch,
        db_url,
        tmp_path,
        receivers,
        LECTERN_ALERT_NOTIFY_TIMEOUT_S="0.5",
        LECTERN_ALERT_NOTIFY_BUDGET_S="1.5",
    )
    sync = sync_for(settings)
    sync.alerts(NOW)  # warm-up: the working warehouse is created and the engine connects
    with Session(engine) as session, session.begin():
        session.add(MigrationJob(lesson_id=platform.lesson_b, s3_key="k", state="failed", error="S3 said 403"))

    started = time.monotonic()
    result = sync.alerts(datetime.now(UTC) + timedelta(minutes=1))
    elapsed = time.monotonic() - started
    assert result.status == "ok", result.error
    assert elapsed < result.details["evaluate_s"] + 1.5 + 1.0  # evaluation + at most the delivery budget
    assert result.details["fired"] == ["migration_failures"]
    assert result.details["notifications"]["delivered"] == 1  # the receiver that works still hears of it
    assert receiver.events() == [("fired", "migration_failures")]
    with Session(engine) as session:
        rows = {r.receiver: r for r in session.execute(select(AlertNotification)).scalars()}
    for name in ("refused", "hangs"):  # each tried once, or left for the next run once the budget was spent
        assert rows[name].status == "pending" and rows[name].attempts <= 1
    assert rows["refused"].attempts == 1 and rows["refused"].next_attempt_at > datetime.now(UTC)  # type: ignore[operator]


def test_the_scheduler_runs_the_alerts_job_and_the_receiver_hears_of_a_firing_alert(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    platform: Platform,
    receiver: Receiver,
) -> None:
    settings = configure(monkeypatch, db_url, tmp_path, f"ops={receiver.url}")
    with Session(engine) as session, session.begin():
        session.add(MigrationJob(lesson_id=platform.lesson_b, s3_key="k", state="failed", error="S3 said 403"))
    scheduler = start(settings)
    try:
        assert scheduler.get_job("sync.alerts") is not None and scheduler.get_job("sync.cost_alerts") is None
        wait_until(lambda: receiver.events(), 60, what="a notification from the scheduled alerts job")
    finally:
        scheduler.shutdown(wait=True)
    assert receiver.events() == [("fired", "migration_failures")]
    assert "Latest: lesson" in receiver.received()[0]["text"] and "S3 said 403" in receiver.received()[0]["text"]


def test_a_persisted_cost_alerts_job_is_replaced_by_the_alerts_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, receiver: Receiver
) -> None:
    from apscheduler.triggers.interval import IntervalTrigger

    from core.db.migrate import upgrade
    from sync.scheduler import build_scheduler, ensure_jobs, scheduled_job

    db_url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(db_url)
    settings = configure(monkeypatch, db_url, tmp_path, f"ops={receiver.url}")
    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)
    try:
        # What an older Lectern left in the job store.
        scheduler.add_job(scheduled_job, IntervalTrigger(seconds=3600), args=["cost_alerts"], id="sync.cost_alerts")
        actions = ensure_jobs(scheduler, settings)
        assert actions["cost_alerts"] == "removed" and actions["alerts"] == "added"
        assert {j.id for j in scheduler.get_jobs()} == {f"sync.{j}" for j in JOBS}
    finally:
        scheduler.shutdown(wait=False)

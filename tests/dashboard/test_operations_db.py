"""dashboard/operations_db.py on SQLite and PostgreSQL: the same rows give the same figures on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.alerts.errors import AlertInputInvalid, AlertNotFound
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import AlertNotification, MigrationJob, OperatorAction, WebhookEvent
from core.webhook_log import EventFilter
from dashboard import operations_db as ops
from tests.dashboard.operations_world import EVENT_ERROR, UPLOAD_ERROR, M, Seeded, hour_of, seed_platform
from tests.factories import make_course, make_lesson, make_user

# A fixed clock, 40 minutes into an hour, so the last hour's rows fall in two known hours.
NOW = datetime(2026, 11, 20, 12, 40, tzinfo=UTC)
HOUR, DAY, WEEK = NOW - 60 * M, NOW - timedelta(days=1), NOW - timedelta(days=7)


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> tuple[sessionmaker[Session], dict[str, int], Seeded]:
    with transaction(session_factory) as s:
        teacher_a = make_user(s, "teacher", name="Ada Teacher")
        teacher_b = make_user(s, "teacher", name="Bo Teacher")
        course_a, course_b = make_course(s, teacher=teacher_a), make_course(s, teacher=teacher_b)
        lessons = {
            "a_mux": make_lesson(s, course_a, title="Alpha Mux").id,
            "a_errored": make_lesson(s, course_a, title="Alpha errored").id,
            "a_waiting": make_lesson(s, course_a, title="Alpha waiting").id,
            "b_mux": make_lesson(s, course_b, title="Beta Mux").id,
        }
        teachers = {"teacher_a": teacher_a.id, "teacher_b": teacher_b.id}
        for n, (lesson, state, finished) in enumerate(
            [("a_mux", "done", NOW - 50 * M), ("b_mux", "done", NOW - 10 * M), ("a_errored", "failed", NOW - 5 * M)]
        ):
            s.add(
                MigrationJob(
                    lesson_id=lessons[lesson], s3_key=f"legacy/{n}.mp4", state=state, finished_at=finished,
                    error="Mux could not process the video" if state == "failed" else None,
                )
            )  # fmt: skip
    return session_factory, {**lessons, **teachers}, seed_platform(session_factory, NOW, lessons, teachers)


def test_webhooks_per_hour_and_outcome_and_per_type_with_their_lag(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, _, _ = seeded
    hourly = ops.webhook_hourly(factory, HOUR, NOW)
    this = pd.Timestamp(hour_of(NOW))
    assert {(r.hour, r.outcome): r.events for r in hourly.itertuples()} == {
        (this, "applied"): 2, (this, "failed"): 1, (this, "unmatched"): 1
    }  # fmt: skip
    assert str(hourly["hour"].dt.tz) == "UTC"
    week = ops.webhook_hourly(factory, WEEK, NOW)
    assert week["events"].sum() == 6 and week["hour"].nunique() == 3
    assert pd.Timestamp(hour_of(NOW - 180 * M)) in set(week["hour"])

    types = ops.webhook_types(factory, HOUR, NOW)
    got = {(r.type, r.outcome): (r.events, round(r.lag_avg_s, 2), round(r.lag_max_s, 2)) for r in types.itertuples()}
    assert got == {
        ("video.asset.ready", "applied"): (2, 3.0, 4.0),
        ("video.asset.errored", "failed"): (1, 10.0, 10.0),
        ("video.upload.asset_created", "unmatched"): (1, 1.0, 1.0),
    }
    assert set(ops.webhook_types(factory, WEEK, NOW)["outcome"]) == {"applied", "failed", "unmatched", "ignored"}


def test_delivery_lag_percentiles(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, _, _ = seeded
    lag = ops.webhook_lag(factory, HOUR, NOW)  # lags 2, 4, 10, 1 s
    assert lag["p50"] == pytest.approx(3.0, abs=0.01) and lag["max"] == pytest.approx(10.0, abs=0.01)
    assert lag["p95"] == pytest.approx(9.1, abs=0.01)  # linear interpolation on both backends
    assert ops.webhook_lag(factory, NOW - 2 * M, NOW) == {"p50": None, "p95": None, "max": None}


def test_last_received_per_type_and_the_events_behind_a_number(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, ids, _ = seeded
    last = ops.last_received(factory)
    assert last.iloc[0]["type"] == "video.asset.errored"
    assert last.set_index("type").loc["video.asset.created", "last_received_at"] == pd.Timestamp(NOW - 180 * M)

    # The events behind a number: core.webhook_log's search, as a frame.
    failed, more = ops.events(factory, EventFilter(outcomes=("failed",), since=HOUR, until=NOW))
    assert failed["id"].tolist() == ["evt-3"] and failed.iloc[0]["error"] == EVENT_ERROR and not more
    assert failed.iloc[0]["lag_s"] == pytest.approx(10.0, abs=0.01)
    assert str(failed["received_at"].dt.tz) == "UTC"
    ready, _ = ops.events(factory, EventFilter(types=("video.asset.ready",), since=DAY, until=NOW))
    assert ready["id"].tolist() == ["evt-2", "evt-1"]  # newest first
    of_lesson, _ = ops.events(factory, EventFilter(lesson_id=ids["a_mux"], since=DAY, until=NOW))
    assert of_lesson["id"].tolist() == ["evt-1", "evt-5"]
    assert ops.events(factory, EventFilter(asset_id="obj-6", since=WEEK, until=NOW))[0]["outcome"].tolist() == [
        "ignored"
    ]
    # A filtered replay would take the events not applied: the failed, unmatched and ignored ones.
    assert ops.replay_count(factory, EventFilter(since=WEEK, until=NOW)) == 3
    detail = ops.event_detail(factory, "evt-4")
    assert detail.payload["data"]["url"] == "[redacted]" and detail.redacted == ["data.url"]
    with transaction(factory) as s:  # a live stream's key lets anyone broadcast: hidden like the other credentials
        s.add(WebhookEvent(id="evt-live", type="video.live_stream.created", outcome="ignored", received_at=NOW,
                           occurred_at=NOW, payload={"data": {"id": "ls1", "stream_key": "sk-123"}}))  # fmt: skip
    assert ops.event_detail(factory, "evt-live").payload["data"] == {"id": "ls1", "stream_key": "[redacted]"}


def test_refused_deliveries_per_hour_and_reason(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, _, _ = seeded
    hour = ops.webhook_rejections(factory, HOUR, NOW)
    assert sorted(zip(hour["reason"], hour["deliveries"], strict=True)) == [("duplicate", 3), ("signature_mismatch", 2)]
    assert ops.webhook_rejections(factory, WEEK, NOW)["deliveries"].sum() == 10


def test_upload_figures_and_rows_come_from_core(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, ids, _ = seeded
    stats = ops.upload_stats(factory, HOUR, NOW)
    assert (stats.total.created, stats.total.ready, stats.total.failed) == (4, 1, 2)
    assert stats.by_user[ids["teacher_a"]].created == 3 and stats.user_names[ids["teacher_b"]] == "Bo Teacher"
    assert set(stats.by_day) == {NOW.date()} and stats.failures == []  # the page lists failures itself
    week = ops.upload_stats(factory, WEEK, NOW)
    assert week.total.created == 5 and len(week.by_day) == 2

    failed = ops.upload_rows(factory, HOUR, NOW, statuses=["errored", "timed_out"])
    assert failed["upload_id"].tolist() == ["up-3", "up-2"]
    assert failed.set_index("upload_id").loc["up-2", "error"] == UPLOAD_ERROR
    assert failed.set_index("upload_id").loc["up-2", "lesson_title"] == "Alpha errored"
    assert str(failed["created_at"].dt.tz) == "UTC"
    mine = ops.upload_rows(factory, WEEK, NOW, users=[ids["teacher_b"]])
    assert mine["upload_id"].tolist() == ["up-3", "up-5"] and set(mine["creator"]) == {"Bo Teacher"}
    assert ops.upload_rows(factory, WEEK, NOW, users=[None]).empty  # no upload without a user here
    assert ops.upload_rows(factory, WEEK, NOW, limit=2)["upload_id"].tolist() == ["up-4", "up-3"]


def test_migration_finishes_alerts_and_audit(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, _, seeded_alerts = seeded
    finished = ops.migration_finished(factory, HOUR, NOW)
    assert sorted(zip(finished["state"], finished["jobs"], strict=True)) == [("done", 1), ("done", 1), ("failed", 1)]
    assert ops.migration_finished(factory, NOW - 30 * M, NOW)["jobs"].sum() == 2

    alerts = ops.open_alerts(factory)
    assert [a.id for a in alerts] == [seeded_alerts.alert_firing, seeded_alerts.alert_pending]  # firing first
    assert (alerts[0].value, alerts[0].threshold) == (0.25, 0.05)

    actions = ops.operator_actions(factory, DAY, datetime.now(UTC) + M)
    assert actions["action"].tolist() == ["webhook.replay"]
    assert ops.operator_actions(factory, DAY, datetime.now(UTC) + M, prefix="migration.").empty


def test_a_database_that_does_not_answer_is_a_clear_error() -> None:
    factory = make_session_factory(make_engine("postgresql://nobody@127.0.0.1:9/nowhere"))
    with pytest.raises(ops.OperationsDataUnavailable, match="platform database did not answer"):
        ops.open_alerts(factory)


def test_acknowledge_and_silence_commit_with_their_audit_rows(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, _, seeded_alerts = seeded
    alert_id = seeded_alerts.alert_firing
    acked = ops.alert_action(factory, "acknowledge", alert_id, actor="ann@example.test")
    assert acked.acknowledged_by == "ann@example.test" and acked.acknowledged_at is not None
    muted = ops.alert_action(factory, "silence", alert_id, actor="ann@example.test", duration="4h")
    assert muted.silenced_by == "ann@example.test" and muted.silenced_until is not None
    assert muted.silenced_until - datetime.now(UTC) > timedelta(hours=3, minutes=59)
    with factory() as s:
        audit = s.execute(select(OperatorAction.action, OperatorAction.actor, OperatorAction.target).where(
            OperatorAction.action.startswith("alert."))).all()  # fmt: skip
    assert sorted(audit) == [
        ("alert.acknowledge", "ann@example.test", f"alert:{alert_id}"),
        ("alert.silence", "ann@example.test", f"alert:{alert_id}"),
    ]
    with pytest.raises(AlertInputInvalid, match="not a duration"):
        ops.alert_action(factory, "silence", alert_id, actor="ann@example.test", duration="soon")
    with pytest.raises(AlertNotFound):
        ops.alert_action(factory, "acknowledge", 999_999, actor="ann@example.test")


def test_failed_notifications_are_listed(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, _, seeded_alerts = seeded
    with transaction(factory) as s:
        s.add(
            AlertNotification(
                alert_id=seeded_alerts.alert_firing,
                event="fired",
                receiver="ops-slack",
                status="failed",
                attempts=5,
                last_error="HTTP 500 from receiver",
                created_at=NOW,
            )
        )
        s.add(AlertNotification(alert_id=seeded_alerts.alert_firing, event="resolved", receiver="ops-slack",
                                status="delivered", attempts=1, created_at=NOW))  # fmt: skip
    [failed] = ops.notification_failures(factory)
    assert (failed.receiver, failed.status, failed.last_error) == ("ops-slack", "failed", "HTTP 500 from receiver")

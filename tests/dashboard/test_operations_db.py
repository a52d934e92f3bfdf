"""dashboard/operations_db.py on SQLite and PostgreSQL: the same rows give the same figures on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import MigrationJob
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

    failed = ops.webhook_events(factory, HOUR, NOW, outcome="failed")
    assert failed["id"].tolist() == ["evt-3"] and failed.iloc[0]["error"] == EVENT_ERROR
    assert failed.iloc[0]["lag_s"] == pytest.approx(10.0, abs=0.01)
    ready = ops.webhook_events(factory, DAY, NOW, type="video.asset.ready")
    assert ready["id"].tolist() == ["evt-2", "evt-1"]  # newest first
    assert ops.webhook_events(factory, DAY, NOW, lesson_id=ids["a_mux"])["id"].tolist() == ["evt-1", "evt-5"]
    assert ops.webhook_events(factory, WEEK, NOW, object_id="obj-6")["outcome"].tolist() == ["ignored"]
    in_hour = ops.webhook_events(factory, WEEK, NOW, hour=hour_of(NOW - 180 * M))
    assert in_hour["id"].tolist() == ["evt-5"]


def test_refused_deliveries_per_hour_and_reason(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, _, _ = seeded
    hour = ops.webhook_rejections(factory, HOUR, NOW)
    assert sorted(zip(hour["reason"], hour["deliveries"], strict=True)) == [("duplicate", 3), ("signature_mismatch", 2)]
    assert ops.webhook_rejections(factory, WEEK, NOW)["deliveries"].sum() == 10


def test_uploads_by_day_teacher_and_status_and_their_rows(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, ids, _ = seeded
    grouped = ops.uploads_grouped(factory, HOUR, NOW)
    got = {(r.teacher_name, r.status): r.uploads for r in grouped.itertuples()}
    assert got == {("Ada Teacher", "ready"): 1, ("Ada Teacher", "errored"): 1, ("Ada Teacher", "waiting"): 1,
                   ("Bo Teacher", "timed_out"): 1}  # fmt: skip
    assert set(grouped["day"]) == {pd.Timestamp(NOW.date(), tz="UTC")}
    week = ops.uploads_grouped(factory, WEEK, NOW)
    assert week["uploads"].sum() == 5 and week["day"].nunique() == 2

    failed = ops.upload_rows(factory, HOUR, NOW, statuses=["errored", "timed_out", "cancelled"])
    assert failed["mux_upload_id"].tolist() == ["up-3", "up-2"]
    assert failed.set_index("mux_upload_id").loc["up-2", "error"] == UPLOAD_ERROR
    assert failed.set_index("mux_upload_id").loc["up-2", "lesson_title"] == "Alpha errored"
    mine = ops.upload_rows(factory, WEEK, NOW, teacher_id=ids["teacher_b"])
    assert mine["mux_upload_id"].tolist() == ["up-3", "up-5"] and set(mine["teacher_name"]) == {"Bo Teacher"}
    that_day = ops.upload_rows(
        factory, WEEK, NOW, day=datetime.combine((NOW - timedelta(days=2)).date(), datetime.min.time(), UTC)
    )
    assert that_day["mux_upload_id"].tolist() == ["up-5"]


def test_an_upload_whose_lesson_is_gone_counts_for_its_creator(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, ids, _ = seeded
    with transaction(factory) as s:
        from core.db.models import Upload

        s.get(Upload, 1).lesson_id = None  # type: ignore[union-attr]
    row = ops.upload_rows(factory, HOUR, NOW, statuses=["ready"]).iloc[0]
    assert row["teacher_id"] == ids["teacher_a"] and row["teacher_name"] == "Ada Teacher"


def test_migration_finishes_alerts_and_audit(seeded) -> None:  # type: ignore[no-untyped-def]
    factory, _, seeded_alerts = seeded
    finished = ops.migration_finished(factory, HOUR, NOW)
    assert sorted(zip(finished["state"], finished["jobs"], strict=True)) == [("done", 1), ("done", 1), ("failed", 1)]
    assert ops.migration_finished(factory, NOW - 30 * M, NOW)["jobs"].sum() == 2

    alerts = ops.open_alerts(factory)
    assert alerts["id"].tolist() == [seeded_alerts.alert_firing, seeded_alerts.alert_pending]  # firing first
    assert alerts.iloc[0]["value"] == 0.25 and alerts.iloc[0]["threshold"] == 0.05

    actions = ops.operator_actions(factory, DAY, datetime.now(UTC) + M)
    assert actions["action"].tolist() == ["webhook.replay"]
    assert ops.operator_actions(factory, DAY, datetime.now(UTC) + M, prefix="migration.").empty


def test_a_database_that_does_not_answer_is_a_clear_error() -> None:
    factory = make_session_factory(make_engine("postgresql://nobody@127.0.0.1:9/nowhere"))
    with pytest.raises(ops.OperationsDataUnavailable, match="platform database did not answer"):
        ops.open_alerts(factory)

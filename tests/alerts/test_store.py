"""The alert store on the real platform DB (SQLite and PostgreSQL): lifecycle, notifications queued once,
acknowledge and silence audited, scoped reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.alerts import store
from core.alerts.config import AlertConfig, parse_receivers
from core.alerts.errors import AlertConflict, AlertInputInvalid, AlertNotFound
from core.alerts.planner import Observation, plan
from core.alerts.rules import PLAYBACK_FAILURE, PLAYBACK_FAILURE_LESSON, resolve_rules
from core.db.models import Alert, AlertNotification, OperatorAction
from tests.alerts.conftest import Platform

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CONFIG = AlertConfig(
    rules=resolve_rules({PLAYBACK_FAILURE: {"for_s": 600}}),
    receivers=parse_receivers(["ops=http://127.0.0.1:9/a", "oncall=http://127.0.0.1:9/b"]),
)
MEASURED = {PLAYBACK_FAILURE, PLAYBACK_FAILURE_LESSON}


def failing(value: float = 9.0) -> Observation:
    return Observation(PLAYBACK_FAILURE, PLAYBACK_FAILURE, f"failures at {value:g}%", value=value, threshold=5.0)


def lesson_failing(lesson_id: int) -> Observation:
    key = f"{PLAYBACK_FAILURE_LESSON}:{lesson_id}"
    return Observation(PLAYBACK_FAILURE_LESSON, key, "lesson failing", value=30.0, threshold=10.0, lesson_id=lesson_id)


def run(engine: Engine, observations: list[Observation], at: datetime) -> store.Outcome:
    with Session(engine) as session, session.begin():
        return store.evaluate(session, CONFIG, MEASURED, observations, now=at)


def alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.execute(select(Alert).order_by(Alert.id)).scalars())


def queued(engine: Engine) -> list[tuple[int, str, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(AlertNotification.alert_id, AlertNotification.event, AlertNotification.receiver).order_by(
                AlertNotification.id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_three_evaluations_of_one_condition_are_one_alert_pending_then_firing(engine: Engine) -> None:
    first = run(engine, [failing(8)], NOW)
    assert first.opened == [PLAYBACK_FAILURE] and first.queued == 0
    [alert] = alerts(engine)
    assert (alert.state, alert.fired_at, alert.first_seen_at, alert.value) == ("pending", None, NOW, 8.0)

    second = run(engine, [failing(9)], NOW + timedelta(minutes=5))
    assert second.opened == [] and second.refreshed == 1 and second.fired == []
    third = run(engine, [failing(11)], NOW + timedelta(minutes=10))
    assert third.fired == [PLAYBACK_FAILURE] and third.queued == 2
    [alert] = alerts(engine)
    assert alert.state == "firing" and alert.fired_at == NOW + timedelta(minutes=10)
    assert alert.first_seen_at == NOW and alert.last_seen_at == NOW + timedelta(minutes=10)
    assert (alert.value, alert.threshold, alert.message) == (11.0, 5.0, "failures at 11%")
    assert queued(engine) == [(alert.id, "fired", "ops"), (alert.id, "fired", "oncall")]

    # Still holding: refreshed, nothing queued again.
    assert run(engine, [failing(12)], NOW + timedelta(minutes=15)).queued == 0
    assert len(queued(engine)) == 2

    cleared = run(engine, [], NOW + timedelta(minutes=20))
    assert cleared.resolved == [PLAYBACK_FAILURE] and cleared.queued == 2
    [alert] = alerts(engine)
    assert alert.state == "resolved" and alert.resolved_at == NOW + timedelta(minutes=20)
    assert alert.last_seen_at == NOW + timedelta(minutes=15)  # last seen holding
    assert [e for _, e, _ in queued(engine)] == ["fired", "fired", "resolved", "resolved"]

    # It comes back: a new alert, the old one kept as history.
    back = run(engine, [failing(20)], NOW + timedelta(minutes=30))
    assert back.opened == [PLAYBACK_FAILURE]
    old, new = alerts(engine)
    assert old.id != new.id and (old.state, new.state) == ("resolved", "pending")


def test_a_condition_that_clears_while_pending_resolves_quietly(engine: Engine) -> None:
    run(engine, [failing()], NOW)
    assert run(engine, [], NOW + timedelta(minutes=5)).resolved == [PLAYBACK_FAILURE]
    assert [a.state for a in alerts(engine)] == ["resolved"] and queued(engine) == []


def test_a_concurrent_evaluator_that_opened_it_first_wins(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        stale = plan(CONFIG.rules, MEASURED, [failing()], [], NOW)  # planned before the other one committed
        store.evaluate(session, CONFIG, MEASURED, [failing()], now=NOW)
    with Session(engine) as session, session.begin():
        outcome = store.apply(session, stale, CONFIG, now=NOW)
    assert outcome.opened == [] and len(alerts(engine)) == 1


def test_lesson_alerts_name_the_teacher_and_a_missing_lesson_is_kept_in_context_only(
    engine: Engine, platform: Platform
) -> None:
    run(engine, [lesson_failing(platform.lesson_a), lesson_failing(platform.lesson_b), lesson_failing(99_999)], NOW)
    found = {a.key: (a.lesson_id, a.teacher_id) for a in alerts(engine)}
    assert found == {
        f"{PLAYBACK_FAILURE_LESSON}:{platform.lesson_a}": (platform.lesson_a, platform.teacher_a),
        f"{PLAYBACK_FAILURE_LESSON}:{platform.lesson_b}": (platform.lesson_b, platform.teacher_b),
        f"{PLAYBACK_FAILURE_LESSON}:99999": (None, None),
    }
    with Session(engine) as session:
        mine = store.open_alerts(session, teacher_id=platform.teacher_a)
        everyone = store.open_alerts(session)
    assert [a.lesson_id for a in mine] == [platform.lesson_a]
    assert len(everyone) == 3


def test_acknowledge_and_silence_are_recorded_and_audited(engine: Engine) -> None:
    run(engine, [failing()], NOW)
    [alert] = alerts(engine)
    with Session(engine) as session, session.begin():
        row = store.acknowledge(session, alert.id, actor="admin@demo.test", now=NOW + timedelta(minutes=1))
        assert (row.acknowledged_by, row.acknowledged_at) == ("admin@demo.test", NOW + timedelta(minutes=1))
    with Session(engine) as session, session.begin():
        again = store.acknowledge(session, alert.id, actor="other@demo.test", now=NOW + timedelta(minutes=2))
        assert again.acknowledged_by == "admin@demo.test"  # the first acknowledgement stands

    with Session(engine) as session, session.begin():
        silenced = store.silence(
            session, alert.id, actor="cli:ops", duration=timedelta(hours=2), now=NOW + timedelta(minutes=3)
        )
    assert silenced.silenced_until == NOW + timedelta(hours=2, minutes=3) and silenced.silenced_by == "cli:ops"

    # Silenced: it fires, and nobody is told; when it resolves while still silenced, nobody is told either.
    assert run(engine, [failing()], NOW + timedelta(minutes=10)).fired == [PLAYBACK_FAILURE]
    assert run(engine, [], NOW + timedelta(minutes=20)).resolved == [PLAYBACK_FAILURE]
    assert queued(engine) == []

    with Session(engine) as session:
        audit = session.execute(
            select(OperatorAction.action, OperatorAction.actor, OperatorAction.target, OperatorAction.outcome).order_by(
                OperatorAction.id
            )
        ).all()
    assert [tuple(a) for a in audit] == [
        ("alert.acknowledge", "admin@demo.test", f"alert:{alert.id}", "acknowledged"),
        ("alert.silence", "cli:ops", f"alert:{alert.id}", "silenced"),
    ]
    with Session(engine) as session, session.begin(), pytest.raises(AlertConflict, match="is resolved"):
        store.acknowledge(session, alert.id, actor="late@demo.test")


def test_silencing_drops_queued_deliveries_and_bad_input_is_refused(engine: Engine) -> None:
    run(engine, [failing()], NOW)
    run(engine, [failing()], NOW + timedelta(minutes=10))
    [alert] = alerts(engine)
    assert len(queued(engine)) == 2
    with Session(engine) as session, session.begin():
        store.silence(session, alert.id, actor="a", duration=store.parse_duration("30m"), now=NOW)
    assert queued(engine) == []
    with Session(engine) as session, session.begin():
        with pytest.raises(AlertInputInvalid):
            store.silence(session, alert.id, actor="a", duration=timedelta(days=31))
        with pytest.raises(AlertNotFound):
            store.silence(session, 123_456, actor="a", duration=timedelta(hours=1))
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(OperatorAction)).scalar_one() == 1


def test_durations_and_states_parse_or_say_why() -> None:
    assert store.parse_duration("2h") == timedelta(hours=2)
    assert store.parse_duration("90s") == timedelta(seconds=90)
    assert store.parse_duration("1d") == timedelta(days=1)
    assert store.parse_duration("15") == timedelta(minutes=15)
    with pytest.raises(AlertInputInvalid, match="not a duration"):
        store.parse_duration("two hours")
    for huge in ("99999999999w", "9" * 400):  # past timedelta's range; an infinite float
        with pytest.raises(AlertInputInvalid, match="longer than any silence"):
            store.parse_duration(huge)
    with pytest.raises(AlertInputInvalid, match="unknown alert state"):
        store.parse_state("open-ish")


def test_history_reads_resolved_alerts_of_a_range(engine: Engine) -> None:
    run(engine, [failing()], NOW)
    run(engine, [], NOW + timedelta(hours=1))
    run(engine, [failing()], NOW + timedelta(hours=3))
    with Session(engine) as session:
        assert len(store.alert_history(session, since=NOW)) == 2
        assert len(store.alert_history(session, since=NOW + timedelta(hours=2))) == 1
        assert [a.state for a in store.alert_history(session, since=NOW, state="resolved")] == ["resolved"]
        assert store.open_alerts(session, since=NOW + timedelta(hours=4)) == []

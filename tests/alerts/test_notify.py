"""Delivering notifications to real local HTTP receivers (SQLite and PostgreSQL): one POST per fire and per
resolve, retries with backoff for receivers that are down, a pass that never outlasts its budget."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core.alerts import store
from core.alerts.config import AlertConfig, parse_receivers
from core.alerts.notify import AlertNotifier
from core.alerts.planner import Observation
from core.alerts.rules import MIGRATION_FAILURES, resolve_rules
from core.db.engine import make_session_factory
from core.db.models import AlertNotification
from core.logging import RedactingFilter, StructuredFormatter, record_fields
from core.retry import RetryPolicy
from tests.alerts.conftest import RECEIVER_PATH_SECRET, Receiver

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = resolve_rules()  # migration failures fire at once (no `for` duration)
FAILED_JOBS = Observation(MIGRATION_FAILURES, MIGRATION_FAILURES, "2 migration job(s) failed.", value=2, threshold=0)
POLICY = RetryPolicy(attempts=3, base_s=60.0, cap_s=3600.0, jitter=0.0)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def notifier(engine: Engine, client: httpx.Client, entries: list[str], **kwargs: float) -> AlertNotifier:
    return AlertNotifier(make_session_factory(engine), parse_receivers(entries), client, policy=POLICY, **kwargs)  # type: ignore[arg-type]


def evaluate(engine: Engine, entries: list[str], observations: list[Observation], at: datetime) -> store.Outcome:
    config = AlertConfig(rules=RULES, receivers=parse_receivers(entries))
    with Session(engine) as session, session.begin():
        return store.evaluate(session, config, {MIGRATION_FAILURES}, observations, now=at)


def _rendered(record: logging.LogRecord) -> str:
    line = copy.copy(record)
    RedactingFilter().filter(line)
    return StructuredFormatter().format(line)


def rows(engine: Engine) -> list[AlertNotification]:
    with Session(engine) as session:
        return list(session.execute(select(AlertNotification).order_by(AlertNotification.id)).scalars())


def test_exactly_one_post_per_fire_and_per_resolve(engine: Engine, client: httpx.Client, receiver: Receiver) -> None:
    entries = [f"ops={receiver.url}"]
    sender = notifier(engine, client, entries)
    for minute in (0, 5, 10):  # the condition holds across three evaluations, each followed by a delivery pass
        evaluate(engine, entries, [FAILED_JOBS], NOW + timedelta(minutes=minute))
        sender.deliver_due(now=NOW + timedelta(minutes=minute))
    assert receiver.events() == [("fired", MIGRATION_FAILURES)]
    for minute in (15, 20):
        evaluate(engine, entries, [], NOW + timedelta(minutes=minute))
        sender.deliver_due(now=NOW + timedelta(minutes=minute))
    assert receiver.events() == [("fired", MIGRATION_FAILURES), ("resolved", MIGRATION_FAILURES)]

    fired, resolved = receiver.received()
    assert fired["text"].startswith(":rotating_light: *FIRING* [warning] 2 migration job(s) failed.")
    assert resolved["text"].startswith(":white_check_mark: *RESOLVED* 2 migration job(s) failed.")
    assert fired["alert"]["value"] == 2 and fired["alert"]["threshold"] == 0
    assert fired["alert"]["fired_at"] == NOW.isoformat() and resolved["alert"]["state"] == "resolved"
    assert [(r.status, r.attempts) for r in rows(engine)] == [("delivered", 1), ("delivered", 1)]


def test_receivers_that_are_down_are_retried_with_backoff_within_the_budget(
    engine: Engine,
    client: httpx.Client,
    receiver: Receiver,
    closed_port_url: str,
    hanging_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entries = [f"good={receiver.url}", f"refused={closed_port_url}", f"hangs={hanging_url}"]
    sender = notifier(engine, client, entries, timeout_s=0.5, budget_s=2.0)
    evaluate(engine, entries, [FAILED_JOBS], NOW)
    caplog.set_level(logging.INFO, logger="core.alerts.notify")

    started = time.monotonic()
    report = sender.deliver_due(now=NOW)
    assert time.monotonic() - started < 2.5  # the budget holds even with a receiver that never answers
    assert (report.delivered, report.retrying, report.failed) == (1, 2, 0)
    assert receiver.events() == [("fired", MIGRATION_FAILURES)]
    by_receiver = {r.receiver: r for r in rows(engine)}
    assert by_receiver["good"].status == "delivered"
    for name in ("refused", "hangs"):
        row = by_receiver[name]
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + timedelta(seconds=60))
    assert "ConnectError" in (by_receiver["refused"].last_error or "")
    assert by_receiver["hangs"].last_error == "no answer within 0.5 s"

    # Not due before its backoff; retried after it (the wait doubles), then given up after the last attempt.
    assert sender.deliver_due(now=NOW + timedelta(seconds=59)).retrying == 0
    assert sender.deliver_due(now=NOW + timedelta(seconds=60)).retrying == 2
    assert {r.next_attempt_at for r in rows(engine) if r.status == "pending"} == {NOW + timedelta(seconds=180)}
    last = sender.deliver_due(now=NOW + timedelta(seconds=180))
    assert last.failed == 2
    assert [(r.receiver, r.status, r.attempts) for r in rows(engine)] == [
        ("good", "delivered", 1),
        ("refused", "failed", 3),
        ("hangs", "failed", 3),
    ]
    with Session(engine) as session:
        failures = store.notification_failures(session)
    assert sorted(f.receiver for f in failures) == ["hangs", "refused"]
    assert all(f.alert_key == MIGRATION_FAILURES for f in failures)

    lines = [r for r in caplog.records if r.getMessage() == "alert.notification"]
    assert len(lines) == 1 + 2 * 3  # one line per attempt, naming its receiver
    assert [record_fields(r)["receiver"] for r in lines[:3]] == ["good", "refused", "hangs"]
    # As Lectern's log handler writes them (httpx's own request lines included): no receiver URL.
    text = "\n".join(_rendered(r) for r in caplog.records)
    assert closed_port_url not in text and hanging_url not in text and RECEIVER_PATH_SECRET not in text


def test_a_refusing_receiver_fails_at_once_and_a_broken_one_is_retried(
    engine: Engine, client: httpx.Client, receiver: Receiver
) -> None:
    entries = [f"ops={receiver.url}"]
    sender = notifier(engine, client, entries)
    evaluate(engine, entries, [FAILED_JOBS], NOW)
    receiver.status = 500
    assert sender.deliver_due(now=NOW).retrying == 1
    assert rows(engine)[0].last_error == "HTTP 500: receiver is broken"
    receiver.status = 404  # e.g. a revoked Slack webhook: the same request will never succeed
    assert sender.deliver_due(now=NOW + timedelta(minutes=1)).failed == 1
    assert (rows(engine)[0].status, rows(engine)[0].attempts) == ("failed", 2)
    assert len(receiver.received()) == 2


def test_a_receiver_no_longer_configured_fails_and_a_silenced_alert_waits(
    engine: Engine, client: httpx.Client, receiver: Receiver
) -> None:
    evaluate(engine, [f"old={receiver.url}", f"ops={receiver.url}"], [FAILED_JOBS], NOW)
    with Session(engine) as session, session.begin():  # silenced after queueing (a race with the evaluator)
        session.execute(update(AlertNotification).values(next_attempt_at=NOW))
        from core.db.models import Alert

        session.execute(update(Alert).values(silenced_until=NOW + timedelta(hours=1)))
    report = notifier(engine, client, [f"ops={receiver.url}"]).deliver_due(now=NOW)
    assert (report.failed, report.deferred, report.delivered) == (1, 1, 0)
    states = {r.receiver: (r.status, r.last_error, r.next_attempt_at) for r in rows(engine)}
    assert states == {
        "old": ("failed", "receiver no longer configured", None),
        "ops": ("pending", None, NOW + timedelta(hours=1)),
    }
    assert receiver.received() == []

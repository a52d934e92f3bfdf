"""Alerts in the platform DB: applying a plan, queueing notifications, reading, acknowledging, silencing.

Public functions (the CLI, the dashboard and the Operations page call these; each takes the caller's
`Session` and leaves the commit to it, so an action and its audit row commit together):

- `evaluate(session, config, measured, observations, now=...)`: plan + apply, one transaction's work;
- `open_alerts(session, since=None, teacher_id=None, kinds=None)`: alerts not resolved, firing first;
- `alert_history(session, since, until=None, teacher_id=None, state=None)`: alerts alive during a range;
- `get_alert(session, alert_id)`, `notifications(session, alert_id)`;
- `notification_failures(session, since=None)`: deliveries that gave up, or are retrying after an error;
- `firing_counts(session)`: firing alerts per rule (for a gauge);
- `acknowledge(...)`, `silence(...)`, `unsilence(...)`: recorded on the alert and in `operator_actions`.

Writes are safe against a concurrent evaluator: a new alert is an INSERT ... ON CONFLICT (key) WHERE
state <> 'resolved' DO NOTHING (the partial unique index keeps one open alert per key); each state change
is an UPDATE guarded by the state it expects, and a notification is queued only when that UPDATE changed
the row. Notification rows are unique per (alert, event, receiver), so a repeated evaluation never queues
a second delivery.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, case, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.alerts.config import AlertConfig
from core.alerts.errors import AlertConflict, AlertInputInvalid, AlertNotFound
from core.alerts.planner import Observation, OpenAlert, Plan, plan
from core.audit import record_action
from core.db.models import (
    OPEN,
    Alert,
    AlertNotification,
    AlertState,
    Course,
    Lesson,
    NotificationEvent,
    NotificationStatus,
    table_of,
)

MAX_SILENCE = timedelta(days=30)
_SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


@dataclass(frozen=True)
class AlertRow:
    id: int
    key: str
    kind: str
    state: str
    severity: str
    message: str
    subject: str | None
    value: float | None
    threshold: float | None
    context: dict[str, Any] | None
    first_seen_at: datetime
    last_seen_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    silenced_until: datetime | None
    silenced_by: str | None
    lesson_id: int | None
    teacher_id: int | None

    def silenced(self, now: datetime) -> bool:
        return self.silenced_until is not None and self.silenced_until > now

    @classmethod
    def of(cls, alert: Alert) -> AlertRow:
        return cls(**{name: getattr(alert, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NotificationRow:
    id: int
    alert_id: int
    alert_key: str
    event: str
    receiver: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass
class Outcome:
    """What one evaluation changed (keys; an alert opened firing is in `opened` and `fired`), and how many
    deliveries it queued."""

    opened: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    refreshed: int = 0
    queued: int = 0


# --- evaluation --------------------------------------------------------------------------------------


def evaluate(
    session: Session,
    config: AlertConfig,
    measured: Collection[str],
    observations: Iterable[Observation],
    *,
    now: datetime,
) -> Outcome:
    """Bring the stored alerts of the `measured` rules in line with what they observed (caller commits)."""
    found = _with_owners(session, list(observations))
    current = load_open(session, measured)
    return apply(session, plan(config.rules, measured, found, current, now), config, now=now)


def load_open(session: Session, kinds: Collection[str]) -> list[OpenAlert]:
    if not kinds:
        return []
    rows = session.execute(
        select(Alert.id, Alert.key, Alert.kind, Alert.state, Alert.first_seen_at).where(
            Alert.state != AlertState.resolved.value, Alert.kind.in_(list(kinds))
        )
    ).all()
    return [OpenAlert(*row) for row in rows]


def _with_owners(session: Session, observations: list[Observation]) -> list[Observation]:
    """Name each lesson's teacher (teachers see alerts about their lessons); a lesson that no longer exists
    in the platform keeps its id in the context only (the alert's lesson column is a foreign key)."""
    ids = {o.lesson_id for o in observations if o.lesson_id is not None}
    if not ids:
        return observations
    owners = dict(
        session.execute(
            select(Lesson.id, Course.teacher_id).join(Course, Course.id == Lesson.course_id).where(Lesson.id.in_(ids))
        ).all()
    )
    out: list[Observation] = []
    for obs in observations:
        if obs.lesson_id is None:
            out.append(obs)
        elif obs.lesson_id in owners:
            out.append(replace(obs, teacher_id=owners[obs.lesson_id]))
        else:
            out.append(replace(obs, lesson_id=None, teacher_id=None))
    return out


def _values(obs: Observation, config: AlertConfig, now: datetime) -> dict[str, Any]:
    rule = config.rules[obs.rule]
    return {
        "message": obs.message,
        "severity": obs.severity or rule.severity,
        "subject": obs.subject[:200] if obs.subject else None,
        "value": obs.value,
        "threshold": obs.threshold,
        "context": obs.context,
        "lesson_id": obs.lesson_id,
        "teacher_id": obs.teacher_id,
        "last_seen_at": now,
    }


def apply(session: Session, work: Plan, config: AlertConfig, *, now: datetime) -> Outcome:
    """Apply a plan's transitions in the caller's transaction and queue the notifications they call for."""
    outcome = Outcome()
    announce: list[tuple[int, str]] = []  # (alert id, event)
    _open(session, work, config, now, outcome, announce)
    _refresh(session, work, config, now, outcome)
    for fire in work.fires:
        obs = fire.observation
        fired = session.execute(
            update(Alert)
            .where(Alert.id == fire.alert_id, Alert.state == AlertState.pending.value)
            .values(**_values(obs, config, now), state=AlertState.firing.value, fired_at=now)
            .returning(Alert.silenced_until)
        ).all()
        if fired:
            outcome.fired.append(obs.key)
            silenced_until = fired[0][0]
            if config.rules[obs.rule].notify and not (silenced_until is not None and silenced_until > now):
                announce.append((fire.alert_id, NotificationEvent.fired.value))
    for resolve in work.resolves:
        resolved = session.execute(
            update(Alert)
            .where(Alert.id == resolve.alert_id, Alert.state != AlertState.resolved.value)
            .values(state=AlertState.resolved.value, resolved_at=now)
            .returning(Alert.kind, Alert.fired_at, Alert.silenced_until)
        ).all()
        if not resolved:
            continue
        outcome.resolved.append(resolve.key)
        kind, fired_at, silenced_until = resolved[0]
        rule = config.rules.get(kind)
        silenced = silenced_until is not None and silenced_until > now
        if fired_at is not None and rule is not None and rule.notify and not silenced:
            announce.append((resolve.alert_id, NotificationEvent.resolved.value))
    outcome.queued = queue(session, announce, config.receiver_names, now=now)
    return outcome


_CHUNK = 500  # rows per multi-row INSERT: well under SQLite's limit on bound parameters


def _open(
    session: Session, work: Plan, config: AlertConfig, now: datetime, outcome: Outcome, announce: list[tuple[int, str]]
) -> None:
    """New alerts in multi-row INSERTs; a key a concurrent evaluator opened first is skipped (its row stands)."""
    table = table_of(Alert)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [
        {
            **_values(o.observation, config, now),
            "key": o.observation.key,
            "kind": o.observation.rule,
            "state": o.state,
            "created_at": now,
            "first_seen_at": now,
            "fired_at": now if o.state == AlertState.firing else None,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "silenced_until": None,
            "silenced_by": None,
            "resolved_at": None,
        }
        for o in work.opens
    ]
    inserted: dict[str, int] = {}
    for start in range(0, len(rows), _CHUNK):
        stmt = (
            insert(table)
            .values(rows[start : start + _CHUNK])
            .on_conflict_do_nothing(index_elements=["key"], index_where=text(OPEN))
            .returning(table.c.key, table.c.id)
        )
        inserted.update({key: alert_id for key, alert_id in session.execute(stmt).all()})
    for opening in work.opens:
        obs = opening.observation
        new_id = inserted.get(obs.key)
        if new_id is None:
            continue
        outcome.opened.append(obs.key)
        if opening.state == AlertState.firing:
            outcome.fired.append(obs.key)
            if config.rules[obs.rule].notify:
                announce.append((new_id, NotificationEvent.fired.value))


_REFRESHED = (
    "message",
    "severity",
    "subject",
    "value",
    "threshold",
    "context",
    "lesson_id",
    "teacher_id",
    "last_seen_at",
)


def _refresh(session: Session, work: Plan, config: AlertConfig, now: datetime, outcome: Outcome) -> None:
    """Alerts that still hold get the latest value and message, in one executemany."""
    if not work.refreshes:
        return
    table = table_of(Alert)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.state != AlertState.resolved.value)
        .values({name: bindparam(f"b_{name}", type_=table.c[name].type) for name in _REFRESHED})
    )
    params = [
        {"b_id": r.alert_id, **{f"b_{k}": v for k, v in _values(r.observation, config, now).items()}}
        for r in work.refreshes
    ]
    session.connection().execute(stmt, params)
    outcome.refreshed += len(params)


def queue(session: Session, announce: Sequence[tuple[int, str]], receivers: Sequence[str], *, now: datetime) -> int:
    """One pending delivery per (alert, event, receiver); one already queued is left alone (idempotent)."""
    rows = [
        {
            "alert_id": alert_id,
            "event": event,
            "receiver": receiver,
            "status": NotificationStatus.pending.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for alert_id, event in announce
        for receiver in receivers
    ]
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(AlertNotification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["alert_id", "event", "receiver"])
        .returning(AlertNotification.id)
    )
    return len(session.execute(stmt).all())


# --- reads -------------------------------------------------------------------------------------------


def _ordered(stmt: Select[Alert]) -> Select[Alert]:
    severity = case(_SEVERITY_ORDER, value=Alert.severity, else_=len(_SEVERITY_ORDER))
    firing_first = case((Alert.state == AlertState.firing.value, 0), else_=1)
    return stmt.order_by(firing_first, severity, Alert.first_seen_at.desc(), Alert.id.desc())


def open_alerts(
    session: Session,
    *,
    since: datetime | None = None,
    teacher_id: int | None = None,
    kinds: Collection[str] | None = None,
    limit: int = 500,
) -> list[AlertRow]:
    """Alerts not resolved (firing first, then by severity); `teacher_id` scopes to one teacher's lessons
    (in SQL); `since` keeps those seen holding at or after it."""
    stmt = select(Alert).where(Alert.state != AlertState.resolved.value)
    if since is not None:
        stmt = stmt.where(Alert.last_seen_at >= since)
    if teacher_id is not None:
        stmt = stmt.where(Alert.teacher_id == teacher_id)
    if kinds is not None:
        stmt = stmt.where(Alert.kind.in_(list(kinds)))
    return [AlertRow.of(a) for a in session.execute(_ordered(stmt).limit(limit)).scalars()]


def alert_history(
    session: Session,
    *,
    since: datetime,
    until: datetime | None = None,
    teacher_id: int | None = None,
    state: str | None = None,
    limit: int = 500,
) -> list[AlertRow]:
    """Alerts that were open at some point of [since, until] (resolved ones included), newest first."""
    stmt = select(Alert).where(or_(Alert.resolved_at.is_(None), Alert.resolved_at >= since))
    if until is not None:
        stmt = stmt.where(Alert.first_seen_at <= until)
    if teacher_id is not None:
        stmt = stmt.where(Alert.teacher_id == teacher_id)
    if state is not None:
        stmt = stmt.where(Alert.state == parse_state(state))
    stmt = stmt.order_by(Alert.first_seen_at.desc(), Alert.id.desc()).limit(limit)
    return [AlertRow.of(a) for a in session.execute(stmt).scalars()]


def get_alert(session: Session, alert_id: int) -> AlertRow:
    return AlertRow.of(_alert(session, alert_id))


def _alert(session: Session, alert_id: int, *, lock: bool = False) -> Alert:
    stmt = select(Alert).where(Alert.id == alert_id)
    found = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if found is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return found


def _notification_rows(stmt: Select[Any]) -> Select[Any]:
    return stmt.add_columns(Alert.key).join(Alert, Alert.id == AlertNotification.alert_id)


def _notification(row: Any) -> NotificationRow:
    n, key = row
    return NotificationRow(
        n.id,
        n.alert_id,
        key,
        n.event,
        n.receiver,
        n.status,
        n.attempts,
        n.next_attempt_at,
        n.last_error,
        n.created_at,
        n.delivered_at,
    )


def notifications(session: Session, alert_id: int) -> list[NotificationRow]:
    stmt = _notification_rows(select(AlertNotification)).where(AlertNotification.alert_id == alert_id)
    return [_notification(r) for r in session.execute(stmt.order_by(AlertNotification.id)).all()]


def notification_failures(
    session: Session, *, since: datetime | None = None, limit: int = 200
) -> list[NotificationRow]:
    """Deliveries that gave up (`failed`) or are waiting to retry after an error, newest first."""
    stmt = _notification_rows(select(AlertNotification)).where(
        or_(
            AlertNotification.status == NotificationStatus.failed.value,
            (AlertNotification.status == NotificationStatus.pending.value) & AlertNotification.last_error.is_not(None),
        )
    )
    if since is not None:
        stmt = stmt.where(AlertNotification.created_at >= since)
    stmt = stmt.order_by(AlertNotification.created_at.desc(), AlertNotification.id.desc()).limit(limit)
    return [_notification(r) for r in session.execute(stmt).all()]


def firing_counts(session: Session) -> dict[str, int]:
    """Firing alerts per rule (rules with none are absent)."""
    stmt = select(Alert.kind, func.count()).where(Alert.state == AlertState.firing.value).group_by(Alert.kind)
    return {kind: int(n) for kind, n in session.execute(stmt).all()}


# --- operator actions --------------------------------------------------------------------------------


def acknowledge(session: Session, alert_id: int, *, actor: str, now: datetime | None = None) -> AlertRow:
    """Mark an open alert acknowledged by `actor` (audited); acknowledging it again changes nothing."""
    now = now or datetime.now(UTC)
    alert = _open_alert(session, alert_id, "acknowledge")
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, actor[:200]
        record_action(
            session,
            action="alert.acknowledge",
            actor=actor,
            target=f"alert:{alert_id}",
            outcome="acknowledged",
            detail={"key": alert.key, "state": alert.state},
            now=now,
        )
        session.flush()
    return AlertRow.of(alert)


def silence(
    session: Session, alert_id: int, *, actor: str, duration: timedelta, now: datetime | None = None
) -> AlertRow:
    """No notifications for this alert until now + `duration` (audited); its queued deliveries are dropped."""
    now = now or datetime.now(UTC)
    if not timedelta(0) < duration <= MAX_SILENCE:
        raise AlertInputInvalid(f"silence for more than 0 and at most {MAX_SILENCE.days} days")
    alert = _open_alert(session, alert_id, "silence")
    alert.silenced_until, alert.silenced_by = now + duration, actor[:200]
    dropped = len(
        session.execute(
            delete(AlertNotification)
            .where(
                AlertNotification.alert_id == alert_id,
                AlertNotification.status == NotificationStatus.pending.value,
            )
            .returning(AlertNotification.id)
        ).all()
    )
    record_action(
        session,
        action="alert.silence",
        actor=actor,
        target=f"alert:{alert_id}",
        outcome="silenced",
        detail={"key": alert.key, "until": alert.silenced_until.isoformat(), "dropped_notifications": dropped},
        now=now,
    )
    session.flush()
    return AlertRow.of(alert)


def unsilence(session: Session, alert_id: int, *, actor: str, now: datetime | None = None) -> AlertRow:
    """End a silence early (audited); later fires and resolves notify again."""
    now = now or datetime.now(UTC)
    alert = _alert(session, alert_id, lock=True)
    if alert.silenced_until is not None and alert.silenced_until > now:
        alert.silenced_until = now
        record_action(
            session,
            action="alert.unsilence",
            actor=actor,
            target=f"alert:{alert_id}",
            outcome="unsilenced",
            detail={"key": alert.key},
            now=now,
        )
        session.flush()
    return AlertRow.of(alert)


def _open_alert(session: Session, alert_id: int, what: str) -> Alert:
    alert = _alert(session, alert_id, lock=True)
    if alert.state == AlertState.resolved:
        raise AlertConflict(f"alert {alert_id} is resolved: there is nothing to {what}")
    return alert


# --- input parsing -----------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1d`, `1w` (a bare number is minutes)."""
    match = _DURATION.match(value or "")
    if match is None:
        raise AlertInputInvalid(f"{value!r} is not a duration: use e.g. 30m, 2h or 1d")
    number, unit = float(match.group(1)), (match.group(2) or "m").lower()
    try:
        return timedelta(seconds=number * _UNIT_S[unit])
    except OverflowError:  # past timedelta's range (or an infinite float from hundreds of digits)
        raise AlertInputInvalid(f"{value[:40]!r} is longer than any silence can be") from None


def parse_state(value: str) -> str:
    if value not in {s.value for s in AlertState}:
        raise AlertInputInvalid(f"unknown alert state {value!r}; states: {', '.join(s.value for s in AlertState)}")
    return value

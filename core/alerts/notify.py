"""Notifications: a Slack-compatible JSON POST per queued (alert, event, receiver), retried with backoff.

The evaluator only queues rows (`alert_notifications`, status `pending`); `AlertNotifier.deliver_due`
sends the ones whose `next_attempt_at` has come, one attempt each, inside a strict total time budget with
a short timeout per request, so a receiver that is down or hangs costs the caller at most the budget:
- 2xx: `delivered`;
- a timeout, a connection failure, 408, 429 or 5xx: `attempts + 1` and the next attempt after the
  retry policy's backoff (core/retry.py: exponential, capped, jittered); after the last attempt `failed`;
- any other 4xx (a revoked Slack URL answers 404): `failed` at once, as the same request fails the same way.
A receiver that fails is not tried again in the same pass (its other rows wait for the next one), so one
dead receiver cannot eat the budget of the others. A row whose receiver is no longer configured fails.

Each attempt logs one line, `alert.notification`, naming the receiver, never its URL (URLs are also
registered with the log masking, in case an HTTP library's message quotes one).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.alerts.config import Receiver
from core.alerts.store import AlertRow
from core.db.models import Alert, AlertNotification, NotificationEvent, NotificationStatus
from core.logging import get_logger, redact_text, register_secrets
from core.retry import RetryPolicy

log = get_logger(__name__)

ICONS = {NotificationEvent.fired.value: ":rotating_light:", NotificationEvent.resolved.value: ":white_check_mark:"}
_RETRY_STATUS = frozenset({408, 429})


def notification_body(alert: AlertRow, event: str) -> dict[str, Any]:
    """The JSON sent: Slack reads `text` (an incoming webhook posts it as is); other receivers can read
    the structured `alert` object."""
    if event == NotificationEvent.fired:
        headline = f"*FIRING* [{alert.severity}] {alert.message}"
    else:
        since = f" (firing since {alert.fired_at:%Y-%m-%d %H:%M} UTC)" if alert.fired_at else ""
        headline = f"*RESOLVED* {alert.message}{since}"
    return {
        "text": f"{ICONS.get(event, '')} {headline} — Lectern alert {alert.id} `{alert.key}`".strip(),
        "event": event,
        "alert": {
            "id": alert.id,
            "key": alert.key,
            "rule": alert.kind,
            "state": alert.state,
            "severity": alert.severity,
            "subject": alert.subject,
            "message": alert.message,
            "value": alert.value,
            "threshold": alert.threshold,
            "first_seen_at": _iso(alert.first_seen_at),
            "last_seen_at": _iso(alert.last_seen_at),
            "fired_at": _iso(alert.fired_at),
            "resolved_at": _iso(alert.resolved_at),
            "lesson_id": alert.lesson_id,
            "teacher_id": alert.teacher_id,
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0  # due, but left for the next pass (budget spent or its receiver just failed)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "retrying": self.retrying,
            "failed": self.failed,
            "deferred": self.deferred,
            "seconds": round(self.elapsed_s, 3),
        }


@dataclass(frozen=True)
class _Attempt:
    ok: bool
    retry: bool
    status_code: int | None = None
    error: str | None = None


class AlertNotifier:
    """Sends due notifications; built by the container (core/container.py) with its own HTTP client."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        receivers: Sequence[Receiver],
        client: httpx.Client,
        *,
        policy: RetryPolicy,
        timeout_s: float = 3.0,
        budget_s: float = 10.0,
        batch: int = 200,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.session_factory = session_factory
        self.receivers = {r.name: r for r in receivers}
        self.client = client
        self.policy = policy
        self.timeout_s = timeout_s
        self.budget_s = budget_s
        self.batch = batch
        self.monotonic = monotonic
        self.rand = rand
        register_secrets(r.url.get_secret_value() for r in receivers)

    def deliver_due(self, *, now: datetime | None = None, budget_s: float | None = None) -> DeliveryReport:
        """One pass over the due deliveries, within `budget_s` (default: the configured budget)."""
        now = now or datetime.now(UTC)
        started = self.monotonic()
        deadline = started + (self.budget_s if budget_s is None else budget_s)
        report = DeliveryReport()
        down: set[str] = set()
        with self.session_factory() as session:
            due = session.execute(
                select(AlertNotification, Alert)
                .join(Alert, Alert.id == AlertNotification.alert_id)
                .where(
                    AlertNotification.status == NotificationStatus.pending.value,
                    AlertNotification.next_attempt_at <= now,
                )
                .order_by(AlertNotification.next_attempt_at, AlertNotification.id)
                .limit(self.batch)
            ).all()
            work = [(n.id, n.receiver, n.event, n.attempts, AlertRow.of(a)) for n, a in due]
        for row_id, name, event, attempts, alert in work:
            receiver = self.receivers.get(name)
            if receiver is None:
                self._finish(row_id, now, failed=True, attempts=attempts, error="receiver no longer configured")
                self._log(alert, event, name, "failed", attempts, error="receiver no longer configured")
                report.failed += 1
                continue
            if alert.silenced_until is not None and alert.silenced_until > now:
                self._postpone(row_id, alert.silenced_until)
                report.deferred += 1
                continue
            remaining = deadline - self.monotonic()
            if name in down or remaining <= 0.05:
                report.deferred += 1
                continue
            attempt = self._post(receiver, notification_body(alert, event), min(self.timeout_s, remaining))
            attempts += 1
            if attempt.ok:
                self._finish(row_id, now, delivered=True, attempts=attempts)
                report.delivered += 1
                outcome = "delivered"
            elif attempt.retry and attempts < self.policy.attempts:
                wait = self.policy.backoff(attempts, self.rand())
                self._retry_later(row_id, attempts, now + timedelta(seconds=wait), attempt.error)
                report.retrying += 1
                down.add(name)
                outcome = "retry"
            else:
                self._finish(row_id, now, failed=True, attempts=attempts, error=attempt.error)
                report.failed += 1
                down.add(name)
                outcome = "failed"
            self._log(alert, event, name, outcome, attempts, status_code=attempt.status_code, error=attempt.error)
        report.elapsed_s = self.monotonic() - started
        return report

    def _post(self, receiver: Receiver, body: dict[str, Any], timeout_s: float) -> _Attempt:
        url = receiver.url.get_secret_value()
        try:
            response = self.client.post(url, json=body, timeout=timeout_s)
        except httpx.TimeoutException:
            return _Attempt(False, True, error=f"no answer within {timeout_s:.1f} s")
        except httpx.HTTPError as exc:
            return _Attempt(False, True, error=_scrub(f"{type(exc).__name__}: {exc}", url, receiver.name))
        if 200 <= response.status_code < 300:
            return _Attempt(True, False, response.status_code)
        retry = response.status_code >= 500 or response.status_code in _RETRY_STATUS
        detail = _scrub(response.text[:120].strip(), url, receiver.name)
        error = f"HTTP {response.status_code}" + (f": {detail}" if detail else "")
        return _Attempt(False, retry, response.status_code, error)

    def _finish(
        self,
        row_id: int,
        now: datetime,
        *,
        attempts: int,
        delivered: bool = False,
        failed: bool = False,
        error: str | None = None,
    ) -> None:
        status = NotificationStatus.delivered if delivered else NotificationStatus.failed
        values: dict[str, Any] = {"status": status.value, "attempts": attempts, "next_attempt_at": None}
        if delivered:
            values["delivered_at"] = now
        if failed:
            values["last_error"] = error
        self._update(row_id, values)

    def _retry_later(self, row_id: int, attempts: int, when: datetime, error: str | None) -> None:
        self._update(row_id, {"attempts": attempts, "next_attempt_at": when, "last_error": error})

    def _postpone(self, row_id: int, until: datetime) -> None:
        self._update(row_id, {"next_attempt_at": until})

    def _update(self, row_id: int, values: dict[str, Any]) -> None:
        # Each delivery commits on its own: a pass cut short never re-sends what it already delivered.
        with self.session_factory() as session, session.begin():
            session.execute(
                update(AlertNotification)
                .where(AlertNotification.id == row_id, AlertNotification.status == NotificationStatus.pending.value)
                .values(**values)
            )

    @staticmethod
    def _log(
        alert: AlertRow,
        event: str,
        receiver: str,
        outcome: str,
        attempts: int,
        *,
        status_code: int | None = None,
        error: str | None = None,
    ) -> None:
        fields = {
            "alert_id": alert.id,
            "key": alert.key,
            "alert_event": event,
            "receiver": receiver,
            "outcome": outcome,
            "attempts": attempts,
            "status_code": status_code,
            "error": error,
        }
        if outcome == "delivered":
            log.info("alert.notification", **fields)
        elif outcome == "retry":
            log.warning("alert.notification", **fields)
        else:
            log.error("alert.notification", **fields)


def _scrub(text: str, url: str, name: str) -> str:
    return redact_text(text.replace(url, f"<{name}>"))

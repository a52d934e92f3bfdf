"""View model of the alerts a page lists (My lessons): one message per open alert, with its tone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.alerts.store import AlertRow
from dashboard.views.display import Tone

LOUD = ("error", "critical")


def tone(alert: AlertRow) -> Tone:
    if alert.state != "firing":
        return "info"
    return "error" if alert.severity in LOUD else "warning"


def alert_message(alert: AlertRow, now: datetime) -> tuple[Tone, str]:
    """`Firing since 2026-11-03 08:05 UTC: <message>`, with acknowledged / silenced when they apply."""
    if alert.state == "firing":
        head = f"Firing since {(alert.fired_at or alert.first_seen_at):%Y-%m-%d %H:%M} UTC"
    else:
        head = f"Pending since {alert.first_seen_at:%Y-%m-%d %H:%M} UTC (fires if it persists)"
    notes = []
    if alert.acknowledged_at is not None:
        notes.append("acknowledged")
    if alert.silenced(now):
        notes.append(f"silenced until {alert.silenced_until:%Y-%m-%d %H:%M} UTC")
    suffix = f" ({', '.join(notes)})" if notes else ""
    return tone(alert), f"{head}{suffix}: {alert.message}"


def alert_messages(alerts: Sequence[AlertRow], now: datetime, *, limit: int = 10) -> list[tuple[Tone, str]]:
    return [alert_message(a, now) for a in alerts[:limit]]


def more_caption(alerts: Sequence[AlertRow], *, limit: int = 10) -> str | None:
    extra = len(alerts) - limit
    return f"{extra} more open alert(s) are not shown here." if extra > 0 else None

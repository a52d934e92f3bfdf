"""The alert lifecycle as a pure function: what the rules saw + the open alerts + now -> transitions.

    pending --(held for the rule's `for_s`)--> firing --(condition clears)--> resolved
       \\--(clears before firing)--> resolved (quietly: it never fired)

A condition is identified by its key (rule and subject, e.g. `playback_failure_lesson:42`). While it holds,
every evaluation refreshes the same open alert (last seen, value, message); it never adds a row. Once
resolved the row is history, and the same condition seen again opens a new alert.

Only rules in `measured` are judged: a rule that could not be measured this time (its source failed, or
another job measures it) leaves its open alerts exactly as they are, so an outage of a data source never
reads as "everything cleared". A rule that is measured and disabled resolves its open alerts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.alerts.rules import Rule
from core.db.models import AlertState


@dataclass(frozen=True)
class Observation:
    """A condition a rule found holding now (rules report only breaches; absence means it cleared)."""

    rule: str
    key: str
    message: str
    value: float | None = None
    threshold: float | None = None
    subject: str | None = None
    severity: str | None = None  # None: the rule's severity
    context: dict[str, Any] | None = None
    lesson_id: int | None = None
    teacher_id: int | None = None


@dataclass(frozen=True)
class OpenAlert:
    """What the planner needs of an alert that is not resolved."""

    id: int
    key: str
    kind: str
    state: str
    first_seen_at: datetime


@dataclass(frozen=True)
class Open:
    observation: Observation
    state: str  # pending, or firing for a rule without a `for` duration


@dataclass(frozen=True)
class Refresh:
    alert_id: int
    observation: Observation


@dataclass(frozen=True)
class Fire:
    alert_id: int
    observation: Observation


@dataclass(frozen=True)
class Resolve:
    alert_id: int
    key: str
    was_firing: bool  # only an alert that fired announces its resolution


@dataclass
class Plan:
    opens: list[Open] = field(default_factory=list)
    refreshes: list[Refresh] = field(default_factory=list)
    fires: list[Fire] = field(default_factory=list)
    resolves: list[Resolve] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.opens or self.refreshes or self.fires or self.resolves)


def plan(
    rules: Mapping[str, Rule],
    measured: Collection[str],
    observations: Iterable[Observation],
    open_alerts: Iterable[OpenAlert],
    now: datetime,
) -> Plan:
    """Transitions that bring the stored alerts of the `measured` rules in line with `observations`."""
    seen: dict[str, Observation] = {}
    for obs in observations:
        rule = rules.get(obs.rule)
        if obs.rule in measured and rule is not None and rule.enabled:
            seen.setdefault(obs.key, obs)  # one alert per key: the first report of a key wins
    result = Plan()
    by_key: dict[str, OpenAlert] = {}
    for stored in open_alerts:
        if stored.kind in measured:
            by_key[stored.key] = stored
    for key, obs in seen.items():
        rule = rules[obs.rule]
        alert = by_key.get(key)
        if alert is None:
            state = AlertState.firing if rule.for_s <= 0 else AlertState.pending
            result.opens.append(Open(obs, state.value))
        elif alert.state == AlertState.pending and now - alert.first_seen_at >= timedelta(seconds=rule.for_s):
            result.fires.append(Fire(alert.id, obs))
        else:
            result.refreshes.append(Refresh(alert.id, obs))
    for key, stored in by_key.items():
        if key not in seen:
            result.resolves.append(Resolve(stored.id, key, was_firing=stored.state == AlertState.firing))
    return result

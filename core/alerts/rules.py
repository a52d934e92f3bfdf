"""Alert rules as data: what each rule measures, its threshold, window and `for` duration, with defaults.

A deployment overrides any field of any rule with `LECTERN_ALERT_RULES`, a JSON object of rule name ->
fields, e.g. `{"playback_failure": {"threshold": 2.5, "for_s": 300}, "startup_time_p95": {"enabled": false}}`.
Unknown rules, unknown fields and out-of-range values are refused when settings load (the message names
the rule and the field), so a typo never silently keeps a default.

Every rule fires when its measured value is strictly over `threshold`, after the condition has held for
`for_s` seconds (0: on the first evaluation that sees it). The budget rule takes its threshold from
`LECTERN_MONTHLY_BUDGET_USD`; the reconciliation rules are measured by the `assets` sync job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from core.alerts.errors import AlertConfigInvalid

SEVERITIES = ("info", "warning", "error", "critical")

PLAYBACK_FAILURE = "playback_failure"
PLAYBACK_FAILURE_LESSON = "playback_failure_lesson"
STARTUP_TIME_P95 = "startup_time_p95"
WEBHOOK_SILENCE = "webhook_silence"
UPLOAD_FAILURE_RATE = "upload_failure_rate"
SYNC_JOB = "sync_job"
MIGRATION_FAILURES = "migration_failures"
COST_BUDGET = "cost_budget"
ORPHAN_ASSET = "mux_orphan_asset"
ASSET_MISSING = "lesson_asset_missing"

# Rules the `alerts` job measures (the reconciliation rules belong to the `assets` job: it lists Mux).
EVALUATED = (
    PLAYBACK_FAILURE,
    PLAYBACK_FAILURE_LESSON,
    STARTUP_TIME_P95,
    WEBHOOK_SILENCE,
    UPLOAD_FAILURE_RATE,
    SYNC_JOB,
    MIGRATION_FAILURES,
    COST_BUDGET,
)
RECONCILE = (ORPHAN_ASSET, ASSET_MISSING)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    unit: str  # of value and threshold: "%", "s", "min", "h", "jobs", "$", "assets"
    threshold: float = 0.0
    for_s: int = 0  # how long the condition holds before the alert fires (pending until then)
    window_s: int = 3600  # the measurement window, where the rule has one
    min_count: int = 0  # fewest views / uploads in the window for a rate to count
    severity: str = "warning"
    enabled: bool = True
    notify: bool = True  # POST to the receivers on fire and resolve


DEFAULT_RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            PLAYBACK_FAILURE,
            "Share of all views (ended in the window) with a playback failure",
            "%",
            threshold=5.0,
            for_s=600,
            window_s=3600,
            min_count=50,
            severity="error",
        ),
        Rule(
            PLAYBACK_FAILURE_LESSON,
            "Share of one lesson's views (ended in the window) with a playback failure",
            "%",
            threshold=10.0,
            for_s=600,
            window_s=3600,
            min_count=20,
        ),
        Rule(
            STARTUP_TIME_P95,
            "95th percentile of video startup time over the views that started, in the window",
            "s",
            threshold=5.0,
            for_s=600,
            window_s=3600,
            min_count=50,
        ),
        Rule(
            WEBHOOK_SILENCE,
            "Minutes without any Mux webhook while uploads wait for one (uploads started within the window)",
            "min",
            threshold=30.0,
            window_s=24 * 3600,
            severity="error",
        ),
        Rule(
            UPLOAD_FAILURE_RATE,
            "Share of direct uploads finished in the window that errored, timed out or were cancelled",
            "%",
            threshold=20.0,
            window_s=24 * 3600,
            min_count=5,
        ),
        Rule(
            SYNC_JOB,
            "A sync job's last run failed, or its last success is more than `threshold` hours old",
            "h",
            threshold=6.0,
            for_s=1800,
            severity="error",
        ),
        Rule(
            MIGRATION_FAILURES,
            "S3-to-Mux migration jobs that failed in the window",
            "jobs",
            threshold=0.0,
            window_s=24 * 3600,
        ),
        Rule(COST_BUDGET, "A month's projected Mux cost over LECTERN_MONTHLY_BUDGET_USD", "$"),
        # One alert per asset: a teacher replacing a course's videos would post dozens of messages. The pages
        # list them with their monthly cost, and the orphan_cleanup job deletes them when configured.
        Rule(
            ORPHAN_ASSET,
            "A ready or errored Mux asset no lesson uses (it still costs storage)",
            "assets",
            notify=False,
        ),
        Rule(ASSET_MISSING, "A lesson plays a Mux asset Mux no longer has", "assets", severity="error"),
    )
}

_OVERRIDABLE = {f.name: f.type for f in fields(Rule) if f.name not in ("name", "description", "unit")}


def resolve_rules(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Rule]:
    """The default rules with a deployment's overrides applied; raises AlertConfigInvalid naming the problem."""
    rules = dict(DEFAULT_RULES)
    for name, changes in (overrides or {}).items():
        if name not in rules:
            raise AlertConfigInvalid(f"unknown alert rule {name!r}; rules: {', '.join(rules)}")
        if not isinstance(changes, Mapping):
            raise AlertConfigInvalid(f'rule {name!r}: give an object of fields, e.g. {{"threshold": 5}}')
        rules[name] = replace(rules[name], **{key: _value(name, key, value) for key, value in changes.items()})
    return rules


def _value(rule: str, key: str, value: Any) -> Any:
    if key not in _OVERRIDABLE:
        raise AlertConfigInvalid(f"rule {rule!r}: unknown field {key!r}; fields: {', '.join(_OVERRIDABLE)}")
    kind = _OVERRIDABLE[key]
    if kind == "bool":
        if not isinstance(value, bool):
            raise AlertConfigInvalid(f"rule {rule!r}: {key} must be true or false")
        return value
    if kind == "str":
        if value not in SEVERITIES:
            raise AlertConfigInvalid(f"rule {rule!r}: {key} must be one of {', '.join(SEVERITIES)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise AlertConfigInvalid(f"rule {rule!r}: {key} must be a number >= 0")
    if kind == "int":
        if value != int(value):
            raise AlertConfigInvalid(f"rule {rule!r}: {key} must be a whole number")
        return int(value)
    return float(value)

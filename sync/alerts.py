"""The `alerts` job: measure every rule, bring the platform's alerts in line, then deliver notifications.

It runs on the sync's working warehouse (after `delivery_usage` in a full run, and on its own interval,
`LECTERN_SYNC_ALERTS_INTERVAL_S`), so it sees the views and usage the sync just loaded:
1. measure: the view rules and the sync jobs on the warehouse (warehouse/alerts.py), the budget rule on a
   forecast of the warehouse's priced usage, the platform rules on the platform DB (core/alerts/measures.py).
   A rule whose measurement raises is left out of this evaluation (its alerts stay as they are) and the job
   ends `error` naming it, after the other rules have been applied;
2. evaluate: one platform-DB transaction applies the lifecycle (core/alerts/store.py) and queues a
   notification per fire and resolve and receiver; nothing here waits on a receiver;
3. deliver: the notifier (core/alerts/notify.py) sends what is due, within its strict time budget
   (LECTERN_ALERT_NOTIFY_BUDGET_S), after the evaluation has committed. Retries are rows with a later
   `next_attempt_at`, picked up by a later run.
The reconciliation rules are measured by the `assets` job, which lists Mux anyway; their notifications
go out with this job's next delivery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import duckdb
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core import metrics
from core.alerts import measures
from core.alerts import rules as r
from core.alerts.config import AlertConfig
from core.alerts.notify import AlertNotifier
from core.alerts.planner import Observation
from core.alerts.store import evaluate, firing_counts
from core.costs.alerts import budget_observations
from core.costs.pricebook import pricebook_from_settings
from core.logging import get_logger
from core.settings import Settings
from sync.state import JobResult, transaction, write_state
from warehouse import alerts as wh
from warehouse.costs import forecast_from_warehouse

JOB = "alerts"
log = get_logger(__name__)


def measure(
    con: duckdb.DuckDBPyConnection,
    session: Session,
    config: AlertConfig,
    settings: Settings,
    *,
    now: datetime,
    jobs: Sequence[str],
) -> tuple[set[str], list[Observation], dict[str, str]]:
    """(rules measured, conditions holding, rules that could not be measured -> why)."""
    rules = config.rules
    measured: set[str] = set()
    found: list[Observation] = []
    problems: dict[str, str] = {}

    def run(names: Sequence[str], fn: Callable[[], list[Observation]]) -> None:
        if not any(rules[n].enabled for n in names):
            measured.update(names)  # disabled: measured as clear, so their open alerts resolve
            return
        try:
            found.extend(fn())
        except Exception as exc:
            for name in names:
                problems[name] = f"{type(exc).__name__}: {exc}"
            log.error("alerts.measure_failed", rules=list(names), error=f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, duckdb.Error):
                session.rollback()  # a failed platform read must not poison the evaluation's transaction
            return
        measured.update(names)

    def playback() -> list[Observation]:
        overall, lessons = wh.playback_failures(
            con, rules[r.PLAYBACK_FAILURE], rules[r.PLAYBACK_FAILURE_LESSON], now=now
        )
        return overall + lessons

    run([r.PLAYBACK_FAILURE, r.PLAYBACK_FAILURE_LESSON], playback)
    run([r.STARTUP_TIME_P95], lambda: wh.startup_time_p95(con, rules[r.STARTUP_TIME_P95], now=now))
    run([r.SYNC_JOB], lambda: wh.sync_jobs(con, rules[r.SYNC_JOB], now=now, jobs=[j for j in jobs if j != JOB]))
    run([r.COST_BUDGET], lambda: _budget(con, settings, now))
    run(
        [r.WEBHOOK_SILENCE],
        lambda: measures.webhook_silence(
            session, rules[r.WEBHOOK_SILENCE], now=now, upload_url_ttl_s=settings.upload_timeout_s
        ),
    )
    run([r.UPLOAD_FAILURE_RATE], lambda: measures.upload_failure_rate(session, rules[r.UPLOAD_FAILURE_RATE], now=now))
    run([r.MIGRATION_FAILURES], lambda: measures.migration_failures(session, rules[r.MIGRATION_FAILURES], now=now))
    # Disabled rules' conditions are dropped by the planner; only enabled rules report.
    return measured, [o for o in found if rules[o.rule].enabled], problems


def _budget(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> list[Observation]:
    if settings.monthly_budget_usd is None:
        return []  # no budget: nothing is over it (a budget removed resolves its alerts)
    book = pricebook_from_settings(settings)
    forecast = forecast_from_warehouse(con, book, today=now.date(), budget_usd=settings.monthly_budget_usd)
    return budget_observations(forecast)


def run_alerts(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    jobs: Sequence[str],
    notifier: AlertNotifier | None = None,
) -> JobResult:
    started = time.perf_counter()
    config = AlertConfig.from_settings(settings)
    result = JobResult(JOB)
    with Session(engine) as session:
        # The platform reads and the evaluation share one transaction: one commit applies it all.
        measured, found, problems = measure(con, session, config, settings, now=now, jobs=jobs)
        outcome = evaluate(session, config, measured, found, now=now)
        session.commit()
        firing = firing_counts(session)
    metrics.set_alerts_firing({rule: firing.get(rule, 0) for rule in config.rules})
    evaluated_s = time.perf_counter() - started
    details: dict[str, Any] = {
        "conditions": len(found),
        "opened": outcome.opened,
        "fired": outcome.fired,
        "resolved": outcome.resolved,
        "queued": outcome.queued,
        "firing": sum(firing.values()),
        "evaluate_s": round(evaluated_s, 3),
    }
    if notifier is not None:
        details["notifications"] = notifier.deliver_due(now=now).as_dict()
    result.rows = sum(firing.values())  # alerts firing after this run
    result.new_rows = len(outcome.opened)
    result.details = details
    if problems:
        result.status = "error"
        result.error = "could not measure " + "; ".join(f"{k}: {v}" for k, v in sorted(problems.items()))
        details["unmeasured"] = problems
    result.duration_s = time.perf_counter() - started
    with transaction(con):
        write_state(
            con,
            JOB,
            now=now,
            status=result.status,
            rows=result.rows,
            error=result.error,
            duration_s=result.duration_s,
        )
    return result

"""The `cost_alerts` job: project this month's Mux cost (and the next three) and raise budget alerts.

It runs after `delivery_usage`, on the sync's working warehouse, so each new day of usage is projected
without anyone running `lectern costs forecast --alert`. The forecast is the CLI's (the last 90 days of
priced usage, until yesterday: today's usage is never complete); months projected over
`LECTERN_MONTHLY_BUDGET_USD` get an alert in the platform database (one per month, refreshed on every run:
the key is unique), and a month projected back under it has its alert resolved. Without a budget the job
does nothing and says so in its details; a warehouse that cannot be priced fails the job (sync_state).
"""

from __future__ import annotations

import time
from datetime import datetime

import duckdb
from sqlalchemy import Engine

from core.costs.alerts import record_budget_alerts
from core.costs.pricebook import pricebook_from_settings
from core.settings import Settings
from sync.state import JobResult, transaction, write_state
from warehouse.costs import forecast_from_warehouse

JOB = "cost_alerts"


def run_cost_alerts(con: duckdb.DuckDBPyConnection, engine: Engine, settings: Settings, *, now: datetime) -> JobResult:
    started = time.perf_counter()
    result = JobResult(JOB)
    budget = settings.monthly_budget_usd
    if budget is None:
        result.details = {"skipped": "no budget set (LECTERN_MONTHLY_BUDGET_USD)"}
    else:
        book = pricebook_from_settings(settings)
        forecast = forecast_from_warehouse(con, book, today=now.date(), budget_usd=budget)
        created = record_budget_alerts(engine, forecast, now=now, resolve=True)
        over = [f"{m:%Y-%m}" for m in forecast.crossings()["month"]]
        result.rows = len(over)  # months projected over budget (alerts open)
        result.new_rows = len(created)
        result.details = {"months_over_budget": over, "alerts_created": created}
    result.duration_s = time.perf_counter() - started
    with transaction(con):
        write_state(con, JOB, now=now, status="ok", rows=result.rows, duration_s=result.duration_s)
    return result

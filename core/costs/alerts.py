"""Budget alerts: one row in the platform `alerts` table per month whose projection crosses the budget.

The key `cost-budget:<YYYY-MM>` is unique among open alerts, so re-running the forecast updates the same
row (latest projection in `context`) instead of adding another; a concurrent writer that wins the insert
race is detected by the unique index and treated the same way. `record_budget_alerts(..., resolve=True)`
(the scheduled `cost_alerts` job) also resolves the alert of a forecast month now projected under the
budget; a projection that crosses again opens a new alert.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.costs.forecast import Forecast
from core.costs.money import usd
from core.db.models import Alert, AlertState

KIND = "cost_budget"


def budget_key(month: str) -> str:
    return f"cost-budget:{month}"


def record_budget_alerts(
    db: Session | Engine, forecast: Forecast, *, now: datetime | None = None, resolve: bool = False
) -> list[str]:
    """Write (or refresh) an alert per month projected over budget; returns the keys newly created.

    `resolve`: also mark the open alerts of the forecast's other months resolved (projected under budget
    now). Months the forecast does not cover (past ones) keep whatever state they have."""
    if forecast.budget_micros is None:
        return []
    crossings = forecast.crossings()
    if crossings.empty and not resolve:
        return []
    if isinstance(db, Engine):
        with Session(db) as session, session.begin():
            return _apply(session, forecast, crossings, now or datetime.now(UTC), resolve)
    return _apply(db, forecast, crossings, now or datetime.now(UTC), resolve)


def _apply(session: Session, forecast: Forecast, crossings: pd.DataFrame, now: datetime, resolve: bool) -> list[str]:
    created = _record(session, forecast, crossings, now)
    if resolve:
        over = {f"{m:%Y-%m}" for m in crossings["month"]}
        under = [budget_key(f"{m:%Y-%m}") for m in forecast.months["month"] if f"{m:%Y-%m}" not in over]
        if under:
            session.execute(
                update(Alert)
                .where(Alert.key.in_(under), Alert.state != AlertState.resolved.value)
                .values(resolved_at=now, state=AlertState.resolved.value, last_seen_at=now)
                .execution_options(synchronize_session=False)
            )
    return created


def _record(session: Session, forecast: Forecast, crossings: pd.DataFrame, now: datetime) -> list[str]:
    created: list[str] = []
    budget = forecast.budget_micros or 0
    for row in crossings.itertuples():
        month = f"{row.month:%Y-%m}"
        key = budget_key(month)
        over_now = bool(row.is_current and row.actual_micros > budget)
        severity = "critical" if over_now else "warning"
        message = (
            f"Mux costs for {month} are projected at {usd(row.p50_micros)} "
            f"({usd(row.low_micros)} to {usd(row.high_micros)}), over the {usd(budget)} monthly budget"
            + (f"; {usd(row.actual_micros)} is already spent." if over_now else ".")
        )
        context = {
            "month": month,
            "budget_micros": budget,
            "p50_micros": int(row.p50_micros),
            "low_micros": int(row.low_micros),
            "high_micros": int(row.high_micros),
            "actual_micros": int(row.actual_micros),
            "as_of": forecast.as_of.isoformat(),
            "quantiles": list(forecast.quantiles),
        }
        is_open = (Alert.key == key, Alert.state != AlertState.resolved.value)
        existing = session.execute(select(Alert).where(*is_open)).scalar_one_or_none()
        if existing is None:
            try:
                with session.begin_nested():
                    session.add(
                        Alert(
                            key=key,
                            kind=KIND,
                            severity=severity,
                            message=message,
                            context=context,
                            created_at=now,
                            state=AlertState.firing.value,
                            first_seen_at=now,
                            last_seen_at=now,
                            fired_at=now,
                        )
                    )
                created.append(key)
                continue
            except IntegrityError:
                existing = session.execute(select(Alert).where(*is_open)).scalar_one()
        existing.message, existing.context, existing.last_seen_at = message, context, now
        if severity == "critical":
            existing.severity = severity
    session.flush()
    return created

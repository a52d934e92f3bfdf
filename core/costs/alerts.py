"""The budget rule's measurement: each month a forecast projects over the budget is one alert condition.

The alert engine (core/alerts/) owns the lifecycle: the key `cost-budget:<YYYY-MM>` is one open alert per
month, refreshed with the latest projection while the month stays over, resolved when it is projected
back under (or the budget is removed, or the month leaves the forecast), and opened anew if it crosses
again. The `alerts` sync job computes the forecast on the working warehouse and hands these observations
to the engine; `lectern costs forecast --alert` does the same by hand.
"""

from __future__ import annotations

from core.alerts.planner import Observation
from core.alerts.rules import COST_BUDGET
from core.costs.forecast import Forecast
from core.costs.money import usd

KIND = COST_BUDGET


def budget_key(month: str) -> str:
    return f"cost-budget:{month}"


def budget_observations(forecast: Forecast) -> list[Observation]:
    """One observation per month whose median projection is over the budget (none without a budget)."""
    if forecast.budget_micros is None:
        return []
    budget = forecast.budget_micros
    out: list[Observation] = []
    for row in forecast.crossings().itertuples():
        month = f"{row.month:%Y-%m}"
        over_now = bool(row.is_current and row.actual_micros > budget)
        message = (
            f"Mux costs for {month} are projected at {usd(row.p50_micros)} "
            f"({usd(row.low_micros)} to {usd(row.high_micros)}), over the {usd(budget)} monthly budget"
            + (f"; {usd(row.actual_micros)} is already spent." if over_now else ".")
        )
        out.append(
            Observation(
                KIND,
                budget_key(month),
                message,
                value=int(row.p50_micros) / 1_000_000,
                threshold=budget / 1_000_000,
                subject=month,
                severity="critical" if over_now else "warning",
                context={
                    "month": month,
                    "budget_micros": budget,
                    "p50_micros": int(row.p50_micros),
                    "low_micros": int(row.low_micros),
                    "high_micros": int(row.high_micros),
                    "actual_micros": int(row.actual_micros),
                    "as_of": forecast.as_of.isoformat(),
                    "quantiles": list(forecast.quantiles),
                },
            )
        )
    return out

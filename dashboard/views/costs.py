"""View model of Admin > Costs: the sentences, KPI cards and tables the page shows, from a `CostOverview`."""

from __future__ import annotations

from datetime import date

import pandas as pd

from core.costs.forecast import Forecast
from core.costs.money import allocate_cents, usd, usd_change
from core.costs.pricebook import PriceBook
from core.costs.whatif import Levers
from dashboard.platform_db import BudgetAlert
from dashboard.views.display import Metric, Tone, cost_metric
from warehouse.costs import CostOverview

NO_CAP = "no cap"
AS_TODAY = "as today"
QUALITY_CHOICES = (AS_TODAY, "basic", "plus", "premium")
CSV_GROUPS = ("course", "teacher", "lesson", "day", "month")
MONEY_ORDER = ("net_micros", "encoding_micros", "storage_micros", "delivery_micros", "gross_micros", "volume_micros",
               "free_micros")  # fmt: skip
QUANTITIES = ("encoded_min", "stored_min_months", "delivered_min")
PARTIAL_DAY = "Today's bar is paler: the day is not over, so its cost is what has been used so far (UTC)."


def pricing_caption(book: PriceBook) -> str:
    overrides = f", {len(book.overrides)} negotiated overrides" if book.overrides else ""
    return (
        f"Estimated from Mux usage at list prices ({book.version}, effective {book.effective}{overrides}). "
        "Free delivery minutes and volume discounts are spread over assets pro rata to usage."
    )


def has_usage(data: CostOverview) -> bool:
    return not (data.estimate.is_empty and data.month_to_date_micros == 0)


def kpis(data: CostOverview, first: date, last: date) -> list[Metric]:
    """Month to date (against the same days of last month), last month, the projection, the period."""
    cards = [
        cost_metric(
            "Month to date",
            data.month_to_date_micros,
            change_micros=data.month_to_date_micros - data.last_month_same_days_micros,
            compared_with="vs last month",
            help="Compared with the same days of last month (today counts as far as it has gone).",
        ),
        cost_metric("Last month", data.last_month_micros),
    ]
    if data.forecast is not None:
        current = data.forecast.months[data.forecast.months["is_current"]].iloc[0]
        band = f"Band {usd(int(current['low_micros']))} to {usd(int(current['high_micros']))}."
        cards.append(cost_metric("Projected month end", int(current["p50_micros"]), help=band))
    cards.append(cost_metric("Selected period", data.estimate.total_micros, help=f"{first} to {last}"))
    return cards


def budget_warning(forecast: Forecast | None) -> str | None:
    """The months projected over the budget, or None (no budget, no forecast, or all under it)."""
    if forecast is None or forecast.crossings().empty:
        return None
    months = ", ".join(f"{m:%Y-%m}" for m in forecast.crossings()["month"])
    return f"Projected over the {usd(forecast.budget_micros or 0)} monthly budget in {months}."


def alert_message(alert: BudgetAlert) -> tuple[Tone, str]:
    """A recorded budget alert: critical ones as errors, the rest as warnings."""
    tone: Tone = "error" if alert.severity == "critical" else "warning"
    return tone, f"Budget alert since {alert.since:%Y-%m-%d %H:%M} UTC: {alert.message}"


def forecast_caption(forecast: Forecast) -> str:
    low, high = forecast.quantiles
    return (
        f"Bars: the projected median month; whiskers: the band, {low:.0%} to {high:.0%} of bootstrapped trend "
        "paths; diamond: spent so far. " + " ".join(forecast.notes)
    ).strip()


def levers(cap: str, quality: str, unwatched_days: int, migrate: bool) -> Levers:
    """The what-if form's answers as levers ("no cap", "as today" and 0 days leave that lever alone)."""
    return Levers(
        max_resolution=None if cap == NO_CAP else cap,
        video_quality=None if quality == AS_TODAY else quality,
        delete_unwatched_days=int(unwatched_days) or None,
        migrate_s3=migrate,
    )


def what_if_summary(chosen: Levers) -> str:
    """The scenario in words, from the options chosen (so the note under the chart always matches the form)."""
    changes = []
    if chosen.video_quality:
        changes.append(f"every video at {chosen.video_quality} quality")
    if chosen.max_resolution:
        changes.append(f"resolution capped at {chosen.max_resolution}")
    if chosen.delete_unwatched_days:
        changes.append(f"lessons unplayed for {chosen.delete_unwatched_days}+ days deleted")
    if chosen.migrate_s3:
        changes.append("the remaining S3 lessons moved to Mux")
    if not changes:
        return "No option changed: the what-if equals today's estimate. Pick at least one option."
    return "What if: " + "; ".join(changes) + "."


def what_if_table(diff: pd.DataFrame) -> pd.DataFrame:
    """Per line item: today, what-if and the change, as dollars text."""
    return pd.DataFrame(
        {
            "item": diff["item"],
            "today": diff["baseline_micros"].map(usd),
            "what_if": diff["scenario_micros"].map(usd),
            "change": diff["delta_micros"].map(usd_change),
        }
    )


def breakdown(grouped: pd.DataFrame) -> pd.DataFrame:
    """A cost rollup as the page's table: names and days (ids stay in the CSV), quantities, and dollars as
    numbers (so the table sorts), from cents allocated so that the rows add up to the shown total."""
    names = [c for c in grouped.columns if not (c.endswith("_id") or c.endswith("_micros") or c in QUANTITIES)]
    shown = grouped[names].copy()
    # What it costs first (net, then by line item), then how it is made up, then the quantities priced.
    for column in [c for c in MONEY_ORDER if c in grouped.columns]:
        shown[column.removesuffix("_micros") + "_usd"] = allocate_cents(grouped[column].to_numpy()) / 100
    for column in [c for c in QUANTITIES if c in grouped.columns]:
        shown[column] = grouped[column]
    return shown


def unshown_notes(data: CostOverview) -> list[str]:
    """The estimate's notes the forecast caption has not said already."""
    said = set(data.forecast.notes) if data.forecast is not None else set()
    return [note for note in data.notes if note not in said]


def csv_name(first: date, last: date, group: str) -> str:
    return f"mux-costs-{first}-{last}-by-{group}.csv"

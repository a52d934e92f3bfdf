"""The costs page's view model over a real overview priced from the demo warehouse, and literal frames."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from core.costs.money import usd, usd_change
from core.costs.period import Period
from core.costs.pricebook import load_pricebook
from core.costs.whatif import Levers
from dashboard.definitions import COST_COLUMNS
from dashboard.platform_db import BudgetAlert
from dashboard.views import costs as view
from dashboard.views.display import VALUE_PX, Metric, card_width, cards_per_row, cost_metric
from tests.costs.demo import build_demo, write_warehouse
from warehouse.costs import CostOverview, cost_overview
from warehouse.reader import WarehouseReader

TODAY = date(2026, 11, 25)
FIRST, LAST = date(2026, 11, 1), TODAY


@pytest.fixture(scope="module")
def overview(tmp_path_factory: pytest.TempPathFactory) -> CostOverview:
    path = write_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb", build_demo(TODAY))
    reader = WarehouseReader(path)
    try:
        with reader.connect() as con:
            return cost_overview(
                con, load_pricebook(), today=TODAY, period=Period.inclusive(FIRST, LAST), budget_usd=1.0
            )
    finally:
        reader.close()


def test_kpis_show_every_figure_in_dollars(overview: CostOverview) -> None:
    cards = {m.label: m for m in view.kpis(overview, FIRST, LAST)}
    assert list(cards) == ["Month to date", "Last month", "Projected month end", "Selected period"]
    mtd = cards["Month to date"]
    assert mtd.value == usd(overview.month_to_date_micros) and mtd.value.startswith("$")
    change = overview.month_to_date_micros - overview.last_month_same_days_micros
    assert mtd.delta == usd_change(change) and mtd.delta[0] in "+-"
    assert mtd.delta_color == "inverse"  # spending more is bad news
    assert mtd.delta_description == "vs last month" and "same days" in (mtd.help or "")
    assert cards["Last month"].value == usd(overview.last_month_micros)
    assert overview.forecast is not None
    current = overview.forecast.months[overview.forecast.months["is_current"]].iloc[0]
    projected = cards["Projected month end"]
    assert projected.value == usd(int(current["p50_micros"]))
    assert projected.help == f"Band {usd(int(current['low_micros']))} to {usd(int(current['high_micros']))}."
    assert cards["Selected period"].value == usd(overview.estimate.total_micros)
    assert cards["Selected period"].help == "2026-11-01 to 2026-11-25"


def test_without_a_forecast_there_is_no_projection_and_no_budget_warning(overview: CostOverview) -> None:
    bare = replace(overview, forecast=None)
    assert [m.label for m in view.kpis(bare, FIRST, LAST)] == ["Month to date", "Last month", "Selected period"]
    assert view.budget_warning(None) is None


def test_budget_warning_names_the_months_over_budget(overview: CostOverview) -> None:
    assert overview.forecast is not None
    months = ", ".join(f"{m:%Y-%m}" for m in overview.forecast.crossings()["month"])
    assert months  # the demo spends far more than $1 a month
    assert view.budget_warning(overview.forecast) == f"Projected over the $1.00 monthly budget in {months}."
    assert view.budget_warning(replace(overview.forecast, budget_micros=None)) is None


def test_usage_and_the_pricing_caption(overview: CostOverview) -> None:
    assert view.has_usage(overview)
    book = load_pricebook()
    caption = view.pricing_caption(book)
    assert caption.startswith(f"Estimated from Mux usage at list prices ({book.version}, effective {book.effective})")
    assert "negotiated" not in caption
    assert "1 negotiated overrides" in view.pricing_caption(book.with_overrides({"delivery.plus.1080p": "0.0008"}))


def test_what_if_table_shows_dollars_per_item() -> None:
    diff = pd.DataFrame(
        {
            "item": ["encoding", "total"],
            "baseline_micros": [1_234_567_890, 5_000],
            "scenario_micros": [0, 15_000],
            "delta_micros": [-1_234_567_890, 10_000],
        }
    )
    shown = view.what_if_table(diff)
    assert shown.to_dict("records") == [
        {"item": "encoding", "today": "$1,234.57", "what_if": "$0.00", "change": "-$1,234.57"},
        {"item": "total", "today": "$0.01", "what_if": "$0.02", "change": "+$0.01"},
    ]


@pytest.mark.parametrize(
    ("change", "delta", "colour", "arrow"),
    [
        (1_530_000, "+$1.53", "inverse", "auto"),  # spending more: red
        (-250_000, "-$0.25", "inverse", "auto"),  # spending less: green
        (0, "no change", "off", "off"),  # never "↑ $0.00" in red
        (4_999, "no change", "off", "off"),  # less than half a cent rounds to no change
        (-4_999, "no change", "off", "off"),
    ],
)
def test_a_cost_change_is_coloured_by_what_it_means(change: int, delta: str, colour: str, arrow: str) -> None:
    card = cost_metric("Month to date", 12_000_000, change_micros=change, compared_with="vs last month")
    assert (card.value, card.delta, card.delta_color, card.delta_arrow) == ("$12.00", delta, colour, arrow)
    assert card.delta_description == "vs last month"
    assert cost_metric("Last month", 0).delta is None


@pytest.mark.parametrize(
    ("chosen", "summary"),
    [
        (Levers(), "No option changed: the what-if equals today's estimate. Pick at least one option."),
        (Levers(video_quality="premium"), "What if: every video at premium quality."),
        (
            Levers(max_resolution="720p", video_quality="plus", delete_unwatched_days=30, migrate_s3=True),
            "What if: every video at plus quality; resolution capped at 720p; lessons unplayed for 30+ days "
            "deleted; the remaining S3 lessons moved to Mux.",
        ),
    ],
)
def test_the_what_if_note_says_the_options_chosen(chosen: Levers, summary: str) -> None:
    assert view.what_if_summary(chosen) == summary


def test_the_breakdown_table_has_names_and_dollars_that_add_up() -> None:
    grouped = pd.DataFrame(
        {
            "course_id": [1, 2, 3],
            "course_title": ["A", "B", "C"],
            "net_micros": [1_004_000, 1_004_000, 1_004_000],  # 3 x $1.004 = $3.012: shown $1.00 + $1.01 + $1.00
            "stored_min_months": [1.0, 2.0, 3.0],
        }
    )
    shown = view.breakdown(grouped)
    assert list(shown.columns) == ["course_title", "net_usd", "stored_min_months"]
    assert round(shown["net_usd"].sum(), 2) == 3.01
    assert all(column in COST_COLUMNS for column in shown.columns)


def test_form_answers_become_levers() -> None:
    assert view.levers(view.NO_CAP, view.AS_TODAY, 0, False) == Levers()
    assert view.levers("720p", "basic", 30, True) == Levers(
        max_resolution="720p", video_quality="basic", delete_unwatched_days=30, migrate_s3=True
    )


def test_critical_alerts_are_errors_the_rest_warnings() -> None:
    since = datetime(2026, 11, 3, 8, 5, tzinfo=UTC)
    assert view.alert_message(BudgetAlert("critical", "Over by $3.", since)) == (
        "error",
        "Budget alert since 2026-11-03 08:05 UTC: Over by $3.",
    )
    assert view.alert_message(BudgetAlert("warning", "Close.", since))[0] == "warning"


def test_csv_name_says_the_period_and_grouping() -> None:
    assert view.csv_name(FIRST, LAST, "course") == "mux-costs-2026-11-01-2026-11-25-by-course.csv"


def test_an_empty_period_has_usage_while_the_month_has(overview: CostOverview) -> None:
    empty = replace(overview, estimate=overview.estimate.subset(Period(date(2000, 1, 1), date(2000, 1, 2))))
    assert view.has_usage(empty)  # the month to date still counts
    assert not view.has_usage(replace(empty, month_to_date_micros=0))


def test_kpi_rows_hold_only_the_cards_that_fit_at_1024_px() -> None:
    short = [Metric(label, "$4.58") for label in ("Done", "Failed", "Rate", "Workers", "Last month")]
    assert cards_per_row(short) == 5  # short labels and values: one row
    six = [Metric("Avg view duration", "2:05", help="h") for _ in range(6)]
    assert cards_per_row(six) == 3  # two rows of three, not five and one
    wide = [Metric("Month to date", "$12,345.67", help="h"), *[Metric("Last month", "$1.00")] * 4]
    assert cards_per_row(wide) == 2 and card_width(wide[0]) == 10 * VALUE_PX  # the long value decides
    assert cards_per_row([]) == 1

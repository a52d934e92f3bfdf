"""`lectern costs`: the admin cost report, the price book, and the budget forecast from the terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from core.costs.money import usd
from core.costs.pricebook import pricebook_from_settings
from core.costs.report import parse_report_params, present, report_csv, report_payload, rollup, summary
from lectern.commands._settings import settings_or_exit

app = typer.Typer(help="Estimated Mux costs: report, price book, forecast.", no_args_is_help=True)
console = Console()
FORMATS = ("table", "csv", "json")


@app.command("report")
def report(
    first: str = typer.Option(None, "--from", help="First day (ISO, inclusive); default: 1st of this month."),
    last: str = typer.Option(None, "--to", help="Last day (ISO, inclusive); default: today."),
    group_by: str = typer.Option("course", "--group-by", help="course, teacher, lesson, day or month."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """Estimated Mux costs for a period, grouped (cents add up to the total)."""
    from warehouse.costs import estimate_period
    from warehouse.reader import reader_for

    settings = settings_or_exit()
    today = datetime.now(UTC).date()
    params = parse_report_params(
        first, last, group_by, fmt, today=today, max_days=settings.cost_report_max_days, formats=FORMATS
    )
    book = pricebook_from_settings(settings)
    with reader_for(settings.warehouse_path).connect() as con:
        estimate, attribution = estimate_period(con, params.period, book, today=today)
    if params.format == "csv":
        typer.echo(report_csv(estimate, params.group_by, attribution), nl=False)
        return
    if params.format == "json":
        typer.echo(json.dumps(report_payload(estimate, params.group_by, attribution), indent=2))
        return
    shown = present(rollup(estimate, params.group_by, attribution))
    table = Table(
        *shown.columns,
        title=f"Mux costs {params.period.start} to {params.period.last} by {params.group_by} ({book.version})",
    )
    for row in shown.itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    totals = summary(estimate)
    console.print(
        f"total {usd(totals['net_micros'])} = list price {usd(totals['gross_micros'])} - volume discount "
        f"{usd(totals['volume_micros'])} - free delivery minutes {usd(totals['free_micros'])}"
    )
    for note in estimate.notes:
        console.print(f"note: {note}")


@app.command("prices")
def prices() -> None:
    """The price book in use (with LECTERN_PRICE_OVERRIDES applied), each price with its source and status."""
    book = pricebook_from_settings(settings_or_exit())
    table = Table("key", "value", "unit", "status", "source", title=f"{book.version} (effective {book.effective})")
    for row in book.as_frame().itertuples(index=False):
        table.add_row(row.key, row.value, row.unit, row.status, row.source)
    console.print(table)


@app.command("forecast")
def forecast(
    alert: bool = typer.Option(False, "--alert", help="Write budget alerts to the platform database."),
) -> None:
    """Project this month and the next three; with --alert, record months over LECTERN_MONTHLY_BUDGET_USD."""
    from core.alerts.config import AlertConfig
    from core.alerts.store import evaluate
    from core.container import Lectern
    from core.costs.alerts import KIND, budget_observations
    from core.costs.forecast import forecast_costs, history_from_estimate, history_period
    from warehouse.costs import estimate_period
    from warehouse.reader import reader_for

    settings = settings_or_exit()
    book = pricebook_from_settings(settings)
    today = datetime.now(UTC).date()
    period = history_period(today)
    with reader_for(settings.warehouse_path).connect() as con:
        estimate, _ = estimate_period(con, period, book, today=today)
    result = forecast_costs(
        history_from_estimate(estimate), book, as_of=period.end, budget_usd=settings.monthly_budget_usd
    )
    table = Table("month", "so far", "projected", "band", title="Mux cost forecast")
    for row in result.months.itertuples():
        table.add_row(
            f"{row.month:%Y-%m}",
            usd(row.actual_micros) if row.is_current else "",
            usd(row.p50_micros),
            f"{usd(row.low_micros)} .. {usd(row.high_micros)}",
        )
    console.print(table)
    if settings.monthly_budget_usd is None:
        console.print("no budget set (LECTERN_MONTHLY_BUDGET_USD)")
        return
    over = result.crossings()
    console.print(f"budget {usd(result.budget_micros or 0)}: {len(over)} month(s) projected over")
    if alert:
        # The alert engine's budget rule, by hand: the same alerts the `alerts` sync job keeps.
        with Lectern.from_settings(settings) as lectern, lectern.session_factory.begin() as session:
            outcome = evaluate(
                session, AlertConfig.from_settings(settings), {KIND}, budget_observations(result), now=datetime.now(UTC)
            )
        console.print(f"alerts opened: {', '.join(outcome.opened) or 'none new (already recorded)'}")
        if outcome.resolved:
            console.print(f"alerts resolved: {', '.join(outcome.resolved)}")

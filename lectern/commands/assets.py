"""`lectern assets`: Mux assets no lesson plays (with what they cost a month), and deleting them.

lectern assets orphans              the orphans in the last `assets` sync: why, lesson, since, duration, cost
lectern assets delete ID [--yes]    delete one in Mux (asks first; re-checks nothing uses it; audited)

An operator's tool: it needs the platform database and Mux credentials, and records each delete as
`cli:<os user>` in the audit log.
"""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from core.costs.money import usd
from lectern.commands._settings import settings_or_exit

app = typer.Typer(
    help="Mux assets: orphans no lesson plays, with their monthly cost, and deleting them.", no_args_is_help=True
)
console = Console()
FORMATS = ("table", "json")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at is not None else ""


@app.command("orphans")
def orphans_cmd(fmt: str = typer.Option("table", "--format", help="table or json.")) -> None:
    """Mux assets no lesson plays, costliest first, with their monthly storage cost and the total."""
    from core.container import Lectern
    from lectern.errors import InvalidArgument
    from warehouse.orphans import orphaned_assets
    from warehouse.reader import reader_for

    if fmt not in FORMATS:
        raise InvalidArgument(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    settings = settings_or_exit()
    with Lectern.from_settings(settings) as lectern, reader_for(settings.warehouse_path).connect() as con:
        plan = orphaned_assets(con, lectern.orphans)
    if fmt == "json":
        rows = plan.frame().drop(columns=["monthly_cost"])
        body = {
            "orphans": json.loads(rows.to_json(orient="records", date_format="iso")),
            "total_monthly_micros": plan.total_monthly_micros,
            "pricebook": plan.pricebook_version,
        }
        typer.echo(json.dumps(body, indent=2))
        return
    if not plan.orphans:
        console.print("no orphaned assets: every Mux asset in the last sync is used by a lesson")
        return
    table = Table("asset", "why", "lesson", "since", "duration", "monthly cost", "automatic deletion")
    for o in plan.orphans:
        table.add_row(
            o.asset_id,
            o.why,
            "" if o.lesson_id is None else str(o.lesson_id),
            _when(o.since),
            _duration(o.duration_s),
            usd(o.monthly_micros),
            o.hold or "due",
        )
    console.print(table)
    console.print(
        f"{len(plan.orphans)} orphaned assets, {usd(plan.total_monthly_micros)} a month of storage "
        f"({len(plan.eligible)} due for automatic deletion)",
        highlight=False,
    )
    for note in plan.notes:
        console.print(f"note: {note}", highlight=False)


@app.command("delete")
def delete_cmd(
    asset_id: str = typer.Argument(..., help="The Mux asset id (from `lectern assets orphans`)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a Mux asset no lesson uses (refused while a lesson or a migration needs it; cannot be undone)."""
    from core.audit import cli_actor
    from core.container import Lectern
    from warehouse.orphans import listed, orphaned_assets
    from warehouse.reader import reader_for
    from warehouse.store import WarehouseNotReady

    settings = settings_or_exit()
    with Lectern.from_settings(settings) as lectern:
        known, what = False, "not in the orphan list of the last sync"
        try:
            with reader_for(settings.warehouse_path).connect() as con:
                known = listed(con, asset_id)
                if not yes:
                    orphan = next(
                        (o for o in orphaned_assets(con, lectern.orphans).orphans if o.asset_id == asset_id), None
                    )
                    if orphan is not None:
                        what = f"{orphan.why}, {usd(orphan.monthly_micros)} a month"
        except WarehouseNotReady:
            pass  # no sync yet: Lectern's own records and Mux still decide
        if not yes:
            typer.confirm(f"Delete Mux asset {asset_id} ({what})? Mux cannot undo it.", abort=True)
        result = lectern.orphans.delete(asset_id, actor=cli_actor(), known=known)
    console.print(result.message, highlight=False)

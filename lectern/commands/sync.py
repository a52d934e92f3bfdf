"""`lectern sync`: Mux Data views, delivery usage, asset reconciliation and the platform into the warehouse.

lectern sync --once [--job views]      every job (or the named ones) once, then publish
lectern sync once [--job views]        the same, as a sub-command
lectern sync schedule                  the scheduler in the foreground until Ctrl-C
lectern sync backfill --days 90        views and delivery usage from N days ago, with progress bars
lectern sync status                    the published sync_state table
"""

from __future__ import annotations

import sys
from datetime import timedelta

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from lectern.commands._settings import settings_or_exit

app = typer.Typer(
    help="Sync Mux Data, delivery usage, Mux assets and the platform into the DuckDB warehouse.",
    add_completion=False,
)
console = Console()

# Spelled out rather than imported: sync.runner pulls in DuckDB, and `lectern --help` should stay instant.
JOB_HELP = (
    "Job to run (repeatable): platform, assets, orphan_cleanup, views, delivery_usage, alerts. "
    "Default: all, in that order."
)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TimeElapsedColumn(),
        console=console,
        disable=not sys.stdout.isatty(),
    )


def _run(jobs: list[str] | None, *, days: int | None = None) -> None:
    from lectern.errors import InvalidArgument
    from sync.runner import JOBS, SyncContext, run_jobs

    settings = settings_or_exit()
    chosen = jobs or list(JOBS)
    unknown = [j for j in chosen if j not in JOBS]
    if unknown:
        raise InvalidArgument(f"unknown job {unknown[0]!r}; choose from {', '.join(JOBS)}")
    ctx = SyncContext.from_settings(settings)
    since = ctx.clock() - timedelta(days=days) if days is not None else None
    try:
        with _progress() as bar:
            tasks: dict[str, TaskID] = {}

            def progress(job: str, done: int, total: int, rows: int) -> None:
                if job not in tasks:
                    tasks[job] = bar.add_task(job, total=total or None, rows=0)
                bar.update(tasks[job], completed=done, total=total or None, rows=rows)

            results = run_jobs(ctx, chosen, since=since, progress=progress)
    finally:
        ctx.close()
    table = Table("job", "status", "rows", "new rows", "watermark", "seconds", "error", title="Sync")
    for r in results:
        table.add_row(
            r.job,
            r.status,
            f"{r.rows:,}",
            f"{r.new_rows:,}",
            r.watermark.isoformat() if r.watermark else "",
            f"{r.duration_s:.2f}",
            r.error or "",
        )
    console.print(table)
    # A failed job is a row of the table (with its error), not one error line: the other jobs still ran.
    if any(r.status != "ok" for r in results):
        raise typer.Exit(1)


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Run the jobs once and exit."),
    job: list[str] = typer.Option(None, "--job", "-j", help=JOB_HELP),
) -> None:
    """Sync sub-commands; `lectern sync --once` is short for `lectern sync once`."""
    if ctx.invoked_subcommand is not None:
        return
    if once:
        _run(job)
        return
    console.print(ctx.get_help())
    raise typer.Exit(2)


@app.command("once")
def once_command(job: list[str] = typer.Option(None, "--job", "-j", help=JOB_HELP)) -> None:
    """Run the jobs once, publish the warehouse, print what each did (exit 1 if any failed)."""
    _run(job)


@app.command("backfill")
def backfill(
    days: int = typer.Option(90, min=1, max=3650, help="How many days back to load."),
    job: list[str] = typer.Option(None, "--job", "-j", help="views and/or delivery_usage (default both)."),
) -> None:
    """Load views and delivery usage from N days ago (delivery usage stops at Mux's 90 days)."""
    _run(job or ["views", "delivery_usage"], days=days)


@app.command("schedule")
def schedule() -> None:
    """Run the sync scheduler in the foreground until Ctrl-C (jobs persist in the platform database)."""
    from sync.scheduler import intervals, run_forever

    settings = settings_or_exit()
    every = ", ".join(f"{job} every {seconds}s" for job, seconds in intervals(settings).items())
    console.print(f"sync scheduler running ({every}); Ctrl-C to stop")
    run_forever(settings)


@app.command("status")
def status() -> None:
    """Show each job's watermark, last run and outcome from the published warehouse."""
    from warehouse.queries import sync_status
    from warehouse.reader import open_analyst_connection

    settings = settings_or_exit()
    with open_analyst_connection(settings.warehouse_path) as con:
        df = sync_status(con)
    table = Table(*df.columns, title=f"sync_state ({settings.warehouse_path})")
    for row in df.itertuples(index=False):
        table.add_row(*["" if v is None or v != v else str(v) for v in row])
    console.print(table)

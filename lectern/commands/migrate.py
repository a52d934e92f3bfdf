"""`lectern migrate`: move legacy S3 lesson videos to Mux — plan, start, run workers, watch, fix, clean up.

lectern migrate plan --course 3 --probe     what would move, its size, duration and cost
lectern migrate start --course 3 --run      queue it and work on it here, with progress bars
lectern migrate worker                      a worker process (run as many as you like, anywhere)
lectern migrate status --watch              progress, rate, ETA; failed jobs with Mux's error
lectern migrate pause | resume | cancel | retry
lectern migrate cleanup                     delete S3 objects of verified lessons (asks first)
lectern migrate rollback --lesson 12        back to S3 while the object exists
"""

from __future__ import annotations

import getpass
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.costs.money import usd
from lectern.commands._settings import settings_or_exit

if TYPE_CHECKING:
    from core.container import Lectern
    from core.migration.service import MigrationService

app = typer.Typer(help="Move legacy S3 lesson videos to Mux (resumable, verified, idempotent).", no_args_is_help=True)
console = Console()

LessonOpt = typer.Option(None, "--lesson", help="Lesson id (repeatable).")
CourseOpt = typer.Option(None, "--course", help="Only this course.")
TeacherOpt = typer.Option(None, "--teacher", help="Only this teacher's courses.")


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _context() -> Iterator[tuple[Lectern, MigrationService]]:
    """The container and its MigrationService, closed afterwards."""
    from core.container import Lectern

    with Lectern.from_settings(settings_or_exit()) as lectern:
        yield lectern, lectern.migration


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


# --- plan and start ------------------------------------------------------------------------------


@app.command("plan")
def plan_cmd(
    course: int | None = CourseOpt,
    teacher: int | None = TeacherOpt,
    lesson: list[int] | None = LessonOpt,
    probe: bool = typer.Option(False, "--probe", help="Read each video's duration with ffmpeg (headers only)."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
    limit: int = typer.Option(50, help="Rows shown in the table (0 = all)."),
) -> None:
    """Every legacy S3 lesson video: size, duration, course/teacher, status, and what moving it costs."""
    with _context() as (_, service):
        plan = service.plan(course_id=course, teacher_id=teacher, lesson_ids=lesson or None, probe=probe)
    frame = plan.frame()
    if fmt == "csv":
        typer.echo(frame.to_csv(index=False), nl=False)
        return
    if fmt == "json":
        typer.echo(frame.to_json(orient="records", indent=2))
        return
    table = Table("lesson", "title", "course", "teacher", "key", "size", "duration", "status", title="Migration plan")
    shown = plan.items if limit <= 0 else plan.items[:limit]
    for i in shown:
        duration = i.source_duration_s
        table.add_row(
            str(i.lesson_id),
            i.lesson_title,
            i.course_title,
            i.teacher_name,
            i.key,
            _size(i.size_bytes),
            f"{duration:.1f} s" if duration else "—",
            i.status + (f" ({i.job_error[:60]})" if i.job_error and i.status == "failed" else ""),
        )
    console.print(table)
    if len(shown) < len(plan.items):
        console.print(f"… {len(plan.items) - len(shown)} more (use --limit 0 or --format csv)")
    totals = plan.totals()
    console.print(
        f"{totals['selectable']:,} of {totals['lessons']:,} lessons can move: {_size(int(totals['bytes']))}, "
        f"{totals['minutes']:,.1f} min; {plan.listed_objects:,} objects listed, {plan.orphan_videos:,} videos "
        "no lesson uses"
    )
    if plan.cost is not None:
        console.print(
            f"cost: encoding {usd(plan.cost.encoding_micros)} once, then {usd(plan.cost.monthly_micros)}/month "
            f"(storage {usd(plan.cost.storage_month_micros)}, delivery {usd(plan.cost.delivery_month_micros)})"
        )
        for note in plan.cost.assumptions:
            console.print(f"  assumes {note}", style="dim")
    for note in plan.notes:
        console.print(f"note: {note}")


@app.command("start")
def start_cmd(
    course: int | None = CourseOpt,
    teacher: int | None = TeacherOpt,
    lesson: list[int] | None = LessonOpt,
    probe: bool = typer.Option(False, "--probe", help="Probe durations first (verification compares them)."),
    stream: bool = typer.Option(False, "--stream", help="Stream bytes through Lectern (bucket Mux cannot reach)."),
    run: bool = typer.Option(False, "--run", help="Also work on the jobs here until none is left."),
    concurrency: int | None = typer.Option(None, help="Worker threads with --run (default: the setting)."),
) -> None:
    """Queue the selected lessons (all legacy S3 lessons when nothing is selected)."""
    with _context() as (lectern, service):
        plan = service.plan(course_id=course, teacher_id=teacher, lesson_ids=lesson or None, probe=probe)
        result = service.start(plan, ingest_mode="stream" if stream else None)
        console.print(
            f"queued {result.created} new and {result.requeued} again; {result.skipped} already done or running"
        )
        if run:
            _run_worker(lectern, service, concurrency=concurrency, until_idle=True)


# --- workers and progress ------------------------------------------------------------------------


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not sys.stdout.isatty(),
    )


def _watch(service: Any, done: threading.Event, interval: float = 0.5) -> None:
    """Bars for migrated / failed / in flight, refreshed from the database until `done` is set."""
    with _progress_bar() as bars:
        migrated = bars.add_task("migrated", total=None, detail="")
        flight = bars.add_task("in flight", total=None, detail="")
        while True:
            p = service.progress()
            total = p.total - p.counts.get("cancelled", 0)
            rate = f"{p.rate_per_min:.1f}/min" if p.rate_per_min else "—/min"
            bars.update(
                migrated,
                total=total,
                completed=p.counts["done"],
                detail=f"{rate}  ETA {_eta(p.eta_s)}  failed {p.counts['failed']}" + ("  PAUSED" if p.paused else ""),
            )
            bars.update(flight, total=total, completed=p.in_flight, detail=f"queued {p.counts['queued']}")
            if done.wait(interval):
                break
    _print_status(service.progress())


def _run_worker(lectern: Lectern, service: Any, *, concurrency: int | None, until_idle: bool) -> None:
    worker = lectern.migration_worker(concurrency=concurrency)

    def graceful(signum: int, _frame: Any) -> None:
        console.print("stopping: jobs in hand go back to the queue at their next step…")
        worker.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, graceful)
    finished = threading.Event()
    watcher = threading.Thread(target=_watch, args=(service, finished), daemon=True)
    watcher.start()
    try:
        stats = worker.run(until_idle=until_idle)
    finally:
        finished.set()
        watcher.join()
        worker.close()
    console.print(
        f"worker {worker.process_id}: {stats.done} done, {stats.failed} failed, {stats.handed_back} handed back, "
        f"{stats.lost} taken over; {worker.counters.s3_bytes_read:,} bytes read from S3 by Lectern"
    )


@app.command("worker")
def worker_cmd(
    concurrency: int | None = typer.Option(None, help="Threads (default LECTERN_MIGRATION_CONCURRENCY)."),
    until_idle: bool = typer.Option(False, "--until-idle", help="Exit when no job is left (or when paused)."),
) -> None:
    """Claim and run migration jobs until stopped (Ctrl-C / SIGTERM hand jobs back cleanly)."""
    with _context() as (lectern, service):
        _run_worker(lectern, service, concurrency=concurrency, until_idle=until_idle)


def _print_status(p: Any) -> None:
    counts = ", ".join(f"{state} {n}" for state, n in p.counts.items() if n)
    console.print(f"{p.total} jobs: {counts or 'none'}")
    rate = f"{p.rate_per_min:.1f} lessons/min" if p.rate_per_min else "no recent finishes"
    console.print(
        f"{rate}, ETA {_eta(p.eta_s)}; {_size(p.bytes_done)} of {_size(p.bytes_total)} migrated; "
        f"{p.live_workers} live worker process(es)"
    )
    if p.paused:
        console.print(f"PAUSED{f': {p.pause_reason}' if p.pause_reason else ''} (lectern migrate resume)")


@app.command("status")
def status_cmd(
    watch: bool = typer.Option(False, "--watch", help="Live progress bars until nothing is left (Ctrl-C stops)."),
    failed: bool = typer.Option(True, "--failed/--no-failed", help="List failed jobs with their error."),
) -> None:
    """Progress, rate and ETA; failed jobs with Mux's error."""
    with _context() as (_, service):
        if watch:
            done = threading.Event()
            watcher = threading.Thread(target=_watch, args=(service, done), daemon=True)
            watcher.start()
            try:
                while service.progress().remaining:
                    time.sleep(1.0)
            except KeyboardInterrupt:
                pass
            done.set()
            watcher.join()
        else:
            _print_status(service.progress())
        if failed:
            jobs = service.store.list(states=["failed"])
            if jobs:
                table = Table("job", "lesson", "attempts", "mode", "asset", "error", title="Failed jobs")
                for j in jobs:
                    table.add_row(
                        str(j.id), str(j.lesson_id), str(j.attempts), j.ingest_mode, j.mux_asset_id or "", j.error or ""
                    )
                console.print(table)
                console.print("retry them with: lectern migrate retry [--stream]")


# --- controls --------------------------------------------------------------------------------------


@app.command("pause")
def pause_cmd(reason: str | None = typer.Option(None, help="Shown with the status.")) -> None:
    """Workers stop taking jobs; jobs in hand go back to the queue at their next step."""
    with _context() as (_, service):
        service.pause(by=_who(), reason=reason)
    console.print("paused: workers hand their jobs back within one heartbeat")


@app.command("resume")
def resume_cmd() -> None:
    """Workers take jobs again."""
    with _context() as (_, service):
        service.resume(by=_who())
    console.print("resumed")


@app.command("cancel")
def cancel_cmd(
    lesson: list[int] | None = LessonOpt,
    job: list[int] | None = typer.Option(None, "--job", help="Job id (repeatable)."),
    all_jobs: bool = typer.Option(False, "--all", help="Cancel every queued or running job."),
) -> None:
    """Cancel queued or running jobs (lessons stay on S3; an asset already made is kept on the job)."""
    if not (lesson or job or all_jobs):
        from lectern.errors import InvalidArgument

        raise InvalidArgument("say which: --lesson, --job or --all")
    with _context() as (_, service):
        n = service.cancel(job_ids=job or None, lesson_ids=lesson or None)
    console.print(f"cancelled {n} jobs")


@app.command("retry")
def retry_cmd(
    lesson: list[int] | None = LessonOpt,
    job: list[int] | None = typer.Option(None, "--job", help="Job id (repeatable)."),
    include_cancelled: bool = typer.Option(False, "--include-cancelled", help="Also cancelled jobs."),
    stream: bool = typer.Option(False, "--stream", help="Retry them streaming through Lectern."),
) -> None:
    """Queue failed jobs again (all of them when nothing is selected)."""
    with _context() as (_, service):
        n = service.retry(
            job_ids=job or None,
            lesson_ids=lesson or None,
            include_cancelled=include_cancelled,
            ingest_mode="stream" if stream else None,
        )
    console.print(f"queued {n} jobs again")


@app.command("cleanup")
def cleanup_cmd(
    lesson: list[int] | None = LessonOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be deleted; delete nothing."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete the S3 objects of migrated, verified lessons (rollback is impossible afterwards)."""
    with _context() as (_, service):
        if not dry_run and not yes:
            preview = service.cleanup(lesson_ids=lesson or None, dry_run=True)
            if not preview.succeeded:
                _print_report(preview)
                return
            typer.confirm(f"Delete {preview.succeeded} S3 objects? Their lessons can no longer roll back.", abort=True)
        report = service.cleanup(lesson_ids=lesson or None, dry_run=dry_run, by=_who())
    _print_report(report)


@app.command("rollback")
def rollback_cmd(
    lesson: list[int] = typer.Option(..., "--lesson", help="Lesson id (repeatable)."),
    keep_asset: bool = typer.Option(False, "--keep-asset", help="Keep the Mux asset (a re-run reuses it)."),
) -> None:
    """Put lessons back on their S3 video (only while the S3 object exists, i.e. before cleanup)."""
    with _context() as (_, service):
        report = service.rollback(lesson, delete_asset=not keep_asset, by=_who())
    _print_report(report)
    # Each refused lesson is a line of the report (with its reason), not one error line.
    if report.refused:
        raise typer.Exit(1)


def _print_report(report: Any) -> None:
    for o in report.outcomes:
        console.print(f"lesson {o.lesson_id}: {'ok' if o.ok else 'refused'}: {o.message}", highlight=False)
    if not report.outcomes:
        console.print("nothing to do")

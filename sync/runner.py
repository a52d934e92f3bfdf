"""Run sync jobs: services from the container (core/container.py), the warehouse writer held, outcomes recorded.

`SyncContext` carries what jobs need (sources, platform engine, writer, clock) so tests and the bench
can hand in fakes. `run_jobs` opens the working warehouse once for the jobs asked for, runs each (a
failing job is recorded in `sync_state` and does not stop the others), and publishes one snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import duckdb
from sqlalchemy import Engine

from core import metrics
from core.alerts.config import AlertConfig
from core.assets.service import OrphanedAssetService
from core.container import Lectern
from core.errors import NotConfigured
from core.logging import get_logger
from core.privacy import pseudonym_secret
from core.settings import Settings
from sync.alerts import run_alerts
from sync.assets import run_assets
from sync.orphan_cleanup import run_orphan_cleanup
from sync.platform import run_platform
from sync.sources import AssetsSource, MuxSources, UsageSource, ViewsSource
from sync.state import JobResult, Progress, transaction, utcnow, write_state
from sync.usage import run_usage
from sync.views import ViewsConfig, run_views
from warehouse.store import WarehouseWriter

if TYPE_CHECKING:
    from core.alerts.notify import AlertNotifier

log = get_logger(__name__)

# Order of a full run: platform first (lessons map assets), then heal and clean up, then Mux data, then the
# alert rules over the fresh views and usage.
JOBS = ("platform", "assets", "orphan_cleanup", "views", "delivery_usage", "alerts")


class SyncConfigError(NotConfigured):
    """A job cannot run with this configuration (e.g. no Mux credentials); the message says what to set."""


@dataclass
class SyncContext:
    settings: Settings
    writer: WarehouseWriter
    views: ViewsSource | None = None
    usage: UsageSource | None = None
    assets: AssetsSource | None = None
    engine: Engine | None = None
    orphans: OrphanedAssetService | None = None
    notifier: AlertNotifier | None = None
    clock: Callable[[], datetime] = utcnow
    _close: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings, *, lectern: Lectern | None = None) -> SyncContext:
        """Jobs' collaborators from `lectern` (its owner closes it), or from a sync container closed with this."""
        ctx = cls(settings=settings, writer=WarehouseWriter.from_settings(settings))
        if lectern is None:
            lectern = Lectern.from_settings(settings, kind="sync")
            ctx._close.append(lectern.close)
        ctx.engine = lectern.engine
        ctx.orphans = lectern.orphans
        ctx.notifier = lectern.alert_notifier
        if lectern.mux is not None:
            sources = MuxSources(lectern.mux, views_page_size=settings.sync_views_page_size)
            ctx._close.append(sources.close)
            ctx.views = ctx.usage = ctx.assets = sources
        return ctx

    def close(self) -> None:
        while self._close:
            self._close.pop()()


T = TypeVar("T")


def _need(value: T | None, what: str) -> T:
    if value is None:
        raise SyncConfigError(f"{what} is not configured (set MUX_TOKEN_ID and MUX_TOKEN_SECRET)")
    return value


def run_one(
    ctx: SyncContext,
    con: duckdb.DuckDBPyConnection,
    job: str,
    *,
    since: datetime | None = None,
    progress: Progress | None = None,
) -> JobResult:
    now = ctx.clock()
    s = ctx.settings
    if job == "views":
        cfg = ViewsConfig(
            overlap_s=s.sync_overlap_s,
            window_s=s.sync_window_s,
            batch_rows=s.sync_batch_rows,
            backfill_days=s.sync_backfill_days,
        )
        return run_views(con, _need(ctx.views, "Mux Data"), now=now, cfg=cfg, since=since, progress=progress)
    if job == "delivery_usage":
        source = _need(ctx.usage, "Mux delivery usage")
        return run_usage(con, source, now=now, backfill_days=s.sync_backfill_days, since=since, progress=progress)
    if job == "platform":
        engine = _need(ctx.engine, "The platform database")
        return run_platform(
            con,
            engine,
            now=now,
            pseudonym_secret=pseudonym_secret(s),
            batch_rows=s.sync_batch_rows,
            progress=progress,
        )
    if job == "assets":
        assets, engine = _need(ctx.assets, "Mux assets"), _need(ctx.engine, "The platform database")
        return run_assets(
            con,
            assets,
            engine,
            now=now,
            progress=progress,
            alerting=AlertConfig.from_settings(s),
            upload_timeout_s=s.upload_timeout_s,
        )
    if job == "orphan_cleanup":
        orphans = _need(ctx.orphans, "Orphaned-asset cleanup")
        return run_orphan_cleanup(con, orphans, now=now, max_per_run=s.orphan_cleanup_max_per_run)
    if job == "alerts":
        engine = _need(ctx.engine, "The platform database")
        return run_alerts(con, engine, s, now=now, jobs=JOBS, notifier=ctx.notifier)
    raise ValueError(f"unknown job {job!r}; choose from {', '.join(JOBS)}")


def run_jobs(
    ctx: SyncContext,
    jobs: Sequence[str] = JOBS,
    *,
    since: datetime | None = None,
    progress: Progress | None = None,
) -> list[JobResult]:
    """Run `jobs` in order under one writer session; failures are recorded, returned, and logged."""
    unknown = [j for j in jobs if j not in JOBS]
    if unknown:
        raise ValueError(f"unknown job {unknown[0]!r}; choose from {', '.join(JOBS)}")
    results: list[JobResult] = []
    with ctx.writer.open() as con:
        for job in jobs:
            started = time.perf_counter()
            try:
                result = run_one(ctx, con, job, since=since, progress=progress)
            except Exception as exc:
                result = JobResult(job, status="error", error=f"{type(exc).__name__}: {exc}")
                result.duration_s = time.perf_counter() - started
                _record_failure(con, result, ctx.clock())
                log.error("sync.job_failed", job=job, error=result.error, duration_s=round(result.duration_s, 3))
            else:
                log.info(
                    "sync.job_done",
                    job=job,
                    rows=result.rows,
                    new_rows=result.new_rows,
                    duration_s=round(result.duration_s, 3),
                )
            metrics.record_sync_job(
                job, status=result.status, duration_s=result.duration_s, rows=result.rows, watermark=result.watermark
            )
            results.append(result)
    return results


def _record_failure(con: duckdb.DuckDBPyConnection, result: JobResult, now: datetime) -> None:
    # The job's own transaction has rolled back; its last committed watermark stays as it was.
    try:
        with transaction(con):
            write_state(
                con, result.job, now=now, status="error", rows=0, error=result.error, duration_s=result.duration_s
            )
    except duckdb.Error as exc:
        log.error("sync.state_write_failed", job=result.job, error=str(exc))

"""APScheduler 3 wiring: one interval job per sync job, persisted in the platform database.

Jobs live in a `SQLAlchemyJobStore` (table `lectern_scheduler_jobs`), so a restarted scheduler keeps
each job's next run time instead of starting every interval over; only a job whose interval changed in
settings is rescheduled. `max_instances=1` and `coalesce=True` mean a job never overlaps itself and a
backlog of missed runs collapses into one. The executor has one thread: jobs take turns on the
warehouse writer anyway (`lectern sync --once` from a shell waits on the same writer lock).
Run one scheduler per deployment (see docs/deployment.md).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.container import Lectern
from core.logging import get_logger
from core.settings import Settings

log = get_logger(__name__)
JOBSTORE_TABLE = "lectern_scheduler_jobs"


# The scheduler process's one container (engines, Mux client), shared by every run: `start` opens it and
# the scheduler's shutdown closes it. A module global because APScheduler stores a job as a reference to
# `scheduled_job` plus pickled arguments, and a container cannot be pickled.
_lectern: Lectern | None = None
_lectern_lock = threading.Lock()


def scheduled_job(job: str) -> None:
    """Entry point APScheduler stores by reference: runs one job on the process's container."""
    from sync.runner import SyncContext, run_jobs

    lectern = _lectern
    if lectern is None:
        raise RuntimeError("scheduled_job runs only in a scheduler made by sync.scheduler.start()")
    ctx = SyncContext.from_settings(lectern.settings, lectern=lectern)
    try:
        run_jobs(ctx, [job])
    finally:
        ctx.close()


def intervals(settings: Settings) -> dict[str, int]:
    return {
        "platform": settings.sync_platform_interval_s,
        "assets": settings.sync_assets_interval_s,
        "orphan_cleanup": settings.sync_orphan_cleanup_interval_s,
        "views": settings.sync_views_interval_s,
        "delivery_usage": settings.sync_usage_interval_s,
        "alerts": settings.sync_alerts_interval_s,
    }


def build_scheduler(settings: Settings) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=settings.database_url, tablename=JOBSTORE_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )


def ensure_jobs(
    scheduler: BackgroundScheduler, settings: Settings, *, func: Callable[[str], None] = scheduled_job
) -> dict[str, str]:
    """Add missing jobs (first run now), keep persisted ones, reschedule those whose interval changed, and
    remove persisted ones that no longer exist (a renamed job, e.g. `cost_alerts`, now `alerts`)."""
    actions: dict[str, str] = {}
    wanted = intervals(settings)
    for stale in scheduler.get_jobs():
        if stale.id.startswith("sync.") and stale.id.removeprefix("sync.") not in wanted:
            scheduler.remove_job(stale.id)
            actions[stale.id.removeprefix("sync.")] = "removed"
    for job, seconds in wanted.items():
        job_id = f"sync.{job}"
        existing = scheduler.get_job(job_id)
        trigger = IntervalTrigger(seconds=seconds, timezone=UTC)
        if existing is None:
            scheduler.add_job(func, trigger, args=[job], id=job_id, name=f"sync {job}", next_run_time=datetime.now(UTC))
            actions[job] = "added"
        elif getattr(existing.trigger, "interval", None) != trigger.interval:
            scheduler.reschedule_job(job_id, trigger=trigger)
            actions[job] = "rescheduled"
        else:
            actions[job] = "kept"
    return actions


def start(settings: Settings, **kwargs: Any) -> BackgroundScheduler:
    """A running scheduler with every sync job in place (paused while the jobs are reconciled).

    Its jobs share one sync container for the scheduler's lifetime; `scheduler.shutdown()` closes it.
    """
    global _lectern
    lectern = Lectern.from_settings(settings, kind="sync")
    with _lectern_lock:
        if _lectern is not None:
            lectern.close()
            raise RuntimeError("a sync scheduler is already running in this process")
        _lectern = lectern

    def release(_event: SchedulerEvent) -> None:
        global _lectern
        with _lectern_lock:
            _lectern = None
        lectern.close()

    scheduler = build_scheduler(settings)
    scheduler.add_listener(release, EVENT_SCHEDULER_SHUTDOWN)
    try:
        scheduler.start(paused=True)
        actions = ensure_jobs(scheduler, settings, **kwargs)
    except BaseException:
        if scheduler.running:
            scheduler.shutdown(wait=False)  # the listener releases the container
        else:
            release(SchedulerEvent(EVENT_SCHEDULER_SHUTDOWN))
        raise
    scheduler.resume()
    log.info("sync.scheduler_started", **actions)
    return scheduler


def run_forever(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Run the scheduler in the foreground until Ctrl-C / SIGTERM (or `stop` is set)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = start(settings)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        # Let a running job finish its transaction and publish; the next start resumes from its watermark.
        scheduler.shutdown(wait=True)
        log.info("sync.scheduler_stopped")

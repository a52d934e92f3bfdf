"""Progress from the player: reports in (planned in `plan`, batched by `batch`, written by `store`), the
student's progress out. `ProgressService` is what the API (and tests) use; the container builds it."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine

from core.progress.batch import GroupCommit, WriterBusy
from core.progress.limit import RateLimiter, TooManyReports
from core.progress.plan import Applied, ProgressEvent, Report, ReportInvalid
from core.progress.store import NotEnrolled, ProgressStore, ProgressUnavailable, ProgressView
from core.settings import Settings

__all__ = [
    "Applied",
    "NotEnrolled",
    "ProgressEvent",
    "ProgressService",
    "ProgressUnavailable",
    "ProgressView",
    "Report",
    "ReportInvalid",
    "TooManyReports",
    "WriterBusy",
]


class ProgressService:
    """Rate limit, group commit and store, per process; `close()` writes what is queued and stops."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        read_engine: Engine | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = ProgressStore(
            engine,
            read_engine=read_engine,
            max_ranges=settings.progress_max_ranges,
            complete_share=settings.progress_complete_share,
            clock=clock,
        )
        self.limiter = RateLimiter(settings.progress_rate_per_min, settings.progress_burst)
        self.writer: GroupCommit[Report, Applied] = GroupCommit(
            self.store.write,
            linger_s=settings.progress_flush_ms / 1000.0,
            max_batch=settings.progress_batch_max,
            max_queue=settings.progress_queue_max,
            writers=settings.progress_writers,
            name="progress-writer",
        )

    async def report(self, report: Report) -> Applied:
        """The report applied and committed (with its batch); its error (401/403/404/422/429/503) otherwise."""
        self.limiter.take(report.user_id)
        return await self.writer.submit(report)

    def report_wait(self, report: Report, timeout_s: float | None = 30.0) -> Applied:
        """`report` for callers on a thread (tests, commands)."""
        self.limiter.take(report.user_id)
        return self.writer.submit_wait(report, timeout_s)

    def progress(self, user_id: int, lesson_id: int) -> ProgressView:
        return self.store.read(user_id, lesson_id)

    def close(self) -> None:
        self.writer.close()

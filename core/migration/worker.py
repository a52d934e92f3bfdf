"""Migration workers: threads that claim jobs and drive each through its states, resumably.

`Lectern.migration_worker().run()` (core/container.py) starts `concurrency` threads
(LECTERN_MIGRATION_CONCURRENCY) and one heartbeat thread. Any number of worker processes may run against
one database (`lectern migrate worker`); the job store's row locks keep them off each other's jobs
(core/migration/jobs.py).

A job resumes from the state it is in, whoever ran it before:
- queued     -> ingesting (committed BEFORE anything is created at Mux)
- ingesting  -> the asset: reuse one this run already made, else create (presigned URL or stream);
                its id is committed together with -> waiting
- waiting    -> poll the asset: ready -> verifying; errored -> failed with Mux's message (or, when Mux
                could not fetch the presigned URL, once more as a streamed upload)
- verifying  -> checks, then the lesson switch and -> done in one transaction (core/migration/verify.py)

Pause (the flag in `migration_control`) and shutdown are honoured at those boundaries and between polls:
the job is handed back (`release`) in its current state, and the next claimant carries on from there.
A worker that dies simply stops heartbeating; after LECTERN_MIGRATION_STALE_AFTER_S its jobs are claimable.

`hook(point, job)` is called at each boundary (`CRASH_POINTS`); tests raise from it, or `os._exit`, to
kill a worker exactly there.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core import metrics
from core.db.models import IngestMode, MigrationState
from core.errors import LecternError, MuxNotFound, PermanentError, TransientError
from core.logging import get_logger
from core.migration.errors import IngestFailed, LeaseLost, LessonChanged
from core.migration.ingest import Ingestor, TransferCounters, looks_unreachable
from core.migration.jobs import ACTIVE, JobStore, JobView
from core.migration.lessons import LessonSnapshot, load_lesson, same_object
from core.migration.pacing import PacedMux
from core.migration.probe import probe_duration
from core.migration.verify import Verifier, fail_job, switch_lesson
from core.mux.models import Asset
from core.mux.service import MuxService
from core.playback import PlaybackService
from core.retry import DEFAULT_POLICY
from core.settings import Settings
from core.storage import StorageService

log = get_logger(__name__)

S = MigrationState
CRASH_POINTS = (
    "claimed",
    "ingesting",
    "upload_created",
    "chunk_sent",
    "asset_created",
    "waiting",
    "verifying",
    "verified",
    "switched",
)
Hook = Callable[[str, JobView], None]
# Job counts by state for the metrics: a few queries, so not on every heartbeat (scrapes come every 15-60 s).
JOB_COUNTS_EVERY_S = 15.0


class _HandBack(Exception):
    """Pause or shutdown: release the job where it is."""


class _Abandon(BaseException):
    """Another thread of this worker crashed: stop touching the database, like a dead process would."""


@dataclass
class WorkerStats:
    claimed: int = 0
    done: int = 0
    failed: int = 0
    handed_back: int = 0
    lost: int = 0
    transient_errors: int = 0
    paused_polls: int = 0  # times a thread found the migration paused and did not claim

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def utcnow() -> datetime:
    return datetime.now(UTC)


class MigrationWorker:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        mux: MuxService,
        storage: StorageService,
        *,
        playback: PlaybackService,
        concurrency: int | None = None,
        hook: Hook | None = None,
        prober: Callable[[str], float | None] = probe_duration,
        counters: TransferCounters | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.storage = storage
        self.concurrency = concurrency or settings.migration_concurrency
        self.hook = hook
        self.clock = clock
        self.store = JobStore(session_factory, stale_after_s=settings.migration_stale_after_s, clock=clock)
        self.mux = PacedMux(
            mux, create_per_s=settings.migration_mux_create_per_s, read_per_s=settings.migration_mux_read_per_s
        )
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=settings.mux_request_timeout_s)
        self.counters = counters or TransferCounters()
        self.ingestor = Ingestor(settings, self.mux, storage, self.store, counters=self.counters, http=self.http)
        self.verifier = Verifier(
            settings,
            self.mux,
            playback,
            http=self.http,
            presign=lambda key: storage.presign_get(key, ttl_s=600),
            prober=prober,
            sleep=self._interruptible_sleep,
        )
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stats = WorkerStats()
        self._held: dict[str, int] = {}
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._dead = threading.Event()
        self._beat_stop = threading.Event()
        self._paused = False
        self._crash: BaseException | None = None
        self._jobs_counted_at = -JOB_COUNTS_EVERY_S

    # --- lifecycle ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish at the next boundary: held jobs are handed back in their state, nothing is lost."""
        self._stop.set()

    def close(self) -> None:
        self.ingestor.close()
        if self._own_http:
            self.http.close()

    def run(self, *, until_idle: bool = False) -> WorkerStats:
        """Work until stopped; with `until_idle`, until no job is active anywhere (or the migration is paused)."""
        log.info("migration.worker_started", worker=self.process_id, concurrency=self.concurrency)
        self._paused = self.store.paused()
        metrics.migration_worker_running(True)
        self._count_jobs(force=True)
        beat = threading.Thread(target=self._heartbeat_loop, name="migration-heartbeat", daemon=True)
        beat.start()
        threads = [
            threading.Thread(target=self._thread_main, args=(until_idle,), name=f"migration-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self._beat_stop.set()
        beat.join()
        metrics.migration_worker_running(False)
        self._count_jobs(force=True)
        log.info("migration.worker_stopped", worker=self.process_id, **self.stats.as_dict())
        if self._crash is not None:
            raise self._crash
        return self.stats

    def _thread_main(self, until_idle: bool) -> None:
        try:
            self._loop(until_idle)
        except _Abandon:
            pass
        except BaseException as exc:  # a crash (simulated by a test hook, or a bug): die like a process would
            self._crash = exc
            self._dead.set()
            self._stop.set()

    def _idle_wait(self) -> None:
        self._stop.wait(min(self.settings.migration_poll_s, 1.0))

    def _loop(self, until_idle: bool) -> None:
        outage = 0
        while not self._stop.is_set():
            lease = f"{self.process_id}:{uuid.uuid4().hex[:8]}"
            try:
                paused = self.store.paused()
                job = None if paused else self.store.claim(lease)
                idle = job is None and not paused and until_idle and self.store.active_count() == 0
            except SQLAlchemyError as exc:
                # The database is away (restart, failover): wait and try again rather than let the worker die.
                outage += 1
                log.warning("migration.database_unavailable", worker=self.process_id, error=str(exc)[:300])
                self._stop.wait(DEFAULT_POLICY.backoff(min(outage, 6)))
                continue
            outage = 0
            if paused:
                self._count("paused_polls")
                if until_idle:
                    return
                self._idle_wait()
                continue
            if job is None:
                if idle:
                    return
                self._idle_wait()
                continue
            with self._lock:
                self._held[lease] = job.id
                self.stats.claimed += 1
            try:
                self._process(job, lease)
            finally:
                with self._lock:
                    self._held.pop(lease, None)
                    self._lost.discard(lease)

    def _heartbeat_loop(self) -> None:
        while not self._beat_stop.wait(self.settings.migration_heartbeat_s):
            if self._dead.is_set():
                return
            with self._lock:
                leases = list(self._held)
            try:
                alive = self.store.heartbeat(leases)
                self._paused = self.store.paused()
            except Exception as exc:  # a database hiccup must not kill the heartbeat; the next beat retries
                log.warning("migration.heartbeat_failed", worker=self.process_id, error=str(exc))
                continue
            with self._lock:
                self._lost |= {lease for lease in leases if lease not in alive and lease in self._held}
            self._count_jobs()

    def _count_jobs(self, *, force: bool = False) -> None:
        """Job counts by state into the metrics (core/metrics.py), at most every JOB_COUNTS_EVERY_S."""
        now = time.monotonic()
        if not force and now - self._jobs_counted_at < JOB_COUNTS_EVERY_S:
            return
        self._jobs_counted_at = now
        try:
            metrics.set_migration_jobs(self.store.progress().counts)
        except SQLAlchemyError as exc:  # the metric keeps its last value; the next beat tries again
            log.warning("migration.job_count_failed", worker=self.process_id, error=str(exc)[:300])

    # --- per job -----------------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)
        metrics.count_migration_job(name)

    def _process(self, job: JobView, lease: str) -> None:
        run = _JobRun(self, job, lease)
        try:
            run.run()
            self._count("done")
        except LeaseLost as exc:
            log.info("migration.lease_lost", job_id=job.id, error=str(exc))
            self._count("lost")
        except _HandBack:
            if self.store.release(run.job, lease):
                self._count("handed_back")
        except TransientError as exc:
            self._count("transient_errors")
            self._after_trouble(run, lease, f"temporary failure: {exc.message}")
        except PermanentError as exc:
            self._fail(run, lease, exc.message)
        except (_Abandon, KeyboardInterrupt, SystemExit):
            raise
        except SQLAlchemyError as exc:
            # Our own database failed mid-job: leave the job as it is; once its heartbeat is stale, any
            # worker (this one included) resumes it from its last committed state.
            log.warning("migration.database_error", job_id=job.id, error=str(exc)[:300])
            self._count("transient_errors")
        except Exception as exc:  # a bug: keep the job (it retries up to the cap) and say what happened
            log.exception("migration.unexpected_error", job_id=job.id, error=str(exc))
            self._after_trouble(run, lease, f"unexpected error: {type(exc).__name__}: {exc}")

    def _fail(self, run: _JobRun, lease: str, error: str) -> None:
        try:
            fail_job(self.session_factory, self.store, run.job, lease, error, run.job.mux_asset_id, clock=self.clock)
            self._count("failed")
        except LeaseLost:
            self._count("lost")
        except SQLAlchemyError as exc:  # the job stays held until stale, then is resumed and fails again
            log.warning("migration.database_error", job_id=run.job.id, error=str(exc)[:300])

    def _after_trouble(self, run: _JobRun, lease: str, error: str) -> None:
        if run.job.attempts >= self.settings.migration_max_attempts:
            self._fail(run, lease, f"gave up after {run.job.attempts} attempts; last error: {error}")
            return
        try:
            self.store.release(run.job, lease, error=error, counts_as_attempt=True)
        except SQLAlchemyError as exc:
            log.warning("migration.database_error", job_id=run.job.id, error=str(exc)[:300])
        # Back off before this thread claims again, so a Mux/S3 outage is not hammered.
        self._stop.wait(DEFAULT_POLICY.backoff(run.job.attempts))

    def _interruptible_sleep(self, seconds: float) -> None:
        """Only ever called inside a job run: a shutdown hands the job back instead of waiting on."""
        self._stop.wait(seconds)
        if self._dead.is_set():
            raise _Abandon
        if self._stop.is_set():
            raise _HandBack


class _JobRun:
    """One claim of one job, from its current state to done/failed (or handed back)."""

    def __init__(self, worker: MigrationWorker, job: JobView, lease: str) -> None:
        self.w = worker
        self.job = job
        self.lease = lease
        self.store = worker.store
        self.settings = worker.settings

    # JobContext for the ingestor
    def hook(self, point: str) -> None:
        if self.w._dead.is_set():
            raise _Abandon
        if self.w.hook is not None:
            self.w.hook(point, self.job)

    def sleep(self, seconds: float) -> None:
        self.w._interruptible_sleep(seconds)
        self._check_lease()

    def _check_lease(self) -> None:
        with self.w._lock:
            lost = self.lease in self.w._lost
        if lost:
            raise LeaseLost(self.job.id, self.lease)

    def checkpoint(self) -> None:
        """A state boundary: stop here for a dead worker, a lost lease, a pause or a shutdown."""
        if self.w._dead.is_set():
            raise _Abandon
        self._check_lease()
        if self.w._stop.is_set() or self.w._paused:
            raise _HandBack

    def _lesson(self) -> LessonSnapshot:
        lesson = load_lesson(self.w.session_factory, self.job.lesson_id)
        if lesson is None:
            raise LessonChanged("the lesson was deleted")
        if not same_object(lesson.video_url, self.job.s3_key, self.w.storage.bucket):
            raise LessonChanged(f"the lesson's S3 video is now {lesson.video_url!r}, not {self.job.s3_key!r}")
        return lesson

    def run(self) -> None:
        self.hook("claimed")
        if self.job.attempts > self.settings.migration_max_attempts:
            last = f"; last error: {self.job.error}" if self.job.error else ""
            raise IngestFailed(f"gave up after {self.job.attempts - 1} attempts (workers died or failed){last}")
        resumed = self.job.state == S.ingesting
        lesson = self._lesson()
        while self.job.state in ACTIVE:
            self.checkpoint()
            state = self.job.state
            if state == S.queued:
                self.job = self.store.transition(self.job, self.lease, S.ingesting.value, error=None)
                self.hook("ingesting")
            elif state == S.ingesting:
                self.job = self.w.ingestor.ingest(self.job, self.lease, lesson, self, resumed=resumed)
                resumed = False
                self.hook("waiting")
            elif state == S.waiting:
                self._wait_ready()
            elif state == S.verifying:
                self._verify_and_switch()

    def _wait_ready(self) -> None:
        asset_id = self.job.mux_asset_id or ""
        deadline = (self.job.updated_at or self.w.clock()) + timedelta(seconds=self.settings.migration_ready_timeout_s)
        while True:
            try:
                asset = self.w.mux.get_asset(asset_id)
            except MuxNotFound:
                raise IngestFailed(f"asset {asset_id} was deleted in Mux before it was ready; retry") from None
            if asset.status == "ready":
                self.job = self.store.transition(self.job, self.lease, S.verifying.value)
                self.hook("verifying")
                return
            if asset.status == "errored":
                self._errored(asset)
                return
            if self.w.clock() > deadline:
                raise IngestFailed(
                    f"asset {asset_id} not ready after {self.settings.migration_ready_timeout_s:g} s "
                    "(LECTERN_MIGRATION_READY_TIMEOUT_S)"
                )
            self.checkpoint()
            self.sleep(self.settings.migration_poll_s)

    def _errored(self, asset: Asset) -> None:
        message = "; ".join(asset.error_messages) or asset.error_type or "no message"
        fallback = (
            self.job.ingest_mode == IngestMode.url
            and self.settings.migration_auto_stream_fallback
            and looks_unreachable(message)
        )
        if not fallback:
            raise IngestFailed(f"Mux could not process the video: {message}")
        self.job = self.store.transition(
            self.job,
            self.lease,
            S.ingesting.value,
            ingest_mode=IngestMode.stream.value,
            mux_asset_id=None,
            mux_upload_id=None,
            error=f"Mux could not fetch the presigned URL ({message}); streaming it through Lectern instead",
        )
        log.warning("migration.stream_fallback", job_id=self.job.id, asset_id=asset.id, error=message)
        try:
            self.w.mux.delete_asset(asset.id)  # an errored asset is useless; keep the account tidy
        except LecternError as exc:
            log.warning("migration.errored_asset_not_deleted", asset_id=asset.id, error=exc.message)

    def _verify_and_switch(self) -> None:
        asset_id = self.job.mux_asset_id or ""
        try:
            asset = self.w.mux.get_asset(asset_id)
        except MuxNotFound:
            raise IngestFailed(f"asset {asset_id} was deleted in Mux before the switch; retry") from None
        lesson = self._lesson()
        verified = self.w.verifier.verify(self.job, asset, lesson)
        self.hook("verified")
        self.checkpoint()
        self.job = switch_lesson(
            self.w.session_factory,
            self.store,
            self.job,
            self.lease,
            asset,
            verified,
            bucket=self.w.storage.bucket,
            clock=self.w.clock,
        )
        self.hook("switched")

"""The migration job store: enqueue, claim with row locks, heartbeats, fenced transitions, admin controls.

One row per lesson in `migration_jobs`. States:

```
queued -> ingesting -> waiting -> verifying -> done
   \\          \\           \\           \\----> failed   (Mux error, verification failed, gave up)
    \\----------\\-----------\\----------------> cancelled (admin; also a rolled-back lesson)
failed/cancelled -> queued (retry / start again)
```

Claiming. A job is claimable when it is active (queued, ingesting, waiting, verifying) and nobody holds it:
`worker_id IS NULL`, or its heartbeat is older than `stale_after_s` (its worker died). One statement
claims one row and stamps it with a fresh lease (`worker_id`), the time and `attempts + 1`:
- PostgreSQL: `UPDATE ... WHERE id = (SELECT id ... FOR UPDATE SKIP LOCKED LIMIT 1) AND <claimable>
  RETURNING ...` — concurrent claimers skip each other's locked row instead of queueing on it.
- SQLite: the same UPDATE without the lock clause. SQLite runs one writer at a time, so the sub-select
  and the update happen atomically under the database write lock, and the repeated `<claimable>`
  condition makes a claim of an already-claimed row update nothing (no row returned = no claim).

Fencing. Every later write by a worker names its lease (`WHERE id = ? AND worker_id = ? AND state IN
(...)`); if the job was cancelled or reclaimed meanwhile, nothing matches and the worker gets `LeaseLost`
and stops. Heartbeats refresh `heartbeat_at` for every lease a worker process holds, in one statement.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import IngestMode, MigrationControl, MigrationJob, MigrationState, UTCDateTime, table_of
from core.logging import get_logger
from core.migration.errors import LeaseLost

log = get_logger(__name__)

S = MigrationState
ACTIVE = (S.queued.value, S.ingesting.value, S.waiting.value, S.verifying.value)
IN_FLIGHT = (S.ingesting.value, S.waiting.value, S.verifying.value)
TERMINAL = (S.done.value, S.failed.value, S.cancelled.value)
REQUEUEABLE = (S.failed.value, S.cancelled.value)
JOBS = table_of(MigrationJob)
CONTROL_ROW = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobView:
    """A snapshot of one job row (what a worker carries between fenced writes)."""

    id: int
    lesson_id: int
    s3_key: str
    state: str
    attempts: int
    ingest_mode: str
    source_size_bytes: int | None = None
    source_duration_s: float | None = None
    mux_asset_id: str | None = None
    mux_upload_id: str | None = None
    mux_playback_id: str | None = None
    error: str | None = None
    worker_id: str | None = None
    heartbeat_at: datetime | None = None
    queued_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cleaned_up_at: datetime | None = None
    rolled_back_at: datetime | None = None
    bytes_proxied: int = 0

    @classmethod
    def from_row(cls, row: Any) -> JobView:
        mapping = row._mapping if hasattr(row, "_mapping") else row
        return cls(**{f.name: mapping[f.name] for f in fields(cls) if f.name in mapping})

    @classmethod
    def of(cls, job: MigrationJob) -> JobView:
        return cls(**{f.name: getattr(job, f.name) for f in fields(cls)})


_VIEW_COLUMNS = tuple(JOBS.c[f.name] for f in fields(JobView))


@dataclass(frozen=True)
class EnqueueItem:
    lesson_id: int
    s3_key: str
    size_bytes: int | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class EnqueueResult:
    created: int
    requeued: int
    skipped: int  # already done or in flight


@dataclass(frozen=True)
class Progress:
    counts: dict[str, int]
    paused: bool
    window_s: float
    finished_in_window: int
    rate_per_min: float | None
    eta_s: float | None
    bytes_done: int
    bytes_total: int
    live_workers: int
    pause_reason: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def remaining(self) -> int:
        return sum(self.counts.get(s, 0) for s in ACTIVE)

    @property
    def in_flight(self) -> int:
        return sum(self.counts.get(s, 0) for s in IN_FLIGHT)

    @property
    def finished(self) -> int:
        return sum(self.counts.get(s, 0) for s in TERMINAL)


def _insert(session: Session) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


class JobStore:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        stale_after_s: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session_factory = session_factory
        self.stale_after_s = stale_after_s
        self.clock = clock

    # --- enqueue -----------------------------------------------------------------------------------

    def enqueue(self, items: Iterable[EnqueueItem], *, ingest_mode: str = IngestMode.url.value) -> EnqueueResult:
        """One job per lesson: new lessons get a queued job; failed/cancelled ones are queued again."""
        items = list(items)
        if not items:
            return EnqueueResult(0, 0, 0)
        if ingest_mode not in {m.value for m in IngestMode}:
            raise ValueError(f"ingest_mode must be url or stream, not {ingest_mode!r}")
        now = self.clock()
        created = requeued = 0
        with transaction(self.session_factory) as session:
            insert = _insert(session)
            for item in items:
                row = {
                    "lesson_id": item.lesson_id,
                    "s3_key": item.s3_key,
                    "source_size_bytes": item.size_bytes,
                    "source_duration_s": item.duration_s,
                    "state": S.queued.value,
                    "attempts": 0,
                    "ingest_mode": ingest_mode,
                    "bytes_proxied": 0,
                    "created_at": now,
                    "updated_at": now,
                    "queued_at": now,
                }
                # RETURNING, not rowcount: psycopg may report -1 for a skipped ON CONFLICT row.
                stmt = insert(JOBS).values(**row).on_conflict_do_nothing(index_elements=["lesson_id"])
                if session.execute(stmt.returning(JOBS.c.id)).scalar_one_or_none() is not None:
                    created += 1
                    continue
                again = session.execute(
                    update(JOBS)
                    .where(JOBS.c.lesson_id == item.lesson_id, JOBS.c.state.in_(REQUEUEABLE))
                    .values(
                        state=S.queued.value,
                        s3_key=item.s3_key,
                        source_size_bytes=item.size_bytes,
                        source_duration_s=func.coalesce(item.duration_s, JOBS.c.source_duration_s),
                        ingest_mode=ingest_mode,
                        error=None,
                        worker_id=None,
                        heartbeat_at=None,
                        finished_at=None,
                        rolled_back_at=None,
                        queued_at=now,
                        updated_at=now,
                    )
                    .returning(JOBS.c.id)
                ).scalar_one_or_none()
                requeued += again is not None
        skipped = len(items) - created - requeued
        log.info("migration.enqueued", created=created, requeued=requeued, skipped=skipped, ingest_mode=ingest_mode)
        return EnqueueResult(created, requeued, skipped)

    # --- claiming and fenced writes ----------------------------------------------------------------

    def _claimable(self, now: datetime) -> Any:
        stale = now - timedelta(seconds=self.stale_after_s)
        return and_(
            JOBS.c.state.in_(ACTIVE),
            or_(JOBS.c.worker_id.is_(None), JOBS.c.heartbeat_at.is_(None), JOBS.c.heartbeat_at < stale),
        )

    def claim(self, lease: str) -> JobView | None:
        """Take one claimable job under `lease` (see the module docstring), or None when there is none."""
        now = self.clock()
        with transaction(self.session_factory) as session:
            pick = select(JOBS.c.id).where(self._claimable(now)).order_by(JOBS.c.id).limit(1)
            if session.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            stmt = (
                update(JOBS)
                .where(JOBS.c.id == pick.scalar_subquery(), self._claimable(now))
                .values(
                    worker_id=lease,
                    heartbeat_at=now,
                    attempts=JOBS.c.attempts + 1,
                    started_at=func.coalesce(JOBS.c.started_at, literal(now, UTCDateTime())),
                )
                .returning(*_VIEW_COLUMNS)
            )
            row = session.execute(stmt).first()
        if row is None:
            return None
        job = JobView.from_row(row)
        log.info("migration.claimed", job_id=job.id, lesson_id=job.lesson_id, state=job.state, attempt=job.attempts)
        return job

    def heartbeat(self, leases: Collection[str]) -> set[str]:
        """Refresh the heartbeat of every lease given; returns the leases still held (others were lost)."""
        if not leases:
            return set()
        with transaction(self.session_factory) as session:
            rows = session.execute(
                update(JOBS)
                .where(JOBS.c.worker_id.in_(list(leases)), JOBS.c.state.in_(ACTIVE))
                .values(heartbeat_at=self.clock())
                .returning(JOBS.c.worker_id)
            ).all()
        return {r[0] for r in rows}

    def _fenced(
        self, session: Session, job_id: int, lease: str, from_states: Collection[str], values: dict[str, Any]
    ) -> JobView:
        row = session.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.worker_id == lease, JOBS.c.state.in_(list(from_states)))
            .values(**values)
            .returning(*_VIEW_COLUMNS)
        ).first()
        if row is None:
            raise LeaseLost(job_id, lease)
        return JobView.from_row(row)

    def transition(
        self, job: JobView, lease: str, to_state: str, *, from_states: Collection[str] | None = None, **values: Any
    ) -> JobView:
        """Move a held job to `to_state` (with extra column values) or raise `LeaseLost`."""
        now = self.clock()
        with transaction(self.session_factory) as session:
            moved = self._fenced(
                session,
                job.id,
                lease,
                from_states or (job.state,),
                {"state": to_state, "updated_at": now, "heartbeat_at": now, **values},
            )
        log.info("migration.state", job_id=job.id, lesson_id=job.lesson_id, state=to_state, previous=job.state)
        return moved

    def update(self, job: JobView, lease: str, **values: Any) -> JobView:
        """Change columns of a held job without changing its state (e.g. record an upload id)."""
        with transaction(self.session_factory) as session:
            return self._fenced(session, job.id, lease, (job.state,), {"heartbeat_at": self.clock(), **values})

    def fenced_in(self, session: Session, job: JobView, lease: str, **values: Any) -> JobView:
        """`update` inside the caller's transaction (the lesson switch commits the job with the lesson)."""
        return self._fenced(session, job.id, lease, (job.state,), values)

    def release(self, job: JobView, lease: str, *, error: str | None = None, counts_as_attempt: bool = False) -> bool:
        """Give a held job back (pause, shutdown, transient trouble); it keeps its state and resumes there."""
        values: dict[str, Any] = {"worker_id": None, "heartbeat_at": None, "updated_at": self.clock()}
        if error is not None:
            values["error"] = error[:2000]
        if not counts_as_attempt:
            # A voluntary hand-back is not a try; only claims that ended in trouble count toward the cap.
            values["attempts"] = case((JOBS.c.attempts > 0, JOBS.c.attempts - 1), else_=0)
        try:
            with transaction(self.session_factory) as session:
                self._fenced(session, job.id, lease, ACTIVE, values)
        except LeaseLost:
            return False
        log.info("migration.released", job_id=job.id, state=job.state, error=error)
        return True

    def fail(self, job: JobView, lease: str, error: str, *, session: Session | None = None) -> JobView:
        now = self.clock()
        values = {
            "state": S.failed.value,
            "error": error[:2000],
            "worker_id": None,
            "heartbeat_at": None,
            "finished_at": now,
            "updated_at": now,
        }
        if session is not None:
            failed = self._fenced(session, job.id, lease, ACTIVE, values)
        else:
            with transaction(self.session_factory) as own:
                failed = self._fenced(own, job.id, lease, ACTIVE, values)
        log.warning("migration.failed", job_id=job.id, lesson_id=job.lesson_id, error=error[:500])
        return failed

    def record_orphan_asset(self, job_id: int, asset_id: str) -> bool:
        """After losing a job mid-create: remember the asset on the job if it has none, so a rerun reuses it."""
        with transaction(self.session_factory) as session:
            row = session.execute(
                update(JOBS)
                .where(JOBS.c.id == job_id, JOBS.c.mux_asset_id.is_(None))
                .values(mux_asset_id=asset_id)
                .returning(JOBS.c.id)
            ).first()
        return row is not None

    # --- admin controls ----------------------------------------------------------------------------

    @staticmethod
    def _selection(job_ids: Collection[int] | None, lesson_ids: Collection[int] | None) -> list[Any]:
        where: list[Any] = []
        if job_ids is not None:
            where.append(JOBS.c.id.in_(list(job_ids)))
        if lesson_ids is not None:
            where.append(JOBS.c.lesson_id.in_(list(lesson_ids)))
        return where

    def cancel(self, *, job_ids: Collection[int] | None = None, lesson_ids: Collection[int] | None = None) -> int:
        """Cancel active jobs (all when no selection). A worker holding one notices at its next write."""
        now = self.clock()
        with transaction(self.session_factory) as session:
            rows = session.execute(
                update(JOBS)
                .where(JOBS.c.state.in_(ACTIVE), *self._selection(job_ids, lesson_ids))
                .values(
                    state=S.cancelled.value,
                    worker_id=None,
                    heartbeat_at=None,
                    error="cancelled by an admin",
                    finished_at=now,
                    updated_at=now,
                )
                .returning(JOBS.c.id)
            ).all()
        log.info("migration.cancelled", jobs=len(rows))
        return len(rows)

    def retry(
        self,
        *,
        job_ids: Collection[int] | None = None,
        lesson_ids: Collection[int] | None = None,
        include_cancelled: bool = False,
        ingest_mode: str | None = None,
    ) -> int:
        """Queue failed (and optionally cancelled, not rolled-back) jobs again; all failed when no selection."""
        now = self.clock()
        states = [S.failed.value] + ([S.cancelled.value] if include_cancelled else [])
        values: dict[str, Any] = {
            "state": S.queued.value,
            "worker_id": None,
            "heartbeat_at": None,
            "finished_at": None,
            "queued_at": now,
            "updated_at": now,
        }
        if ingest_mode is not None:
            values["ingest_mode"] = IngestMode(ingest_mode).value
        with transaction(self.session_factory) as session:
            rows = session.execute(
                update(JOBS)
                .where(JOBS.c.state.in_(states), JOBS.c.rolled_back_at.is_(None), *self._selection(job_ids, lesson_ids))
                .values(**values)
                .returning(JOBS.c.id)
            ).all()
        log.info("migration.retried", jobs=len(rows), ingest_mode=ingest_mode)
        return len(rows)

    def control(self) -> MigrationControl | None:
        with self.session_factory() as session:
            return session.get(MigrationControl, CONTROL_ROW)

    def paused(self) -> bool:
        with self.session_factory() as session:
            flag = select(MigrationControl.paused).where(MigrationControl.id == CONTROL_ROW)
            return bool(session.execute(flag).scalar())

    def set_paused(self, paused: bool, *, by: str | None = None, reason: str | None = None) -> None:
        values = {"paused": paused, "reason": reason, "updated_by": by, "updated_at": self.clock()}
        with transaction(self.session_factory) as session:
            stmt = _insert(session)(table_of(MigrationControl)).values(id=CONTROL_ROW, **values)
            session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
        log.info("migration.paused" if paused else "migration.resumed", by=by, reason=reason)

    # --- reading -----------------------------------------------------------------------------------

    def get(self, job_id: int) -> JobView | None:
        with self.session_factory() as session:
            row = session.execute(select(*_VIEW_COLUMNS).where(JOBS.c.id == job_id)).first()
        return JobView.from_row(row) if row is not None else None

    def by_lesson(self, lesson_id: int) -> JobView | None:
        with self.session_factory() as session:
            row = session.execute(select(*_VIEW_COLUMNS).where(JOBS.c.lesson_id == lesson_id)).first()
        return JobView.from_row(row) if row is not None else None

    def list(self, *, states: Sequence[str] | None = None, limit: int | None = None) -> list[JobView]:
        stmt = select(*_VIEW_COLUMNS).order_by(JOBS.c.id)
        if states:
            stmt = stmt.where(JOBS.c.state.in_(list(states)))
        if limit:
            stmt = stmt.limit(limit)
        with self.session_factory() as session:
            return [JobView.from_row(r) for r in session.execute(stmt)]

    def active_count(self) -> int:
        with self.session_factory() as session:
            return int(session.execute(select(func.count()).where(JOBS.c.state.in_(ACTIVE))).scalar_one())

    def progress(self, *, window_s: float = 600.0) -> Progress:
        """Counts by state, the finish rate over the last `window_s` and the ETA it implies."""
        now = self.clock()
        since = now - timedelta(seconds=window_s)
        stale = now - timedelta(seconds=self.stale_after_s)
        with self.session_factory() as session:
            counts = {s.value: 0 for s in MigrationState}
            for state, n in session.execute(select(JOBS.c.state, func.count()).group_by(JOBS.c.state)):
                counts[state] = int(n)
            finished, first_start = session.execute(
                select(func.count(), func.min(JOBS.c.started_at)).where(
                    JOBS.c.finished_at >= since, JOBS.c.state.in_((S.done.value, S.failed.value))
                )
            ).one()
            bytes_done, bytes_total = session.execute(
                select(
                    func.coalesce(func.sum(case((JOBS.c.state == S.done.value, JOBS.c.source_size_bytes), else_=0)), 0),
                    func.coalesce(func.sum(JOBS.c.source_size_bytes), 0),
                ).where(JOBS.c.state != S.cancelled.value)
            ).one()
            holders = session.execute(
                select(JOBS.c.worker_id).where(JOBS.c.worker_id.is_not(None), JOBS.c.heartbeat_at >= stale)
            ).scalars()
            live_workers = len({lease_process(h) for h in holders})
            control = session.get(MigrationControl, CONTROL_ROW)
        rate = None
        if finished:
            # Measure from when the window's work started, so a run younger than the window is not diluted.
            start = max(since, first_start) if first_start is not None else since
            elapsed_min = max((now - start).total_seconds(), 1.0) / 60.0
            rate = finished / elapsed_min
        remaining = sum(counts[s] for s in ACTIVE)
        eta = remaining / rate * 60.0 if rate and remaining else (0.0 if not remaining else None)
        return Progress(
            counts=counts,
            paused=bool(control and control.paused),
            pause_reason=control.reason if control else None,
            window_s=window_s,
            finished_in_window=int(finished or 0),
            rate_per_min=rate,
            eta_s=eta,
            bytes_done=int(bytes_done or 0),
            bytes_total=int(bytes_total or 0),
            live_workers=live_workers,
        )

    def finished_since(self, since: datetime) -> builtins.list[tuple[datetime, str]]:
        """(finished_at, state) of every job that finished (done or failed) since `since`, oldest first."""
        with self.session_factory() as session:
            rows = session.execute(
                select(JOBS.c.finished_at, JOBS.c.state)
                .where(JOBS.c.finished_at >= since, JOBS.c.state.in_((S.done.value, S.failed.value)))
                .order_by(JOBS.c.finished_at)
            ).all()
        return [(r[0], r[1]) for r in rows]


def lease_process(lease: str) -> str:
    """The worker process part of a lease (`host:pid:process-token:claim-token` -> `host:pid:process-token`)."""
    return lease.rsplit(":", 1)[0]

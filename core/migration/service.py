"""`MigrationService`: every admin action on the migration, one call each (the CLI and the dashboard share it).

plan -> start (enqueue) -> workers (core/migration/worker.py) -> cleanup or rollback.

Cleanup deletes a migrated lesson's S3 object, only when the job is done, the lesson still plays the
migrated asset and Mux still says that asset is ready; then it records `cleaned_up_at` and clears the
lesson's legacy `video_url` (the key stays on the job), so nothing points at a deleted object — without
that, a later `video.asset.deleted` webhook would fall back to an S3 video that no longer exists.
Rollback puts a lesson back on its S3 object while that object exists (refused after cleanup), marks the
job cancelled/rolled back, and by default deletes the Mux asset (after the database commit).
Both are audited (`operator_actions`, core/audit.py) under `by` (a dashboard user's email, or `cli:<user>`):
each lesson done in the transaction that does it, the refused ones together afterwards; dry runs are not.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.audit import cli_actor, record_action
from core.db.engine import transaction
from core.db.models import Course, IngestMode, Lesson, MigrationJob, MigrationState, User
from core.errors import Conflict, LecternError, MuxNotFound, NotConfigured, NotFound, StorageUnavailable
from core.logging import get_logger
from core.migration.jobs import EnqueueResult, JobStore, Progress
from core.migration.lessons import put_back_on_s3
from core.mux.service import MuxService
from core.settings import Settings
from core.storage import StorageService, object_key

if TYPE_CHECKING:
    # pandas and the plan load only where used: a worker process (`lectern migrate worker`) needs neither.
    import pandas as pd

    from core.migration.plan import MigrationPlan

log = get_logger(__name__)
S = MigrationState
# operator_actions.action of each audited call.
CLEANUP, ROLLBACK = "migration.cleanup", "migration.rollback"


@dataclass(frozen=True)
class Outcome:
    lesson_id: int
    ok: bool
    message: str


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, lesson_id: int, ok: bool, message: str) -> None:
        self.outcomes.append(Outcome(lesson_id, ok, message))

    @property
    def succeeded(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


@dataclass(frozen=True)
class Snapshot:
    """What the Admin > Migration page draws: progress, the job table and finishes per minute."""

    progress: Progress
    jobs: pd.DataFrame
    timeline: pd.DataFrame


class MigrationService:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        storage: StorageService | None = None,
        mux: MuxService | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.storage = storage
        self.mux = mux
        self.store = JobStore(session_factory, stale_after_s=settings.migration_stale_after_s)

    def _storage(self) -> StorageService:
        if self.storage is None:
            raise NotConfigured("the migration needs S3: set S3_BUCKET, S3_ENDPOINT_URL (if not AWS) and AWS_*")
        return self.storage

    def _mux(self) -> MuxService:
        if self.mux is None:
            raise NotConfigured("the migration needs Mux: set MUX_TOKEN_ID and MUX_TOKEN_SECRET")
        return self.mux

    # --- plan and start ----------------------------------------------------------------------------

    def plan(
        self,
        *,
        course_id: int | None = None,
        teacher_id: int | None = None,
        lesson_ids: Collection[int] | None = None,
        probe: bool = False,
    ) -> MigrationPlan:
        from core.migration.plan import build_plan

        return build_plan(
            self.settings,
            self.session_factory,
            self._storage(),
            course_id=course_id,
            teacher_id=teacher_id,
            lesson_ids=lesson_ids,
            probe=probe,
        )

    def start(
        self, plan: MigrationPlan, *, lesson_ids: Collection[int] | None = None, ingest_mode: str | None = None
    ) -> EnqueueResult:
        """Queue the plan's selectable lessons (all, or those in `lesson_ids`)."""
        mode = IngestMode(ingest_mode or self.settings.migration_ingest_mode).value
        return self.store.enqueue([i.enqueue_item() for i in plan.select(lesson_ids)], ingest_mode=mode)

    # --- controls ----------------------------------------------------------------------------------

    def pause(self, *, by: str | None = None, reason: str | None = None) -> None:
        self.store.set_paused(True, by=by, reason=reason)

    def resume(self, *, by: str | None = None) -> None:
        self.store.set_paused(False, by=by)

    def cancel(self, *, job_ids: Collection[int] | None = None, lesson_ids: Collection[int] | None = None) -> int:
        return self.store.cancel(job_ids=job_ids, lesson_ids=lesson_ids)

    def retry(
        self,
        *,
        job_ids: Collection[int] | None = None,
        lesson_ids: Collection[int] | None = None,
        include_cancelled: bool = False,
        ingest_mode: str | None = None,
    ) -> int:
        return self.store.retry(
            job_ids=job_ids, lesson_ids=lesson_ids, include_cancelled=include_cancelled, ingest_mode=ingest_mode
        )

    def progress(self) -> Progress:
        return self.store.progress()

    # --- reading for the dashboard -----------------------------------------------------------------

    def jobs_frame(self, *, limit: int = 2000) -> pd.DataFrame:
        import pandas as pd

        stmt = (
            select(
                MigrationJob.id.label("job_id"),
                MigrationJob.lesson_id,
                Lesson.title.label("lesson_title"),
                Course.title.label("course_title"),
                User.name.label("teacher_name"),
                MigrationJob.state,
                MigrationJob.attempts,
                MigrationJob.ingest_mode,
                MigrationJob.mux_asset_id,
                MigrationJob.error,
                MigrationJob.source_size_bytes,
                MigrationJob.updated_at,
                MigrationJob.queued_at,
                MigrationJob.started_at,
                MigrationJob.finished_at,
                MigrationJob.cleaned_up_at,
            )
            .join(Lesson, Lesson.id == MigrationJob.lesson_id)
            .join(Course, Course.id == Lesson.course_id)
            .join(User, User.id == Course.teacher_id)
            .order_by(MigrationJob.updated_at.desc(), MigrationJob.id)
            .limit(limit)
        )
        with self.session_factory() as session:
            rows = session.execute(stmt).mappings().all()
        columns = list(stmt.selected_columns.keys())
        return pd.DataFrame([dict(r) for r in rows], columns=columns)

    def timeline(self, *, minutes: int = 60) -> pd.DataFrame:
        """Jobs finished per minute (done, failed) over the last `minutes`, zero-filled."""
        import pandas as pd

        now = datetime.now(UTC).replace(second=0, microsecond=0)
        first = now - timedelta(minutes=minutes - 1)
        index = pd.date_range(first, now, freq="min", tz="UTC")
        frame = pd.DataFrame(0, index=index, columns=[S.done.value, S.failed.value])
        for at, state in self.store.finished_since(first):
            minute = pd.Timestamp(at).floor("min")
            if minute in frame.index:
                frame.loc[minute, state] += 1
        return frame.rename_axis("minute").reset_index()

    def snapshot(self) -> Snapshot:
        return Snapshot(progress=self.progress(), jobs=self.jobs_frame(), timeline=self.timeline())

    # --- cleanup -----------------------------------------------------------------------------------

    def _done_jobs(self, lesson_ids: Collection[int] | None) -> list[MigrationJob]:
        stmt = select(MigrationJob).where(MigrationJob.state == S.done.value, MigrationJob.cleaned_up_at.is_(None))
        if lesson_ids is not None:
            stmt = stmt.where(MigrationJob.lesson_id.in_(list(lesson_ids)))
        with self.session_factory() as session:
            return list(session.execute(stmt.order_by(MigrationJob.id)).scalars())

    def cleanup(
        self, *, lesson_ids: Collection[int] | None = None, dry_run: bool = False, by: str | None = None
    ) -> Report:
        """Delete the S3 objects of verified, migrated lessons (all done ones when no selection)."""
        storage, mux, report = self._storage(), self._mux(), Report()
        for job in self._done_jobs(lesson_ids):
            with self.session_factory() as session:
                lesson = session.get(Lesson, job.lesson_id)
            if lesson is None or lesson.mux_asset_id != job.mux_asset_id or lesson.video_provider != "mux":
                report.add(job.lesson_id, False, "the lesson no longer plays the migrated asset; not deleting")
                continue
            try:
                asset = mux.get_asset(job.mux_asset_id or "")
            except MuxNotFound:
                report.add(job.lesson_id, False, f"Mux asset {job.mux_asset_id} is gone; keeping the S3 object")
                continue
            if asset.status != "ready":
                report.add(job.lesson_id, False, f"Mux asset {asset.id} is {asset.status}; keeping the S3 object")
                continue
            if dry_run:
                report.add(job.lesson_id, True, f"would delete {job.s3_key}")
                continue
            bucket, key = object_key(job.s3_key, storage.bucket)
            try:
                # Delete first, then record: a crash in between leaves a job that the next cleanup finishes
                # (S3 deletes are idempotent) and that rollback refuses (its object is gone).
                storage.client.delete_object(Bucket=bucket, Key=key)
            except (ClientError, BotoCoreError) as exc:
                report.add(job.lesson_id, False, f"S3 refused to delete s3://{bucket}/{key}: {exc}")
                continue
            now = datetime.now(UTC)
            with transaction(self.session_factory) as session:
                row = session.get(MigrationJob, job.id, with_for_update=True)
                lesson = session.get(Lesson, job.lesson_id, with_for_update=True)
                if row is not None:
                    row.cleaned_up_at = now
                    row.updated_at = now
                if lesson is not None and lesson.mux_asset_id == job.mux_asset_id:
                    lesson.video_url = None
                record_action(
                    session,
                    action=CLEANUP,
                    actor=by or cli_actor(),
                    target=f"lesson:{job.lesson_id}",
                    outcome="deleted",
                    detail={"job_id": job.id, "s3_key": job.s3_key, "mux_asset_id": job.mux_asset_id},
                    now=now,
                )
            log.info("migration.cleaned_up", lesson_id=job.lesson_id, key=key, by=by)
            report.add(job.lesson_id, True, f"deleted s3://{bucket}/{key}")
        if not dry_run:
            self._audit_refused(CLEANUP, report, by)
        return report

    # --- rollback ----------------------------------------------------------------------------------

    def rollback(self, lesson_ids: Collection[int], *, delete_asset: bool = True, by: str | None = None) -> Report:
        """Put lessons back on their S3 objects (refused after cleanup, or if the lesson has moved on)."""
        storage, report = self._storage(), Report()
        for lesson_id in lesson_ids:
            try:
                asset_id = self._rollback_one(storage, lesson_id, delete_asset=delete_asset, by=by)
            except (Conflict, NotFound, StorageUnavailable) as exc:
                report.add(lesson_id, False, exc.message)
                continue
            message = f"lesson {lesson_id} plays from S3 again"
            if delete_asset and asset_id:
                try:
                    self._mux().delete_asset(asset_id)
                    message += f"; Mux asset {asset_id} deleted"
                except MuxNotFound:
                    message += f"; Mux asset {asset_id} was already gone"
                except LecternError as exc:
                    message += f"; Mux asset {asset_id} NOT deleted ({exc.message}) — delete it by hand"
            log.info("migration.rolled_back", lesson_id=lesson_id, asset_id=asset_id, by=by)
            report.add(lesson_id, True, message)
        self._audit_refused(ROLLBACK, report, by)
        return report

    def _audit_refused(self, action: str, report: Report, by: str | None) -> None:
        if not report.refused:
            return
        actor = by or cli_actor()
        with transaction(self.session_factory) as session:
            for o in report.refused:
                target = f"lesson:{o.lesson_id}"
                record_action(
                    session, action=action, actor=actor, target=target, outcome="refused", detail={"reason": o.message}
                )

    def _rollback_one(self, storage: StorageService, lesson_id: int, *, delete_asset: bool, by: str | None) -> str:
        job = self.store.by_lesson(lesson_id)
        if job is None or job.state != S.done or job.rolled_back_at is not None:
            raise Conflict(f"lesson {lesson_id} has no completed migration to roll back")
        if job.cleaned_up_at is not None:
            raise Conflict(
                f"lesson {lesson_id}: its S3 object was deleted by cleanup at {job.cleaned_up_at:%Y-%m-%d %H:%M} UTC; "
                "it cannot go back to S3 (upload the video again instead)"
            )
        try:
            storage.head(job.s3_key)
        except NotFound:
            raise Conflict(f"lesson {lesson_id}: S3 object {job.s3_key} no longer exists; cannot roll back") from None
        now = datetime.now(UTC)
        asset_id = job.mux_asset_id or ""
        with transaction(self.session_factory) as session:
            row = session.get(MigrationJob, job.id, with_for_update=True)
            lesson = session.get(Lesson, lesson_id, with_for_update=True)
            if row is None or lesson is None or row.state != S.done:
                raise Conflict(f"lesson {lesson_id} changed while rolling back; try again")
            if lesson.mux_asset_id != row.mux_asset_id:
                raise Conflict(
                    f"lesson {lesson_id} now plays another video ({lesson.mux_asset_id}); not rolling back over it"
                )
            put_back_on_s3(lesson, now)
            row.state = S.cancelled.value
            row.rolled_back_at = now
            row.updated_at = now
            row.mux_playback_id = None
            row.error = f"rolled back to S3{f' by {by}' if by else ''}"
            if delete_asset:
                row.mux_asset_id = None
            record_action(
                session,
                action=ROLLBACK,
                actor=by or cli_actor(),
                target=f"lesson:{lesson_id}",
                outcome="rolled_back",
                detail={
                    "job_id": row.id,
                    "s3_key": row.s3_key,
                    "mux_asset_id": asset_id or None,
                    "delete_asset": delete_asset,
                },
                now=now,
            )
        return asset_id

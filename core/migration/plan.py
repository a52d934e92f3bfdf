"""The migration plan: every legacy S3 lesson video, what it is, whether it can move, and what moving costs.

Legacy lessons are those with a `video_url` and no Mux playback ID. Their keys are matched against the
bucket listing (every page), so the plan shows each video's real size and flags lessons whose object is
missing; objects in other buckets (`s3://other/key`) are looked up one by one. Durations come from the
platform, or — with `probe=True` — from ffmpeg reading each video's header through a presigned URL
(kilobytes per video, in parallel). The cost preview is `core.costs.migration_preview` over the lessons
that can move, at each lesson's platform watch rate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from core.db.models import Course, Lesson, LessonProgress, MigrationJob, MigrationState, User, VideoProvider
from core.errors import LecternError, NotFound
from core.logging import get_logger
from core.migration.jobs import ACTIVE, EnqueueItem
from core.migration.probe import probe_duration
from core.settings import Settings
from core.storage import StorageService, is_video, object_key

log = get_logger(__name__)

READY = "ready"  # can be migrated
IN_PROGRESS = "in_progress"  # a job is queued or running
FAILED = "failed"  # the last job failed (can be started again)
CANCELLED = "cancelled"  # the last job was cancelled or rolled back (can be started again)
MISSING = "missing_object"  # the lesson names an S3 object that does not exist
UPLOAD_PENDING = "upload_pending"  # a teacher's Mux upload for this lesson is under way
SELECTABLE = frozenset({READY, FAILED, CANCELLED})


@dataclass(frozen=True)
class PlanItem:
    lesson_id: int
    lesson_title: str
    course_id: int
    course_title: str
    teacher_id: int
    teacher_name: str
    video_url: str
    bucket: str
    key: str
    status: str
    size_bytes: int | None = None
    duration_s: float | None = None
    probed_duration_s: float | None = None
    playback_policy: str = "public"
    watched_s_per_day: float = 0.0
    job_id: int | None = None
    job_state: str | None = None
    job_error: str | None = None

    @property
    def selectable(self) -> bool:
        return self.status in SELECTABLE

    @property
    def source_duration_s(self) -> float | None:
        return self.probed_duration_s or self.duration_s

    def enqueue_item(self) -> EnqueueItem:
        return EnqueueItem(self.lesson_id, self.video_url, self.size_bytes, self.probed_duration_s)


@dataclass
class MigrationPlan:
    items: list[PlanItem]
    bucket: str
    listed_objects: int = 0
    orphan_videos: int = 0  # video objects in the bucket no lesson points at
    cost: Any = None  # core.costs.MigrationPreview, when core.costs is available
    notes: list[str] = field(default_factory=list)
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def selectable(self) -> list[PlanItem]:
        return [i for i in self.items if i.selectable]

    def select(self, lesson_ids: Collection[int] | None = None) -> list[PlanItem]:
        """Selectable items, all or those with the given lesson ids."""
        chosen = self.selectable
        if lesson_ids is not None:
            wanted = set(lesson_ids)
            chosen = [i for i in chosen if i.lesson_id in wanted]
        return chosen

    def subset(self, *, course_id: int | None = None, teacher_id: int | None = None) -> MigrationPlan:
        """The same plan narrowed to a course and/or teacher (no new S3 listing)."""
        items = [
            i
            for i in self.items
            if (course_id is None or i.course_id == course_id) and (teacher_id is None or i.teacher_id == teacher_id)
        ]
        return replace(self, items=items)

    def cost_of(self, lesson_ids: Collection[int]) -> dict[str, int] | None:
        """Encoding (once) and storage + delivery (monthly) micro-dollars for these lessons, if priced."""
        if self.cost is None:
            return None
        rows = self.cost.lessons[self.cost.lessons["lesson_id"].isin(list(lesson_ids))]
        return {
            "encoding_micros": int(rows["encoding_micros"].sum()),
            "monthly_micros": int(rows["storage_month_micros"].sum() + rows["delivery_month_micros"].sum()),
        }

    def frame(self) -> pd.DataFrame:
        columns = [
            "lesson_id",
            "lesson_title",
            "course_id",
            "course_title",
            "teacher_id",
            "teacher_name",
            "key",
            "status",
            "size_bytes",
            "duration_s",
            "probed_duration_s",
            "playback_policy",
            "watched_s_per_day",
            "job_state",
            "job_error",
        ]
        frame = pd.DataFrame([{c: getattr(i, c) for c in columns} for i in self.items], columns=columns)
        if self.cost is not None and not frame.empty:
            costs = self.cost.lessons[["lesson_id", "encoding_micros", "storage_month_micros", "delivery_month_micros"]]
            frame = frame.merge(costs, on="lesson_id", how="left")
        return frame

    def totals(self) -> dict[str, float]:
        chosen = self.selectable
        return {
            "lessons": len(self.items),
            "selectable": len(chosen),
            "bytes": sum(i.size_bytes or 0 for i in chosen),
            "minutes": sum(i.source_duration_s or 0.0 for i in chosen) / 60.0,
        }


@dataclass(frozen=True)
class _Row:
    lesson: Lesson
    course: Course
    teacher: User


def _legacy_rows(
    session: Session, course_id: int | None, teacher_id: int | None, lesson_ids: Collection[int] | None
) -> list[_Row]:
    stmt = (
        select(Lesson, Course, User)
        .join(Course, Lesson.course_id == Course.id)
        .join(User, Course.teacher_id == User.id)
        .where(
            Lesson.video_url.is_not(None),
            Lesson.video_url != "",
            Lesson.mux_playback_id.is_(None),
            or_(Lesson.video_provider.is_(None), Lesson.video_provider == VideoProvider.s3.value),
        )
        .order_by(Course.id, Lesson.position, Lesson.id)
    )
    if course_id is not None:
        stmt = stmt.where(Lesson.course_id == course_id)
    if teacher_id is not None:
        stmt = stmt.where(Course.teacher_id == teacher_id)
    if lesson_ids is not None:
        stmt = stmt.where(Lesson.id.in_(list(lesson_ids)))
    return [_Row(*r) for r in session.execute(stmt).all()]


def _watch_rates(session: Session, lessons: Iterable[Lesson], now: datetime) -> dict[int, float]:
    """Seconds watched per day since each lesson was created (what delivery on Mux will be priced on)."""
    watched = dict(
        session.execute(
            select(LessonProgress.lesson_id, func.sum(LessonProgress.seconds_watched)).group_by(
                LessonProgress.lesson_id
            )
        ).all()
    )
    rates = {}
    for lesson in lessons:
        age_days = max(1.0, (now - lesson.created_at).total_seconds() / 86400.0) if lesson.created_at else 1.0
        rates[lesson.id] = float(watched.get(lesson.id) or 0.0) / age_days
    return rates


def _status(lesson: Lesson, job: MigrationJob | None, exists: bool) -> str:
    if job is not None and job.state in ACTIVE:
        return IN_PROGRESS
    if lesson.mux_upload_id and lesson.video_status in ("waiting_upload", "processing"):
        return UPLOAD_PENDING
    if not exists:
        return MISSING
    if job is not None and job.state == MigrationState.failed:
        return FAILED
    if job is not None and job.state == MigrationState.cancelled:
        return CANCELLED
    return READY


def build_plan(
    settings: Settings,
    session_factory: sessionmaker[Session],
    storage: StorageService,
    *,
    course_id: int | None = None,
    teacher_id: int | None = None,
    lesson_ids: Collection[int] | None = None,
    probe: bool = False,
    prober: Callable[[str], float | None] = probe_duration,
    page_size: int = 1000,
    with_cost: bool = True,
) -> MigrationPlan:
    now = datetime.now(UTC)
    with session_factory() as session:
        rows = _legacy_rows(session, course_id, teacher_id, lesson_ids)
        jobs = {
            j.lesson_id: j
            for j in session.execute(
                select(MigrationJob).where(MigrationJob.lesson_id.in_([r.lesson.id for r in rows]))
            ).scalars()
        }
        rates = _watch_rates(session, (r.lesson for r in rows), now)
        on_mux_s = session.execute(
            select(func.coalesce(func.sum(Lesson.video_duration_s), 0.0)).where(
                Lesson.video_provider == VideoProvider.mux.value
            )
        ).scalar_one()

    located = {r.lesson.id: object_key(r.lesson.video_url or "", storage.bucket) for r in rows}
    wanted = {key for bucket, key in located.values() if bucket == storage.bucket}
    sizes: dict[tuple[str, str], int] = {}
    listed = orphans = 0
    for page in storage.iter_object_pages(page_size=page_size):
        for obj in page:
            listed += 1
            if obj.key in wanted:
                sizes[(storage.bucket, obj.key)] = obj.size
            elif is_video(obj.key, None):
                orphans += 1
    for bucket, key in set(located.values()):
        if bucket != storage.bucket:
            with contextlib.suppress(NotFound):  # a missing object shows as MISSING in the plan
                sizes[(bucket, key)] = storage.head(f"s3://{bucket}/{key}").size

    items = []
    for r in rows:
        bucket, key = located[r.lesson.id]
        job = jobs.get(r.lesson.id)
        size = sizes.get((bucket, key))
        items.append(
            PlanItem(
                lesson_id=r.lesson.id,
                lesson_title=r.lesson.title,
                course_id=r.course.id,
                course_title=r.course.title,
                teacher_id=r.teacher.id,
                teacher_name=r.teacher.name,
                video_url=r.lesson.video_url or "",
                bucket=bucket,
                key=key,
                status=_status(r.lesson, job, size is not None),
                size_bytes=size,
                duration_s=r.lesson.duration_s,
                playback_policy=r.lesson.playback_policy,
                watched_s_per_day=rates.get(r.lesson.id, 0.0),
                job_id=job.id if job is not None else None,
                job_state=job.state if job is not None else None,
                job_error=job.error if job is not None else None,
            )
        )
    if probe:
        items = _probe_all(items, storage, prober, workers=settings.migration_concurrency)
    plan = MigrationPlan(items=items, bucket=storage.bucket, listed_objects=listed, orphan_videos=orphans)
    if with_cost:
        _add_cost(plan, settings, float(on_mux_s or 0.0))
    missing = sum(i.status == MISSING for i in items)
    if missing:
        plan.notes.append(f"{missing} lessons name S3 objects that do not exist; they cannot be migrated")
    log.info("migration.plan", lessons=len(items), selectable=len(plan.selectable), listed=listed, orphans=orphans)
    return plan


def _probe_all(
    items: list[PlanItem], storage: StorageService, prober: Callable[[str], float | None], *, workers: int
) -> list[PlanItem]:
    def one(item: PlanItem) -> PlanItem:
        if not item.selectable:
            return item
        try:
            url = storage.presign_get(item.video_url, ttl_s=600)
        except LecternError:
            return item
        return replace(item, probed_duration_s=prober(url))

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="migration-probe") as pool:
        return list(pool.map(one, items))


def _add_cost(plan: MigrationPlan, settings: Settings, on_mux_s: float) -> None:
    # Seam: core.costs owns pricing; without it the plan still works, just without a price.
    try:
        from core.costs import CostError, migration_preview, pricebook_from_settings
    except ImportError:
        plan.notes.append("no cost preview: core.costs is not available")
        return
    chosen = plan.selectable
    lessons = pd.DataFrame(
        {
            "lesson_id": [i.lesson_id for i in chosen],
            "duration_s": [i.source_duration_s or 0.0 for i in chosen],
            "watched_s_per_day": [i.watched_s_per_day for i in chosen],
        }
    )
    try:
        plan.cost = migration_preview(
            lessons,
            pricebook_from_settings(settings),
            video_quality=settings.mux_video_quality,
            existing_stored_min=on_mux_s / 60.0,
        )
    except CostError as exc:
        plan.notes.append(f"no cost preview: {exc.message}")
        return
    unknown = sum(1 for i in chosen if not i.source_duration_s)
    if unknown:
        plan.notes.append(f"{unknown} lessons have no known duration and are priced at 0 min; plan with probing")

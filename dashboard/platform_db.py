"""The platform DB as the dashboard reads it: courses and lessons within a user's scope, live video state,
the open budget alerts (Costs page) and the open alerts about a teacher's lessons (My lessons page).

Every function takes a `Scope` and filters in SQL (a teacher's courses only), so an id typed into a widget or
a query parameter outside the scope finds nothing: `lesson_in_scope` returns None for it, whether the lesson
exists or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, false, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.alerts.store import AlertRow, open_alerts
from core.costs.alerts import KIND as BUDGET_ALERT
from core.db.models import Course, Enrollment, Lesson, User, VideoStatus
from core.errors import LecternError
from core.playback import PlaybackService, detect_provider
from core.privacy import student_key, viewer_user_id
from dashboard.auth import Scope
from dashboard.views.display import lesson_label

PROVIDER_LABELS = {"mux": "Mux", "s3": "S3", None: "none"}
STATUS_LABELS = {
    VideoStatus.none.value: "no video",
    VideoStatus.waiting_upload.value: "waiting upload",
    VideoStatus.processing.value: "processing",
    VideoStatus.ready.value: "ready",
    VideoStatus.errored.value: "errored",
}
PENDING = (VideoStatus.waiting_upload.value, VideoStatus.processing.value)
Columns = TypeVarTuple("Columns")


@dataclass(frozen=True)
class CourseRow:
    id: int
    title: str
    teacher_id: int


@dataclass(frozen=True)
class LessonRow:
    id: int
    course_id: int
    course_title: str
    position: int
    title: str
    provider: str | None
    status: str
    error: str | None
    duration_s: float | None
    playback_policy: str
    playback_id: str | None
    status_at: datetime | None
    chapters: list[dict[str, Any]] | None
    thumbnail: str | None = None

    @property
    def label(self) -> str:
        return lesson_label(self.position, self.title)

    @property
    def status_text(self) -> str:
        text = STATUS_LABELS.get(self.status, self.status)
        # Legacy S3 lessons predate the Mux columns: their status is "none" but they play.
        if self.status == VideoStatus.none and self.provider == "s3":
            text = "ready"
        if self.status == VideoStatus.errored and self.error:
            text = f"errored: {self.error}"
        return text

    @property
    def pending(self) -> bool:
        return self.status in PENDING


@dataclass(frozen=True)
class BudgetAlert:
    severity: str
    message: str
    since: datetime
    state: str = "firing"  # or pending: seen, not yet held for the rule's `for` duration
    acknowledged: bool = False


@dataclass(frozen=True)
class BudgetAlerts:
    """The open budget alerts; `unavailable` names the database error when they could not be read."""

    alerts: list[BudgetAlert]
    unavailable: str | None = None


@dataclass(frozen=True)
class ScopedAlerts:
    """Open alerts a user may see (a teacher: about their own lessons); `unavailable` as for budget alerts."""

    alerts: list[AlertRow]
    unavailable: str | None = None


def _scoped(stmt: Select[*Columns], scope: Scope) -> Select[*Columns]:
    if scope.teacher_id is not None:
        return stmt.where(Course.teacher_id == scope.teacher_id)
    if scope.sees_everything:
        return stmt
    return stmt.where(false())  # any other role reads nothing


def courses(factory: sessionmaker[Session], scope: Scope) -> list[CourseRow]:
    stmt = _scoped(select(Course.id, Course.title, Course.teacher_id).order_by(Course.title, Course.id), scope)
    with factory() as session:
        return [CourseRow(*row) for row in session.execute(stmt).all()]


def student_names(
    factory: sessionmaker[Session], scope: Scope, secret: bytes, course_id: int | None = None
) -> dict[int, tuple[str, str]]:
    """Student key -> (name, email) for students enrolled in the scope's courses (the warehouse has no names)."""
    stmt = _scoped(
        select(User.id, User.name, User.email)
        .join(Enrollment, Enrollment.user_id == User.id)
        .join(Course, Course.id == Enrollment.course_id)
        .distinct(),
        scope,
    )
    if course_id is not None:
        stmt = stmt.where(Course.id == course_id)
    with factory() as session:
        return {student_key(secret, row.id): (row.name, row.email) for row in session.execute(stmt)}


def _row(lesson: Lesson, course_title: str, thumbnail: str | None = None) -> LessonRow:
    duration = lesson.video_duration_s if lesson.video_duration_s is not None else lesson.duration_s
    return LessonRow(
        id=lesson.id,
        course_id=lesson.course_id,
        course_title=course_title,
        position=lesson.position,
        title=lesson.title,
        provider=detect_provider(lesson),
        status=lesson.video_status,
        error=lesson.video_error,
        duration_s=duration,
        playback_policy=lesson.playback_policy,
        playback_id=lesson.mux_playback_id,
        status_at=lesson.video_status_at,
        chapters=lesson.chapters,
        thumbnail=thumbnail,
    )


def lessons(
    factory: sessionmaker[Session],
    scope: Scope,
    course_id: int | None = None,
    *,
    playback: PlaybackService | None = None,
) -> list[LessonRow]:
    """Lessons in scope (of one course when given: a course outside the scope gives an empty list).

    With `playback`, Mux lessons carry their thumbnail URL (signed for private lessons; tokens are cached
    per time bucket, so a live refresh hands the browser the same URL and the image does not reload).
    """
    stmt = select(Lesson, Course.title).join(Course, Course.id == Lesson.course_id)
    if course_id is not None:
        stmt = stmt.where(Lesson.course_id == course_id)
    stmt = _scoped(stmt.order_by(Course.title, Lesson.course_id, Lesson.position), scope)
    with factory() as session:
        found = session.execute(stmt).all()
    viewer = viewer_user_id(playback.settings, scope.user_id) if playback is not None else ""
    return [_row(lesson, title, _thumbnail(playback, lesson, viewer)) for lesson, title in found]


def _thumbnail(playback: PlaybackService | None, lesson: Lesson, viewer: str) -> str | None:
    if playback is None or detect_provider(lesson) != "mux":
        return None
    try:
        return playback.playback_for(lesson, viewer_id=viewer).urls.thumbnail
    except LecternError:  # signed lesson without a signing key: no thumbnail rather than no page
        return None


def lesson_in_scope(factory: sessionmaker[Session], scope: Scope, lesson_id: int) -> Lesson | None:
    """The lesson (detached ORM object) when it is in scope; None when outside it or missing."""
    stmt = _scoped(select(Lesson).join(Course, Course.id == Lesson.course_id).where(Lesson.id == lesson_id), scope)
    with factory() as session:
        return session.execute(stmt).scalar_one_or_none()


def lesson_row(factory: sessionmaker[Session], scope: Scope, lesson_id: int) -> LessonRow | None:
    stmt = select(Lesson, Course.title).join(Course, Course.id == Lesson.course_id).where(Lesson.id == lesson_id)
    with factory() as session:
        found = session.execute(_scoped(stmt, scope)).one_or_none()
    return _row(found[0], found[1]) if found is not None else None


def parse_id(value: Any) -> int | None:
    """An id from a query parameter or widget: a positive int, else None (never an exception)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def open_budget_alerts(factory: sessionmaker[Session]) -> BudgetAlerts:
    """Budget alerts the `alerts` sync job keeps open (pending or firing), by month (admins only: not scoped).

    A platform DB that does not answer gives no alerts and the error's name: the costs page still shows
    the estimates, which come from the warehouse.
    """
    try:
        with factory() as session:
            rows = open_alerts(session, kinds=[BUDGET_ALERT])
    except SQLAlchemyError as exc:
        return BudgetAlerts([], unavailable=type(exc).__name__)
    rows = sorted(rows, key=lambda a: a.key)
    return BudgetAlerts(
        [
            BudgetAlert(a.severity, a.message, a.fired_at or a.first_seen_at, a.state, a.acknowledged_at is not None)
            for a in rows
        ]
    )


def scoped_alerts(factory: sessionmaker[Session], scope: Scope, *, limit: int = 100) -> ScopedAlerts:
    """Open alerts in scope: a teacher's are those about their own lessons (`teacher_id = :me` in SQL);
    admins and analysts see every open alert; any other role none."""
    if scope.teacher_id is None and not scope.sees_everything:
        return ScopedAlerts([])
    try:
        with factory() as session:
            rows = open_alerts(session, teacher_id=scope.teacher_id, limit=limit)
    except SQLAlchemyError as exc:
        return ScopedAlerts([], unavailable=type(exc).__name__)
    return ScopedAlerts(rows)

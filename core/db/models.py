"""Platform database models (SQLAlchemy 2).

These describe the schema at Alembic head; the migrations in `core/db/migrations/versions/` are written by
hand so the history stays a real platform's history (legacy schema first, then the Mux columns). A test
checks that these models and the migrated schema agree.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """The Table a model is declared on, for Core statements (insert, update, COPY).

    DeclarativeBase types `__table__` as any FromClause (a class may map a join); every model here maps
    one table, which this checks.
    """
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} maps {table!r}, not a table")
    return table


class Role(enum.StrEnum):
    teacher = "teacher"
    student = "student"
    admin = "admin"
    analyst = "analyst"


class VideoProvider(enum.StrEnum):
    s3 = "s3"
    mux = "mux"


class VideoStatus(enum.StrEnum):
    """Lifecycle of a lesson's video as Lectern tracks it (driven by Mux webhooks)."""

    none = "none"
    waiting_upload = "waiting_upload"
    processing = "processing"
    ready = "ready"
    errored = "errored"


class PlaybackPolicy(enum.StrEnum):
    public = "public"
    signed = "signed"


class MigrationState(enum.StrEnum):
    queued = "queued"
    ingesting = "ingesting"
    waiting = "waiting"
    verifying = "verifying"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class IngestMode(enum.StrEnum):
    """How a migration job's bytes reach Mux: Mux fetches a presigned S3 URL, or Lectern streams them."""

    url = "url"
    stream = "stream"


OPEN = "state <> 'resolved'"


def _enum_check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_enum_check("role", Role), name="ck_users_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # "!" marks an account that cannot sign in to Lectern (students sign in to the platform, not here).
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lesson(Base):
    __tablename__ = "lessons"
    __table_args__ = (
        UniqueConstraint("course_id", "position", name="uq_lessons_course_id_position"),
        CheckConstraint(
            f"video_provider IS NULL OR {_enum_check('video_provider', VideoProvider)}",
            name="ck_lessons_video_provider",
        ),
        CheckConstraint(_enum_check("video_status", VideoStatus), name="ck_lessons_video_status"),
        CheckConstraint(_enum_check("playback_policy", PlaybackPolicy), name="ck_lessons_playback_policy"),
        Index("ix_lessons_mux_asset_id", "mux_asset_id"),
        Index("ix_lessons_video_provider", "video_provider"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    # Legacy platform columns: an S3 object key (or s3:// URL) and the duration the platform recorded.
    video_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    chapters: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Mux columns (revision 0002).
    video_provider: Mapped[str | None] = mapped_column(String(8), default=None)
    mux_upload_id: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    mux_asset_id: Mapped[str | None] = mapped_column(String(64), default=None)
    mux_playback_id: Mapped[str | None] = mapped_column(String(64), default=None)
    playback_policy: Mapped[str] = mapped_column(String(8), default=PlaybackPolicy.public.value)
    video_status: Mapped[str] = mapped_column(String(16), default=VideoStatus.none.value)
    video_duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    video_error: Mapped[str | None] = mapped_column(Text, default=None)
    # When the Mux event behind the current video state happened: a late, older event never wins.
    video_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_enrollments_user_id_course_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LessonProgress(Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress_user_id_lesson_id"),
        CheckConstraint("seconds_watched >= 0", name="ck_lesson_progress_seconds_watched"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    seconds_watched: Mapped[float] = mapped_column(Float, default=0.0)
    furthest_position_s: Mapped[float] = mapped_column(Float, default=0.0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LessonView(Base):
    """One play session (a page view of the player): Lectern's own record of viewing, with the provider
    the lesson had when the session started, so S3 and Mux viewing compare fairly during the cut-over.

    Written only by core/progress/, under the lock of the student's `lesson_watch` row. `watched` is a
    bitmap of the lesson's seconds this session played (bit i = second i); `seconds_watched` is its count.
    """

    __tablename__ = "lesson_views"
    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id", "session_id", name="uq_lesson_views_user_id_lesson_id_session_id"),
        CheckConstraint(
            f"provider IS NULL OR {_enum_check('provider', VideoProvider)}", name="ck_lesson_views_provider"
        ),
        Index("ix_lesson_views_lesson_id_started_at", "lesson_id", "started_at"),
        Index("ix_lesson_views_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(36))  # the player's uuid for the page view
    provider: Mapped[str | None] = mapped_column(String(8), default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when Lectern received its first report
    last_report_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seq: Mapped[int] = mapped_column(Integer)
    position_s: Mapped[float] = mapped_column(Float)  # the position in the report with the highest seq
    furthest_position_s: Mapped[float] = mapped_column(Float)
    seconds_watched: Mapped[float] = mapped_column(Float)
    watched: Mapped[bytes] = mapped_column(LargeBinary)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)  # as the player knew it
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class LessonWatch(Base):
    """A student's watching of one lesson over every session: the seconds ever watched (a bitmap, for
    completion across sessions) and where to resume (the newest session's newest report)."""

    __tablename__ = "lesson_watch"
    __table_args__ = (Index("ix_lesson_watch_lesson_id", "lesson_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True)
    covered: Mapped[bytes] = mapped_column(LargeBinary)
    covered_s: Mapped[float] = mapped_column(Float)
    resume_position_s: Mapped[float] = mapped_column(Float)
    resume_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resume_session_id: Mapped[str | None] = mapped_column(String(36), default=None)
    resume_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEvent(Base):
    """Every Mux webhook event, stored once by its id before it is acted on."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_lesson_id", "lesson_id"),
        Index("ix_webhook_events_outcome_received_at", "outcome", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32), default=None)
    object_id: Mapped[str | None] = mapped_column(String(64), default=None)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), default=None)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # received | applied | stale | unmatched | ignored | failed
    outcome: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class MigrationJob(Base):
    __tablename__ = "migration_jobs"
    __table_args__ = (
        CheckConstraint(_enum_check("state", MigrationState), name="ck_migration_jobs_state"),
        CheckConstraint(_enum_check("ingest_mode", IngestMode), name="ck_migration_jobs_ingest_mode"),
        Index("ix_migration_jobs_state", "state"),
        Index("ix_migration_jobs_worker_id", "worker_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), unique=True)
    s3_key: Mapped[str] = mapped_column(String(1024))
    source_size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    source_duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    state: Mapped[str] = mapped_column(String(16), default=MigrationState.queued.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    mux_asset_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    worker_id: Mapped[str | None] = mapped_column(String(100), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cleaned_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Revision 0004 (S3-to-Mux migration).
    ingest_mode: Mapped[str] = mapped_column(String(8), default=IngestMode.url.value, server_default="url")
    mux_upload_id: Mapped[str | None] = mapped_column(String(64), default=None)
    mux_playback_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # When this run of the job was queued: a Mux asset created before it belongs to an earlier run.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    rolled_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    bytes_proxied: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class MigrationControl(Base):
    """One row (id 1): the pause flag every migration worker process reads before claiming work."""

    __tablename__ = "migration_control"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    updated_by: Mapped[str | None] = mapped_column(String(200), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertState(enum.StrEnum):
    """An alert's lifecycle: `pending` while its condition has held for less than the rule's `for` duration."""

    pending = "pending"
    firing = "firing"
    resolved = "resolved"


class Alert(Base):
    """One occurrence of a condition: opened when first seen, resolved when it clears; a return is a new row."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_enum_check("state", AlertState), name="ck_alerts_state"),
        # One open alert per condition; resolved ones keep the history.
        Index("uq_alerts_key_open", "key", unique=True, sqlite_where=text(OPEN), postgresql_where=text(OPEN)),
        Index("ix_alerts_state", "state"),
        Index("ix_alerts_teacher_id", "teacher_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The condition: rule (`kind`) and subject, e.g. `playback_failure:lesson:42`.
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    message: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Revision 0006 (alert lifecycle).
    state: Mapped[str] = mapped_column(String(16), default=AlertState.pending.value, server_default="firing")
    subject: Mapped[str | None] = mapped_column(String(200), default=None)
    value: Mapped[float | None] = mapped_column(Float, default=None)
    threshold: Mapped[float | None] = mapped_column(Float, default=None)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), default=None)
    silenced_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    silenced_by: Mapped[str | None] = mapped_column(String(200), default=None)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), default=None)
    teacher_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class NotificationEvent(enum.StrEnum):
    fired = "fired"
    resolved = "resolved"


class NotificationStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # gave up after the last retry


class AlertNotification(Base):
    """One delivery of an alert's fire or resolve to one receiver (queued once, retried with backoff)."""

    __tablename__ = "alert_notifications"
    __table_args__ = (
        UniqueConstraint("alert_id", "event", "receiver", name="uq_alert_notifications_alert_id"),
        CheckConstraint(_enum_check("event", NotificationEvent), name="ck_alert_notifications_event"),
        CheckConstraint(_enum_check("status", NotificationStatus), name="ck_alert_notifications_status"),
        Index("ix_alert_notifications_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))
    # A receiver's name, never its URL: a Slack incoming-webhook URL is a secret.
    receiver: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class UploadStatus(enum.StrEnum):
    waiting = "waiting"  # URL handed out, no asset yet
    asset_created = "asset_created"
    ready = "ready"
    errored = "errored"
    timed_out = "timed_out"
    cancelled = "cancelled"


class Upload(Base):
    """Every Mux direct upload Lectern created: a lesson keeps only its latest, this keeps them all."""

    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint(_enum_check("status", UploadStatus), name="ck_uploads_status"),
        Index("ix_uploads_lesson_id", "lesson_id"),
        Index("ix_uploads_created_at", "created_at"),
        Index("ix_uploads_mux_asset_id", "mux_asset_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mux_upload_id: Mapped[str] = mapped_column(String(64), unique=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    status: Mapped[str] = mapped_column(String(16), default=UploadStatus.waiting.value)
    mux_asset_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WebhookRejection(Base):
    """Webhook deliveries answered but not stored, counted per hour and reason (a forged flood is one row)."""

    __tablename__ = "webhook_rejections"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    # duplicate | a signature failure reason | invalid_payload ...
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class OperatorAction(Base):
    """Who did what from the Operations page or the CLI: replays, repairs, deletions, rollbacks."""

    __tablename__ = "operator_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(64))  # e.g. webhook.replay, lesson.repair, asset.delete
    actor: Mapped[str] = mapped_column(String(200))  # a dashboard user's email, or cli:<os user>
    target: Mapped[str] = mapped_column(String(200))  # e.g. webhook:<event id>, lesson:42, asset:<id>
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SignInFailure(Base):
    """One failed (or still running) dashboard sign-in: the throttle counts these per email, address and pair.

    Kept in the platform DB so every dashboard replica sees the same counts and a restart forgets nothing.
    `email` is the normalised address typed in, whether or not an account has it (so throttling says
    nothing about which emails exist). Rows older than the window are deleted as new ones are written.
    """

    __tablename__ = "signin_failures"
    __table_args__ = (
        Index("ix_signin_failures_email_failed_at", "email", "failed_at"),
        Index("ix_signin_failures_address_failed_at", "address", "failed_at"),
        Index("ix_signin_failures_failed_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedQuery(Base):
    """A named SQL workbench query, shared by everyone who may open the workbench (warehouse/sql/).

    Names are unique across authors, so a name says which query a colleague means. Deleting the author
    keeps the query (`author_id` becomes null): it belongs to the team.
    """

    __tablename__ = "saved_queries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    sql: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

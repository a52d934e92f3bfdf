"""What the migration reads about a lesson, and the one rule for "is this lesson still on that S3 object"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from core.db.models import Lesson, VideoProvider, VideoStatus
from core.storage import object_key
from core.webhooks import MIGRATION_EXTERNAL_ID_PREFIX


@dataclass(frozen=True)
class LessonSnapshot:
    id: int
    title: str
    video_url: str | None
    duration_s: float | None
    playback_policy: str
    video_provider: str | None
    video_status: str
    mux_upload_id: str | None
    mux_asset_id: str | None
    mux_playback_id: str | None
    video_status_at: datetime | None

    @classmethod
    def of(cls, lesson: Lesson) -> LessonSnapshot:
        return cls(
            id=lesson.id,
            title=lesson.title,
            video_url=lesson.video_url,
            duration_s=lesson.duration_s,
            playback_policy=lesson.playback_policy,
            video_provider=lesson.video_provider,
            video_status=lesson.video_status,
            mux_upload_id=lesson.mux_upload_id,
            mux_asset_id=lesson.mux_asset_id,
            mux_playback_id=lesson.mux_playback_id,
            video_status_at=lesson.video_status_at,
        )


def load_lesson(session_factory: sessionmaker[Session], lesson_id: int) -> LessonSnapshot | None:
    with session_factory() as session:
        lesson = session.get(Lesson, lesson_id)
        return LessonSnapshot.of(lesson) if lesson is not None else None


def stamp_after_events(lesson: Lesson, now: datetime) -> None:
    """Set `video_status_at` later than any webhook about the lesson's previous asset, so none re-applies."""
    stamp = lesson.video_status_at
    lesson.video_status_at = max(now, stamp) if stamp is not None else now


def put_back_on_s3(lesson: Lesson, now: datetime) -> None:
    """The lesson plays its legacy S3 object again: no Mux ids, ready, the S3 video's duration."""
    lesson.video_provider = VideoProvider.s3.value
    lesson.mux_asset_id = None
    lesson.mux_playback_id = None
    lesson.video_duration_s = lesson.duration_s
    lesson.video_status = VideoStatus.ready.value
    lesson.video_error = None
    stamp_after_events(lesson, now)


def same_object(video_url: str | None, s3_key: str, bucket: str) -> bool:
    """True when the lesson's legacy `video_url` still names the object the job is migrating."""
    if not video_url:
        return False
    return object_key(video_url, bucket) == object_key(s3_key, bucket)


def external_id(lesson_id: int, s3_key: str) -> str:
    """`meta.external_id` of a migrated asset: marks it as ours and says where it came from (max 128 chars).

    The webhook receiver leaves events about such an asset alone until the migration has switched the
    lesson to it (core/webhooks.py, MIGRATION_EXTERNAL_ID_PREFIX).
    """
    return f"{MIGRATION_EXTERNAL_ID_PREFIX}lesson-{lesson_id}:{s3_key}"[:128]


def is_migration_asset_meta(meta: object, lesson_id: int, s3_key: str) -> bool:
    return isinstance(meta, dict) and meta.get("external_id") == external_id(lesson_id, s3_key)

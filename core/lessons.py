"""Lesson video use cases: hand out an upload URL, read the video status, build playback for a viewer.

Each method takes the user id from a verified platform token, loads the lesson with the facts access needs in one
query, checks access (`core.auth`) and then does its work, so API routes only translate HTTP.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core.auth import load_lesson_access, read_lesson_access, require_manage, require_view
from core.db.engine import transaction
from core.db.models import Lesson, VideoStatus
from core.db.records import LessonLike
from core.errors import MuxNotFound, NotConfigured
from core.logging import get_logger
from core.mux.service import MuxService
from core.playback import PlaybackInfo, PlaybackService, detect_provider
from core.privacy import viewer_user_id
from core.uploads import record_upload

log = get_logger(__name__)


@dataclass(frozen=True)
class UploadTicket:
    lesson_id: int
    upload_id: str
    url: str
    expires_at: datetime
    reused: bool


@dataclass(frozen=True)
class LessonStatus:
    lesson_id: int
    status: str
    provider: str | None
    playback_policy: str
    asset_id: str | None
    playback_id: str | None
    upload_id: str | None
    duration_s: float | None
    error: str | None
    updated_at: datetime | None

    @property
    def is_final(self) -> bool:
        return self.status in (VideoStatus.ready, VideoStatus.errored)

    def as_dict(self) -> dict[str, object]:
        return {
            "lesson_id": self.lesson_id,
            "status": self.status,
            "provider": self.provider,
            "playback_policy": self.playback_policy,
            "asset_id": self.asset_id,
            "playback_id": self.playback_id,
            "upload_id": self.upload_id,
            "duration_s": self.duration_s,
            "error": self.error,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def _finite(value: float | None) -> float | None:
    # A row written before webhooks were parsed strictly may hold Infinity/NaN, which is not JSON.
    return value if value is not None and math.isfinite(value) else None


def lesson_status(lesson: LessonLike) -> LessonStatus:
    return LessonStatus(
        lesson_id=lesson.id,
        status=lesson.video_status,
        provider=detect_provider(lesson),
        playback_policy=lesson.playback_policy,
        asset_id=lesson.mux_asset_id,
        playback_id=lesson.mux_playback_id,
        upload_id=lesson.mux_upload_id,
        duration_s=_finite(lesson.video_duration_s if lesson.video_duration_s is not None else lesson.duration_s),
        error=lesson.video_error,
        updated_at=lesson.video_status_at,
    )


def mark_waiting_upload(lesson: Lesson, upload_id: str, at: datetime) -> None:
    """Record a new direct upload; the previous video (if any) keeps playing until the new one is ready."""
    lesson.mux_upload_id = upload_id
    lesson.video_status = VideoStatus.waiting_upload.value
    lesson.video_error = None
    lesson.video_status_at = at


class LessonVideoService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        mux: MuxService | None,
        playback: PlaybackService,
        clock: Callable[[], float] = time.time,
        read_engine: Engine | None = None,
    ) -> None:
        self.session_factory = session_factory
        # Reads on the hot paths (status, playback) skip the Session and use a bare connection, from an
        # AUTOCOMMIT engine when one is given (one round trip per read; see core/container.py).
        self.engine: Engine = read_engine or session_factory.kw["bind"]
        self.mux = mux
        self.playback_service = playback
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def request_upload(self, user_id: int, lesson_id: int, *, origin: str | None = None) -> UploadTicket:
        """A direct-upload URL for the lesson; a still-pending one is returned instead of a second.

        `origin` is the page the browser will send the file from: Mux accepts it from that origin when it is
        one of LECTERN_CORS_ORIGIN's, else from the first of them.
        """
        if self.mux is None:
            raise NotConfigured("uploads need Mux credentials: set MUX_TOKEN_ID and MUX_TOKEN_SECRET")
        allowed = self.mux.settings.cors_origins
        cors_origin = origin if origin in allowed else allowed[0]
        # The row lock (PostgreSQL) makes concurrent requests for one lesson share a single upload.
        with transaction(self.session_factory) as session:
            access = load_lesson_access(session, lesson_id, user_id, for_update=True)
            require_manage(access)
            lesson = access.lesson
            assert isinstance(lesson, Lesson)  # for_update=True gives the session-managed row
            pending = self._pending_upload(lesson, cors_origin)
            if pending is not None:
                return pending
            upload = self.mux.create_direct_upload(
                lesson_id=lesson.id,
                playback_policy=lesson.playback_policy,
                title=lesson.title,
                external_id=f"lesson-{lesson.id}",
                cors_origin=cors_origin,
            )
            now = self._now()
            mark_waiting_upload(lesson, upload.id, now)
            record_upload(session, upload.id, lesson_id=lesson.id, created_by=user_id, now=now)
            log.info(
                "upload.created",
                lesson_id=lesson.id,
                upload_id=upload.id,
                user_id=user_id,
                policy=lesson.playback_policy,
            )
            return UploadTicket(
                lesson_id=lesson.id,
                upload_id=upload.id,
                url=upload.url or "",
                expires_at=now + timedelta(seconds=upload.timeout_s or self.mux.settings.upload_timeout_s),
                reused=False,
            )

    def _pending_upload(self, lesson: Lesson, cors_origin: str) -> UploadTicket | None:
        if lesson.video_status != VideoStatus.waiting_upload or not lesson.mux_upload_id or self.mux is None:
            return None
        try:
            upload = self.mux.get_direct_upload(lesson.mux_upload_id)
        except MuxNotFound:
            return None
        if upload.status != "waiting" or not upload.url:
            return None
        if upload.cors_origin not in (cors_origin, "*"):
            # The browser asking now is at another origin (localhost vs 127.0.0.1): Mux would refuse its file.
            # The old upload is cancelled, not left waiting, and a new one made for this origin.
            self.mux.cancel_direct_upload(upload.id)
            log.info("upload.replaced_for_origin", lesson_id=lesson.id, upload_id=upload.id, origin=cors_origin)
            return None
        started = lesson.video_status_at or self._now()
        timeout = upload.timeout_s or self.mux.settings.upload_timeout_s
        expires_at = started + timedelta(seconds=timeout)
        if expires_at <= self._now():
            return None
        log.info("upload.reused", lesson_id=lesson.id, upload_id=upload.id)
        return UploadTicket(lesson.id, upload.id, upload.url, expires_at, reused=True)

    def status(self, user_id: int, lesson_id: int) -> LessonStatus:
        with self.engine.connect() as conn:
            access = read_lesson_access(conn, lesson_id, user_id)
        require_view(access)
        return lesson_status(access.lesson)

    def read_statuses(self, lesson_ids: list[int]) -> dict[int, LessonStatus]:
        """Several lessons' statuses in one query, without access checks (a stream re-checks access itself)."""
        if not lesson_ids:
            return {}
        with self.session_factory() as session:
            lessons = session.scalars(select(Lesson).where(Lesson.id.in_(lesson_ids)))
            return {lesson.id: lesson_status(lesson) for lesson in lessons}

    def playback(self, user_id: int, lesson_id: int) -> PlaybackInfo:
        with self.engine.connect() as conn:
            access = read_lesson_access(conn, lesson_id, user_id)
        require_view(access)
        # The viewer id goes into signed tokens and the player's Mux Data metadata: the pseudonymous key.
        viewer = viewer_user_id(self.playback_service.settings, user_id)
        return self.playback_service.playback_for(access.lesson, viewer_id=viewer)

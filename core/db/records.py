"""Read-only copies of rows for hot read paths: plain slotted dataclasses, no ORM instrumentation.

Building an ORM `Lesson` costs ~110 us of attribute instrumentation per row (measured on the playback
route), more than the rest of the request's own logic. Code that only reads a lesson takes `LessonLike`.
tests/core/db/test_records.py keeps the fields equal to the table's columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.db.models import Lesson


@dataclass(frozen=True, slots=True)
class LessonRecord:
    id: int
    course_id: int
    position: int
    title: str
    video_url: str | None
    duration_s: float | None
    chapters: list[dict[str, Any]] | None
    created_at: datetime
    video_provider: str | None
    mux_upload_id: str | None
    mux_asset_id: str | None
    mux_playback_id: str | None
    playback_policy: str
    video_status: str
    video_duration_s: float | None
    video_error: str | None
    video_status_at: datetime | None


LessonLike = Lesson | LessonRecord

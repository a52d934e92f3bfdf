"""Read-only copies of rows for hot read paths: plain slotted dataclasses, no ORM instrumentation.

Building an ORM `Lesson` costs ~110 us of attribute instrumentation per row (measured on the playback
route), more than the rest of the request's own logic. Code that only reads a lesson takes `LessonLike`.
tests/core/db/test_records.py keeps the fields equal to the table's columns.
`LessonState` is the smaller read of a lesson's video state that the webhook planner and the asset
reconciliation decide on.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.sql.elements import KeyedColumnElement

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


@dataclass(frozen=True, slots=True)
class LessonState:
    """A lesson's video state: what `core.webhooks.plan_transition` and `sync.reconcile.plan` read."""

    id: int
    video_url: str | None
    playback_policy: str
    video_provider: str | None
    video_status: str
    video_status_at: datetime | None
    video_duration_s: float | None
    mux_upload_id: str | None
    mux_asset_id: str | None
    mux_playback_id: str | None

    @classmethod
    def columns(cls) -> list[KeyedColumnElement[Any]]:
        """The `lessons` columns in field order: `LessonState(*row)` builds one from a row selecting them."""
        return [Lesson.__table__.c[f.name] for f in fields(cls)]

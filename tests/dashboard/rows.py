"""Literal `LessonRow`s for the view-model tests: a ready Mux lesson unless told otherwise."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dashboard.platform_db import LessonRow

_LESSON = LessonRow(
    id=1,
    course_id=1,
    course_title="Course 1",
    position=1,
    title="L1",
    provider="mux",
    status="ready",
    error=None,
    duration_s=None,
    playback_policy="public",
    playback_id=None,
    status_at=None,
    chapters=None,
)


def lesson_row(**fields: Any) -> LessonRow:
    return replace(_LESSON, **fields)

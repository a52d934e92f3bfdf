"""The hot-path read (FastRead + LessonRecord) returns what the ORM returns, on both backends."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core.auth import read_lesson_access
from core.db.engine import transaction
from core.db.fast_read import FastRead
from core.db.models import Lesson, User
from core.db.records import LessonRecord
from core.errors import NotFound, Unauthenticated
from tests.factories import enroll, make_course, make_lesson, make_user


def test_lesson_record_has_exactly_the_columns_of_lessons() -> None:
    assert [f.name for f in fields(LessonRecord)] == [c.key for c in Lesson.__table__.c]


def test_a_lesson_reads_the_same_as_through_the_orm(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    with transaction(session_factory) as s:
        student = make_user(s)
        course = make_course(s)
        lesson = make_lesson(
            s, course=course, title="Ünïcode", video_url="courses/1/a.mp4", duration_s=61.25,
            chapters=[{"title": "Intro", "start": 0}], video_provider="mux", mux_asset_id="as1",
            mux_playback_id="pb1", playback_policy="signed", video_status="ready", video_duration_s=60.5,
            video_error=None, video_status_at=at,
        )  # fmt: skip
        enroll(s, student, course)
        ids = (student.id, lesson.id, course.teacher_id)
    with session_factory() as s:
        orm = s.get(Lesson, ids[1])
        assert orm is not None
        expected = {c.key: getattr(orm, c.key) for c in Lesson.__table__.c}
    with engine.connect() as conn:
        access = read_lesson_access(conn, ids[1], ids[0])
    assert isinstance(access.lesson, LessonRecord)
    assert asdict(access.lesson) == expected
    assert access.lesson.video_status_at == at and access.lesson.created_at.tzinfo is not None
    assert access.enrolled is True and access.teacher_id == ids[2] and access.principal.role == "student"


def test_unknown_lesson_and_unknown_user(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        student, lesson = make_user(s), make_lesson(s)
        ids = (student.id, lesson.id)
    with engine.connect() as conn:
        with pytest.raises(NotFound):
            read_lesson_access(conn, ids[1] + 1000, ids[0])
        with pytest.raises(Unauthenticated):
            read_lesson_access(conn, ids[1], ids[0] + 1000)
        with pytest.raises(Unauthenticated):  # a 401 even when the lesson is unknown too
            read_lesson_access(conn, ids[1] + 1000, ids[0] + 1000)


def test_more_than_one_row_is_an_error(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        make_user(s, role="teacher")
        make_user(s, role="teacher")
    read = FastRead(select(User.id).where(User.role == "teacher"))
    with engine.connect() as conn, pytest.raises(ValueError, match="more than one row"):
        read.one_or_none(conn, {})

"""Shared test factories: small, explicit, reusable by every team.

Each takes a Session, adds and flushes (so ids are set) and returns the object; the caller commits.

    with transaction(session_factory) as s:
        teacher = make_user(s, role="teacher")
        lesson = make_lesson(s, course=make_course(s, teacher=teacher), playback_policy="signed")
        enroll(s, make_user(s), lesson.course_id)
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Course, Enrollment, Lesson, User

_seq = itertools.count(1)


def make_user(session: Session, role: str = "student", **fields: Any) -> User:
    n = next(_seq)
    user = User(
        email=fields.pop("email", f"{role}{n}@example.test"),
        name=fields.pop("name", f"{role.title()} {n}"),
        role=role,
        password_hash=fields.pop("password_hash", "!"),
        **fields,
    )
    session.add(user)
    session.flush()
    return user


def make_course(session: Session, teacher: User | None = None, **fields: Any) -> Course:
    teacher = teacher or make_user(session, role="teacher")
    course = Course(teacher_id=teacher.id, title=fields.pop("title", f"Course {next(_seq)}"), **fields)
    session.add(course)
    session.flush()
    return course


def make_lesson(session: Session, course: Course | None = None, **fields: Any) -> Lesson:
    course = course or make_course(session)
    if "position" not in fields:
        last = session.execute(select(func.max(Lesson.position)).where(Lesson.course_id == course.id)).scalar()
        fields["position"] = (last or 0) + 1
    if fields.get("video_url") and "video_provider" not in fields:
        fields.setdefault("video_provider", "s3")
        fields.setdefault("video_status", "ready")
    lesson = Lesson(course_id=course.id, title=fields.pop("title", f"Lesson {next(_seq)}"), **fields)
    session.add(lesson)
    session.flush()
    return lesson


def enroll(session: Session, user: User, course: Course | int) -> Enrollment:
    course_id = course if isinstance(course, int) else course.id
    enrollment = Enrollment(user_id=user.id, course_id=course_id)
    session.add(enrollment)
    session.flush()
    return enrollment

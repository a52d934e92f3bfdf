"""Course and lesson selectors limited to the user's scope, honouring ?course= and ?lesson= only inside it."""

from __future__ import annotations

from typing import Any, NamedTuple

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from dashboard import platform_db
from dashboard.auth import Scope
from dashboard.platform_db import LessonRow


def pick_course(factory: sessionmaker[Session], scope: Scope, *, key: str, wanted: int | None = None) -> int | None:
    """A course id chosen by the user among their courses (?course= preselects only inside the scope)."""
    courses = platform_db.courses(factory, scope)
    if not courses:
        st.info("No courses yet. Courses are created on the course platform (`lectern seed` builds sample ones).")
        return None
    course_ids = [c.id for c in courses]
    wanted = wanted if wanted is not None else platform_db.parse_id(st.query_params.get("course"))
    titles = {c.id: c.title for c in courses}
    # Options are ids (stable across reruns); labels come from the scoped rows.
    course_id: int = st.selectbox(
        "Course",
        course_ids,
        index=course_ids.index(wanted) if wanted in course_ids else 0,
        format_func=lambda cid: titles[cid],
        key=f"{key}_course",
    )
    return course_id


def pick_lesson(factory: sessionmaker[Session], scope: Scope, *, key: str) -> LessonRow | None:
    """A lesson chosen by the user (None, with a message shown, when there is nothing to choose)."""
    wanted_lesson = platform_db.parse_id(st.query_params.get("lesson"))
    preselected = platform_db.lesson_row(factory, scope, wanted_lesson) if wanted_lesson else None
    if wanted_lesson and preselected is None:
        # Same words whether the lesson exists or not: a query parameter must not reveal other teachers' ids.
        st.warning(f"Lesson {wanted_lesson} is not one of your lessons; pick one below.")
    wanted_course = preselected.course_id if preselected else None
    course_id = pick_course(factory, scope, key=key, wanted=wanted_course)
    if course_id is None:
        return None
    rows = platform_db.lessons(factory, scope, course_id)
    if not rows:
        st.info("This course has no lessons yet.")
        return None
    row_ids = [r.id for r in rows]
    index = row_ids.index(preselected.id) if preselected is not None and preselected.id in row_ids else 0
    by_id = {r.id: r for r in rows}
    lesson_id: int = st.selectbox(
        "Lesson", row_ids, index=index, format_func=lambda lid: by_id[lid].label, key=f"{key}_lesson"
    )
    st.query_params["lesson"] = str(lesson_id)
    return by_id[lesson_id]


def pick_optional(
    where: Any,
    label: str,
    choices: dict[int, str],
    *,
    everything: str,
    key: str,
    wanted: int | None = None,
    disabled: bool = False,
) -> int | None:
    """An id among `choices`, or None for `everything` (preselected: `wanted` when it is one of them).

    `where` is the container to draw in (`st` or a column); the choices come from the user's scope, so a
    query parameter can only preselect inside it.
    """
    options: list[int | None] = [None, *choices]
    picked: int | None = where.selectbox(
        label,
        options,
        index=options.index(wanted) if wanted in choices else 0,
        format_func=lambda i: everything if i is None else choices[i],
        key=key,
        disabled=disabled,
    )
    return picked


class Selection(NamedTuple):
    course_id: int | None  # None: every course in scope
    lesson_id: int | None  # None: every lesson of the selection


def pick_course_and_lesson(
    factory: sessionmaker[Session], scope: Scope, columns: tuple[Any, Any], *, key: str
) -> Selection:
    """Optional course and lesson filters side by side (?course= and ?lesson= preselect inside the scope).

    The lesson filter opens once a course is picked; a ?lesson= outside the picked course's lessons in
    scope is said so, and every lesson is shown.
    """
    courses = {c.id: c.title for c in platform_db.courses(factory, scope)}
    wanted_course = platform_db.parse_id(st.query_params.get("course"))
    course_id = pick_optional(
        columns[0], "Course", courses, everything="All courses", wanted=wanted_course, key=f"{key}_course"
    )
    lessons = platform_db.lessons(factory, scope, course_id) if course_id is not None else []
    labels = {r.id: r.label for r in lessons}
    wanted = platform_db.parse_id(st.query_params.get("lesson"))
    lesson_id = pick_optional(
        columns[1],
        "Lesson",
        labels,
        everything="All lessons",
        wanted=wanted,
        key=f"{key}_lesson",
        disabled=course_id is None,
    )
    if wanted is not None and wanted not in labels and course_id is not None:
        st.warning(f"Lesson {wanted} is not among this course's lessons you can see; showing all lessons.")
    return Selection(course_id, lesson_id)

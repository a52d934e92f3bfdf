"""Course and lesson selectors limited to the user's scope, honouring ?course= and ?lesson= only inside it."""

from __future__ import annotations

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

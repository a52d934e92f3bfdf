"""A teacher never reaches another teacher's courses, lessons or students: not by widget, query parameter,
direct query call, or a cached result — the scope is applied in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.db.engine import make_engine, make_session_factory
from dashboard import analytics, platform_db
from dashboard.auth import Scope
from tests.dashboard.conftest import AppFactory, page_text
from tests.dashboard.world import World

LESSON_PAGES = ["pages/my_lessons.py", "pages/upload.py", "pages/preview.py", "pages/engagement.py"]
B_MARKERS = ("Beta", "pbbetamux", "legacy/beta.mp4")


def shows_nothing_of_b(text: str) -> None:
    for marker in B_MARKERS:
        assert marker not in text, f"teacher B's {marker!r} leaked into teacher A's page"


@pytest.mark.parametrize("page", LESSON_PAGES)
@pytest.mark.parametrize("param", ["lesson", "course"])
def test_query_parameters_never_widen_a_teachers_scope(app: AppFactory, world: World, page: str, param: str) -> None:
    other = world.lessons["b_mux"] if param == "lesson" else world.courses["b"]
    at = app("teacher_a", page=page, **{param: other})
    assert not at.exception
    shows_nothing_of_b(page_text(at))
    if param == "lesson" and page in ("pages/upload.py", "pages/preview.py"):
        assert any("is not one of your lessons" in w.value for w in at.warning)
        # The page fell back to the teacher's own first lesson.
        assert at.selectbox(key=f"{page.split('/')[1][:-3]}_lesson").value == world.lessons["a_mux"]


def test_widgets_only_offer_the_teachers_own_courses_and_lessons(app: AppFactory, world: World) -> None:
    at = app("teacher_a", page="pages/engagement.py")
    assert at.selectbox(key="eng_course").options == ["All courses", "Alpha Python"]
    with pytest.raises((KeyError, ValueError)):  # a value outside the options has no label: refused
        at.selectbox(key="eng_course").set_value(world.courses["b"]).run()


def test_platform_reads_are_scoped_in_sql(world: World) -> None:
    engine = make_engine(world.database_url)
    factory = make_session_factory(engine)
    a = Scope(world.users["teacher_a"], "teacher")
    try:
        assert platform_db.lesson_in_scope(factory, a, world.lessons["b_mux"]) is None
        assert platform_db.lesson_row(factory, a, world.lessons["b_s3"]) is None
        assert platform_db.lessons(factory, a, world.courses["b"]) == []
        assert {c.title for c in platform_db.courses(factory, a)} == {"Alpha Python"}
        admin = Scope(world.users["admin"], "admin")
        assert platform_db.lesson_in_scope(factory, admin, world.lessons["b_mux"]) is not None
        assert platform_db.courses(factory, Scope(world.users["student_login"], "student")) == []
    finally:
        engine.dispose()


def test_warehouse_queries_take_the_teacher_from_the_scope(dashboard_env: World) -> None:
    world = dashboard_env
    a = Scope(world.users["teacher_a"], "teacher")
    today = datetime.now(UTC).date()
    window = {"start": today - timedelta(days=29), "end": today}
    other_course = analytics.query("kpis", a, **window, course_id=world.courses["b"], lesson_id=None)
    assert int(other_course.iloc[0]["views"]) == 0
    assert analytics.query("retention", a, lesson_id=world.lessons["b_mux"], **window).empty
    assert analytics.query("replays", a, lesson_id=world.lessons["b_mux"], **window).empty
    assert analytics.query("funnel", a, course_id=world.courses["b"]).empty
    assert analytics.query("students", a, **window, course_id=world.courses["b"]).empty
    own = analytics.query("lessons", a, **window, course_id=None)
    assert set(own["course_id"]) == {world.courses["a"]}
    # The same query for teacher B right after (a warm cache) returns B's rows, not A's.
    b = Scope(world.users["teacher_b"], "teacher")
    assert set(analytics.query("lessons", b, **window, course_id=None)["course_id"]) == {world.courses["b"]}
    with pytest.raises(ValueError, match="scope"):
        analytics.query("lessons", a, **window, course_id=None, teacher_id=world.users["teacher_b"])
    with pytest.raises(PermissionError):
        analytics.query("students", Scope(world.users["analyst"], "analyst"), **window, course_id=None)


def test_admin_sees_both_teachers_lessons(app: AppFactory, world: World) -> None:
    at = app("admin", page="pages/my_lessons.py", course=world.courses["b"])
    assert "Beta secret Mux lesson" in page_text(at)

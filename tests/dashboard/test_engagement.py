"""The Engagement page shows what the warehouse queries return, for the signed-in user's scope only."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db.engine import make_engine
from core.db.models import Enrollment, User
from core.privacy import student_key
from tests.dashboard.conftest import AppFactory, page_text
from tests.dashboard.world import World
from tests.warehouse.factories import PSEUDONYM_SECRET
from warehouse import engagement, queries
from warehouse.reader import open_analyst_connection

PAGE = "pages/engagement.py"


@pytest.fixture
def con(world: World) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = open_analyst_connection(world.warehouse_path)
    yield connection
    connection.close()


def window() -> dict[str, object]:
    today = datetime.now(UTC).date()
    return {"start": today - timedelta(days=29), "end": today}


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page having `column` (dataframes have no key AppTest can look up)."""
    return next(f.value for f in at.dataframe if column in f.value.columns)


def figure(at: AppTest, title: str) -> go.Figure:
    """The plotly figure whose title contains `title`, decoded from what the page sent."""
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    return next(pio.from_json(s) for s in specs if title in (pio.from_json(s).layout.title.text or ""))


def values(data: object) -> list[float]:
    """A trace's x/y as plain numbers (plotly sends numpy arrays as base64 `{"dtype", "bdata"}`)."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)  # type: ignore[call-overload]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected_metrics(kpi: pd.DataFrame) -> dict[str, str]:
    row = kpi.iloc[0]
    return {
        "Views": f"{row['views']:,.0f}",
        "Unique viewers": f"{row['unique_viewers']:,.0f}",
        "Watch time": f"{row['watch_time_s'] / 3600:,.1f} h",
        "Avg watched (Mux)": f"{row['avg_fraction_watched']:.0%}",
        "Lessons completed": f"{row['completion_rate']:.0%}",
    }


def test_kpis_equal_the_warehouse_query_for_the_teacher(app: AppFactory, world: World, con) -> None:  # type: ignore[no-untyped-def]
    at = app("teacher_a", page=PAGE)
    assert not at.exception
    kpi = queries.engagement_kpis(con, **window(), teacher_id=world.users["teacher_a"])  # type: ignore[arg-type]
    shown = metrics(at)
    assert {k: shown[k] for k in expected_metrics(kpi)} == expected_metrics(kpi)
    assert int(kpi.iloc[0]["views"]) == 80  # the two lessons of teacher A with 40 views each, not B's
    assert all(m.help for m in at.metric), "every KPI has a one-line definition"


def test_admin_sees_every_teacher_and_course_filter_narrows(app: AppFactory, world: World, con) -> None:  # type: ignore[no-untyped-def]
    at = app("admin", page=PAGE)
    kpi = queries.engagement_kpis(con, **window())  # type: ignore[arg-type]
    assert metrics(at)["Views"] == f"{kpi.iloc[0]['views']:,.0f}" == "160"
    at.selectbox(key="eng_course").set_value(world.courses["b"]).run()
    only_b = queries.engagement_kpis(con, **window(), course_id=world.courses["b"])  # type: ignore[arg-type]
    assert metrics(at)["Views"] == f"{only_b.iloc[0]['views']:,.0f}" == "80"


def test_lesson_table_retention_and_charts_match_queries(app: AppFactory, world: World, con) -> None:  # type: ignore[no-untyped-def]
    teacher = world.users["teacher_a"]
    at = app("teacher_a", page=PAGE)
    table = frame_with(at, "view_completion_rate")
    expected = queries.lesson_table(con, **window(), teacher_id=teacher)  # type: ignore[arg-type]
    assert table["views"].tolist() == expected["views"].tolist()
    assert set(table["lesson_title"]) == {world.titles[k] for k in ("a_mux", "a_s3", "a_waiting", "a_errored")}

    assert len(at.get("plotly_chart")) == 4  # trend, retention, quality, providers (funnel needs a course)
    focus = at.selectbox(key="retention_lesson").value
    curve = queries.retention_curve(con, lesson_id=focus, teacher_id=teacher, **window())  # type: ignore[arg-type]
    shown = figure(at, "Audience retention").data[0]
    assert values(shown.x) == curve["pct_of_duration"].tolist()
    assert [round(v, 9) for v in values(shown.y)] == curve["share_still_watching"].round(9).tolist()
    assert "still watching after the first 30 s" in page_text(at)


def test_retention_chart_carries_chapter_titles(app: AppFactory, world: World) -> None:
    at = app("teacher_a", page=PAGE)
    at.selectbox(key="retention_lesson").set_value(world.lessons["a_mux"]).run()
    retention = figure(at, "Audience retention")
    assert [a.text for a in retention.layout.annotations][:2] == ["Introduction", "Worked example"]


def test_funnel_students_quality_and_providers(app: AppFactory, world: World, con) -> None:  # type: ignore[no-untyped-def]
    teacher = world.users["teacher_a"]
    at = app("teacher_a", page=PAGE, course=world.courses["a"])
    assert at.selectbox(key="eng_course").value == world.courses["a"]
    funnel = queries.course_funnel(con, course_id=world.courses["a"], teacher_id=teacher)
    shown_funnel = figure(at, "Course funnel")
    assert values(shown_funnel.data[0].x) == funnel["students_reached"].tolist()
    assert f"({int(funnel['enrolled_students'].max())} enrolled)" in shown_funnel.layout.title.text

    students = frame_with(at, "stalled")
    direct = queries.students_table(con, **window(), course_id=world.courses["a"], teacher_id=teacher)  # type: ignore[arg-type]
    # The warehouse knows students by key; the page names them from the platform DB (the teacher's own).
    engine = make_engine(world.database_url)
    with engine.connect() as conn:
        enrolled = conn.execute(
            select(User.id, User.name, User.email)
            .join(Enrollment, Enrollment.user_id == User.id)
            .where(Enrollment.course_id == world.courses["a"])
        ).all()
    engine.dispose()
    by_key = {student_key(PSEUDONYM_SECRET, u.id): (u.name, u.email) for u in enrolled}
    assert sorted(direct["student_key"]) == sorted(by_key)
    assert sorted(students["name"]) == sorted(name for name, _ in by_key.values())
    assert sorted(students["email"]) == sorted(email for _, email in by_key.values())
    assert "stalled" in students.columns

    providers = engagement.provider_comparison(con, **window(), course_id=world.courses["a"], teacher_id=teacher)  # type: ignore[arg-type]
    assert providers.set_index("provider")["lessons"].to_dict() == {"s3": 1, "mux": 1, "none": 2}
    shown = frame_with(at, "provider")
    assert shown["views"].tolist() == providers["views"].tolist()

    at.radio(key="qoe_by").set_value("browser").run()
    qoe = queries.qoe_breakdown(con, **window(), by="browser", course_id=world.courses["a"], teacher_id=teacher)  # type: ignore[arg-type]
    shown_qoe = frame_with(at, "browser")
    assert shown_qoe.set_index("browser")["views"].to_dict() == qoe.set_index("browser")["views"].to_dict()
    # Startup times (from the views' time_to_first_frame) are filled in and shown, chart and table.
    startup = shown_qoe.set_index("browser")["startup_time_ms_p50"]
    assert startup.notna().all() and (startup > 0).all()
    assert startup.to_dict() == pytest.approx(qoe.set_index("browser")["startup_time_ms_p50"].to_dict())
    figures = [pio.from_json(c.proto.spec) for c in at.get("plotly_chart")]
    bars = next(t for f in figures for t in f.data if t.name == "startup time p50 (ms)")
    assert values(bars.y) == pytest.approx(qoe["startup_time_ms_p50"].tolist())


def test_analysts_see_aggregates_but_no_students(app: AppFactory, con) -> None:  # type: ignore[no-untyped-def]
    at = app("analyst", page=PAGE)
    assert not at.exception
    assert metrics(at)["Views"] == "160"
    assert not [f for f in at.dataframe if "email" in f.value.columns]
    assert "Students" not in [t.label for t in at.tabs]


def test_a_range_without_views_says_so(app: AppFactory) -> None:
    at = app("teacher_a", page=PAGE)
    old = datetime(2020, 1, 1, tzinfo=UTC).date()
    at.date_input(key="eng_dates").set_value((old, old + timedelta(days=3))).run()
    assert not at.exception
    assert any("No views in this range yet" in i.value for i in at.info)
    assert metrics(at)["Views"] == "0"


def test_no_warehouse_yet_says_what_to_run(app: AppFactory, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LECTERN_WAREHOUSE_PATH", str(tmp_path / "none.duckdb"))
    at = app("teacher_a", page=PAGE)
    assert not at.exception
    assert any("first warehouse sync" in i.value and "lectern sync" not in i.value for i in at.info)

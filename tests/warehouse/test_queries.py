"""Named queries: exact answers on designed views, teacher scope enforced in SQL, row limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import duckdb
import pytest

from core.privacy import student_key
from tests.warehouse.conftest import Built
from tests.warehouse.factories import PSEUDONYM_SECRET
from warehouse import queries, rollups
from warehouse.reader import WarehouseReader

START, END = date(2025, 3, 1), date(2025, 3, 10)
TEACHER_A, TEACHER_B = 3, 4  # A teaches courses 1 and 3, B teaches course 2


@pytest.fixture
def con(built: Built) -> Iterator[duckdb.DuckDBPyConnection]:
    reader = WarehouseReader(built.pointer)
    with reader.connect() as connection:
        yield connection
    reader.close()


def _enrolled(built: Built, course_id: int) -> set[int]:
    return {e["user_id"] for e in built.platform.enrollments if e["course_id"] == course_id}


def test_kpis_for_one_lesson(con: duckdb.DuckDBPyConnection, built: Built) -> None:
    row = queries.engagement_kpis(con, start=START, end=END, lesson_id=1).iloc[0]
    assert row["views"] == 3
    assert row["unique_viewers"] == 2
    assert row["watch_time_s"] == pytest.approx(1460.0)
    assert row["avg_view_duration_s"] == pytest.approx(1460.0 / 3)
    assert row["avg_fraction_watched"] == pytest.approx((1.0 + 0.5 + 0.9) / 3)
    assert row["view_completion_rate"] == pytest.approx(2 / 3)
    # Completion over enrolled students comes from the platform's own progress.
    from lectern.sample_data import iter_progress

    enrolled = _enrolled(built, 1)
    completed = {
        p["user_id"]
        for p in iter_progress(built.platform)
        if p["lesson_id"] == 1 and p["completed_at"] is not None and p["user_id"] in enrolled
    }
    assert row["enrolled_students"] == len(enrolled)
    assert row["completion_rate"] == pytest.approx(len(completed) / len(enrolled))


def test_teacher_scope_is_enforced(con: duckdb.DuckDBPyConnection) -> None:
    # Teacher B asking about teacher A's lesson gets nothing, whatever the other filters say.
    assert queries.engagement_kpis(con, start=START, end=END, lesson_id=1, teacher_id=TEACHER_B).iloc[0]["views"] == 0
    assert queries.engagement_kpis(con, start=START, end=END, teacher_id=TEACHER_B).iloc[0]["views"] == 1
    assert queries.engagement_kpis(con, start=START, end=END, teacher_id=TEACHER_A).iloc[0]["views"] == 4
    lessons = queries.lesson_table(con, start=START, end=END, teacher_id=TEACHER_B)
    assert set(lessons["course_id"]) == {2}
    assert queries.lesson_table(con, start=START, end=END, course_id=1, teacher_id=TEACHER_B).empty
    qoe = queries.qoe_breakdown(con, start=START, end=END, teacher_id=TEACHER_B)
    assert qoe["browser"].tolist() == ["Firefox"] and qoe["views"].tolist() == [1]
    students = queries.students_table(con, start=START, end=END, teacher_id=TEACHER_B)
    assert set(students["course_id"]) == {2}
    assert queries.retention_curve(con, lesson_id=1, start=START, end=END, teacher_id=TEACHER_B).empty
    assert queries.course_funnel(con, course_id=1, teacher_id=TEACHER_B).empty
    usage = queries.usage_by_asset(con, start=START, end=END, teacher_id=TEACHER_B)
    assert usage["asset_id"].tolist() == ["asset-13"]


def test_trend_and_lesson_table(con: duckdb.DuckDBPyConnection) -> None:
    trend = queries.engagement_trend(con, start=START, end=END, teacher_id=TEACHER_A)
    assert [d.day for d in trend["day"]] == [5, 6, 7]
    assert trend["views"].tolist() == [1, 2, 1]
    assert trend["unique_viewers"].tolist() == [1, 2, 1]
    table = queries.lesson_table(con, start=START, end=END, course_id=1)
    first = table[table["lesson_id"] == 1].iloc[0]
    assert (first["views"], first["unique_viewers"]) == (3, 2)
    assert table["position"].tolist() == sorted(table["position"].tolist())
    assert (table[table["lesson_id"] == 5]["views"] == 0).all()  # unwatched lessons are listed too


def test_retention_curve(con: duckdb.DuckDBPyConnection) -> None:
    curve = queries.retention_curve(con, lesson_id=1, start=START, end=END)
    share = dict(zip(curve["pct_of_duration"], curve["share_still_watching"], strict=True))
    assert len(curve) == 21
    assert share[0] == 1.0 and share[50] == 1.0
    assert share[55] == pytest.approx(2 / 3) and share[90] == pytest.approx(2 / 3)
    assert share[95] == pytest.approx(1 / 3) and share[100] == pytest.approx(1 / 3)


def test_funnel_students_and_qoe(con: duckdb.DuckDBPyConnection, built: Built) -> None:
    funnel = queries.course_funnel(con, course_id=1)
    assert (funnel["enrolled_students"] == len(_enrolled(built, 1))).all()
    assert funnel["position"].tolist() == list(range(1, 13))
    assert funnel.iloc[0]["students_viewed"] == 2
    reached = funnel["students_reached"].tolist()
    assert reached[0] >= reached[-1]  # every course loses students lesson by lesson
    students = queries.students_table(con, start=START, end=END, course_id=1)
    assert len(students) == len(_enrolled(built, 1))
    top = students.iloc[0]
    assert (top["student_key"], top["views"]) == (student_key(PSEUDONYM_SECRET, 5), 2)
    assert not {"password_hash", "email", "name", "user_id"} & set(students.columns)
    qoe = queries.qoe_breakdown(con, start=START, end=END, by="lesson")
    assert dict(zip(qoe["lesson"], qoe["views"], strict=True)) == {1: 3, 13: 1, 2: 1}
    exits = queries.qoe_breakdown(con, start=START, end=END, lesson_id=2).iloc[0]
    assert exits["exit_before_start_rate"] == 1.0


def test_usage_queries(con: duckdb.DuckDBPyConnection) -> None:
    by_day = queries.usage_by_day(con, start=START, end=END)
    assert [d.day for d in by_day["day"]] == [5, 6]
    assert by_day["delivered_minutes"].tolist() == pytest.approx([5.0, 40 / 60])
    assert by_day["minutes_1080p"].sum() == pytest.approx((300 + 40) * 0.75 / 60)


def test_max_rows_truncates_and_says_so(con: duckdb.DuckDBPyConnection) -> None:
    full = queries.lesson_table(con, start=START, end=END)
    assert full.attrs["truncated"] is False
    cut = queries.lesson_table(con, start=START, end=END, max_rows=2)
    assert len(cut) == 2 and cut.attrs["truncated"] is True


def test_parameters_are_bound_not_formatted(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="cannot break QoE down"):
        queries.qoe_breakdown(con, start=START, end=END, by="browser; DROP TABLE users")
    hostile = "1 OR 1=1"
    with pytest.raises(duckdb.Error):
        queries.engagement_kpis(con, start=START, end=END, teacher_id=hostile)  # type: ignore[arg-type]


def test_views_and_sync_status(con: duckdb.DuckDBPyConnection) -> None:
    status = queries.sync_status(con)
    assert set(status["job"]) == {"platform", "views", "delivery_usage"}
    assert (status["status"] == "ok").all()
    engagement = con.execute(
        "SELECT sum(views), sum(unique_viewers) FROM v_daily_lesson_engagement WHERE lesson_id = 1"
    ).fetchall()
    assert engagement == [(3, 3)]  # per-day unique viewers: 1 on the 5th, 2 on the 6th
    completion = con.execute("SELECT enrolled_students FROM v_lesson_completion WHERE lesson_id = 1").fetchall()
    assert completion[0][0] > 0
    assert con.execute("SELECT sum(delivered_seconds) FROM v_usage_daily").fetchall() == [(340.0,)]
    assert con.execute("SELECT count(*) FROM v_qoe").fetchall()[0][0] > 0


def test_unscoped_queries_use_the_platform_wide_rollups(con: duckdb.DuckDBPyConnection) -> None:
    kpis = queries.engagement_kpis(con, start=START, end=END).iloc[0]
    assert (kpis["views"], kpis["unique_viewers"]) == (5, 3)
    trend = queries.engagement_trend(con, start=START, end=END)
    assert trend["views"].tolist() == [1, 3, 1]
    assert trend["unique_viewers"].tolist() == [1, 2, 1]  # viewer 5 watched two lessons on the 6th: once


def test_platform_wide_qoe_comes_from_rollups_and_matches_the_views(con: duckdb.DuckDBPyConnection) -> None:
    wide = queries.qoe_breakdown(con, start=START, end=END, by="browser")
    assert wide.attrs["approximate_percentiles"] is True
    assert dict(zip(wide["browser"], wide["views"], strict=True)) == {"Chrome": 3, "Safari": 1, "Firefox": 1}
    exact = con.execute(
        "SELECT browser, quantile_cont(startup_time_ms, 0.5), avg(CASE WHEN exit_before_video_start THEN 1 ELSE 0 END)"
        " FROM mux_views GROUP BY 1"
    ).fetchall()
    for browser, p50, exits in exact:
        row = wide[wide["browser"] == browser].iloc[0]
        assert row["startup_time_ms_p50"] == pytest.approx(p50, rel=0.04)
        assert row["exit_before_start_rate"] == pytest.approx(exits)
    scoped = queries.qoe_breakdown(con, start=START, end=END, by="browser", teacher_id=TEACHER_A)
    assert scoped.attrs["approximate_percentiles"] is False


@pytest.mark.parametrize("by", rollups.QOE_DIMENSIONS)
def test_every_rolled_up_dimension_is_a_qoe_breakdown(con: duckdb.DuckDBPyConnection, by: str) -> None:
    """The breakdowns are the rollups' dimensions (one list, in warehouse/rollups.py) plus the lesson."""
    assert set(queries.QOE_DIMENSIONS) == {*rollups.QOE_DIMENSIONS, "lesson"}
    wide = queries.qoe_breakdown(con, start=START, end=END, by=by)
    assert wide.attrs["approximate_percentiles"] is True  # read from the rollups
    # `by` comes from the fixed tuple above, never from input.
    counted = con.execute(
        f"SELECT {by}, count(*) FROM mux_views WHERE view_day BETWEEN $start AND $end GROUP BY 1",
        {"start": START, "end": END},
    ).fetchall()
    assert dict(zip(wide[by], wide["views"], strict=True)) == dict(counted)

"""The SQL workbench: right answers, named limits (rows, time, downloads), no blocking, a teacher's own rows only."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import date

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.waiting import wait_until
from tests.warehouse.conftest import Built
from warehouse import queries
from warehouse.reader import WarehouseReader
from warehouse.sql.errors import QueryFailed, QueryRefused, QueryTimedOut
from warehouse.sql.examples import EXAMPLES, VIEWS_BY_COURSE_WEEK
from warehouse.sql.scoped import ALWAYS, TEACHER_TABLES, tables_named
from warehouse.sql.workbench import SqlLimits, SqlWorkbench
from warehouse.store import WarehouseWriter

START, END = date(2025, 3, 1), date(2025, 3, 10)
TEACHER_A, TEACHER_B = 3, 4  # A teaches courses 1 and 3, B teaches course 2 (tests/warehouse/conftest.py)
SLOW = "SELECT sum(hash(a.range * b.range)) FROM range(200000) a, range(200000) b"  # minutes on one thread
TEN_MILLION = "SELECT range AS i, range % 7 AS weekday FROM range(10000000)"


@pytest.fixture(scope="module")
def workbench(built: Built) -> SqlWorkbench:
    return SqlWorkbench(built.pointer, SqlLimits())


@pytest.fixture
def con(built: Built) -> Iterator[duckdb.DuckDBPyConnection]:
    reader = WarehouseReader(built.pointer)
    with reader.connect() as connection:
        yield connection
    reader.close()


def test_a_join_and_aggregate_matches_the_named_queries(
    workbench: SqlWorkbench, con: duckdb.DuckDBPyConnection
) -> None:
    per_teacher = workbench.run(
        """SELECT c.teacher_id, count(*) AS views, sum(v.watch_time_ms) / 1000 AS watch_time_s
        FROM mux_views v JOIN lessons l ON l.id = v.lesson_id JOIN courses c ON c.id = l.course_id
        WHERE v.view_day BETWEEN DATE '2025-03-01' AND DATE '2025-03-10'
        GROUP BY ALL ORDER BY c.teacher_id"""
    ).frame.set_index("teacher_id")
    for teacher in (TEACHER_A, TEACHER_B):
        kpis = queries.engagement_kpis(con, start=START, end=END, teacher_id=teacher).iloc[0]
        assert per_teacher.loc[teacher, "views"] == kpis["views"]
        assert per_teacher.loc[teacher, "watch_time_s"] == pytest.approx(kpis["watch_time_s"])
    assert per_teacher["views"].sum() == 5  # the designed views, all on lessons of courses


def test_the_shipped_weekly_query_matches_the_named_queries(
    workbench: SqlWorkbench, con: duckdb.DuckDBPyConnection
) -> None:
    weekly = workbench.run(VIEWS_BY_COURSE_WEEK.sql).frame
    assert list(weekly.columns) == ["week", "course_id", "course_title", "views", "watch_hours"]
    by_course = weekly.groupby("course_id")[["views", "watch_hours"]].sum()
    for course_id, row in by_course.iterrows():
        kpis = queries.engagement_kpis(con, start=START, end=END, course_id=int(str(course_id))).iloc[0]
        assert row["views"] == kpis["views"]
        assert row["watch_hours"] == pytest.approx(kpis["watch_time_s"] / 3600, abs=0.01)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_every_example_runs_for_analysts_and_teachers(example: object, built: Built, workbench: SqlWorkbench) -> None:
    sql = example.sql  # type: ignore[attr-defined]
    assert len(workbench.run(sql).frame.columns) >= 3
    teacher = SqlWorkbench(built.pointer, SqlLimits(), teacher_id=TEACHER_A)
    assert len(teacher.run(sql).frame.columns) >= 3


def test_explain_describe_and_summarize_are_queries(workbench: SqlWorkbench) -> None:
    assert workbench.run("EXPLAIN SELECT count(*) FROM mux_views").rows == 1
    assert "view_id" in set(workbench.run("DESCRIBE mux_views").frame["column_name"])
    assert workbench.run("SUMMARIZE lessons").rows > 0


def test_ten_million_rows_show_the_truncation_notice_and_download_up_to_the_cap(built: Built) -> None:
    limits = SqlLimits(max_rows=10_000, download_max_rows=1_000_000)
    workbench = SqlWorkbench(built.pointer, limits)
    shown = workbench.run(TEN_MILLION)
    assert shown.truncated and shown.rows == 10_000 and shown.limit == 10_000
    assert list(shown.frame["i"].head(3)) == [0, 1, 2]

    csv, done = workbench.download(TEN_MILLION, "csv")
    assert done.truncated and done.rows == 1_000_000
    assert csv.count(b"\n") == 1_000_001 and csv.startswith(b'"i","weekday"\n0,0\n')
    parquet, done = workbench.download(TEN_MILLION, "parquet")
    assert pq.read_metadata(io.BytesIO(parquet)).num_rows == 1_000_000 and done.truncated

    # Under the cap, the download holds the whole result and says it is whole.
    small, done = workbench.download("SELECT range AS i FROM range(1000)", "parquet")
    assert pq.read_table(io.BytesIO(small)).num_rows == 1000 and not done.truncated


def test_exactly_the_row_limit_is_not_truncated(built: Built) -> None:
    workbench = SqlWorkbench(built.pointer, SqlLimits(max_rows=100))
    assert not workbench.run("SELECT range FROM range(100)").truncated
    assert workbench.run("SELECT range FROM range(101)").truncated
    assert not workbench.run("SELECT 1 AS one WHERE false").truncated


def test_a_long_query_is_stopped_at_the_limit_without_blocking_anyone(built: Built) -> None:
    limit = 2.0
    slow = SqlWorkbench(built.pointer, SqlLimits(time_limit_s=limit))
    outcome: dict[str, object] = {}

    def run_slow() -> None:
        started = time.monotonic()
        try:
            slow.run(SLOW)
        except QueryTimedOut as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=run_slow)
    worker.start()
    spill = slow.layout.root / "sql-spill"
    wait_until(lambda: spill.is_dir() and any(spill.iterdir()), 10, what="the slow query's instance")

    # Another analyst's query answers meanwhile, and the sync publishes a new snapshot meanwhile.
    other = SqlWorkbench(built.pointer, SqlLimits())
    started = time.monotonic()
    assert other.run("SELECT count(*) AS n FROM lessons").frame["n"][0] > 0
    with WarehouseWriter(slow.layout).open():
        pass
    assert worker.is_alive() and time.monotonic() - started < limit

    worker.join(timeout=limit + 5)
    assert isinstance(outcome.get("error"), QueryTimedOut)
    assert "time limit (2 s, LECTERN_SQL_TIME_LIMIT_S)" in str(outcome["error"])
    assert float(str(outcome["seconds"])) < limit + 1
    # The workbench is still usable, and nothing is left behind.
    assert slow.run("SELECT 42 AS answer").frame["answer"][0] == 42
    assert not any(spill.iterdir())


def test_a_teachers_copy_holds_only_their_own_rows(built: Built, con: duckdb.DuckDBPyConnection) -> None:
    for teacher in (TEACHER_A, TEACHER_B):
        mine = SqlWorkbench(built.pointer, SqlLimits(), teacher_id=teacher)
        facts = mine.run(
            """SELECT (SELECT list(DISTINCT teacher_id) FROM courses) AS teachers,
                      (SELECT count(*) FROM mux_views) AS views,
                      (SELECT count(*) FROM lesson_daily WHERE lesson_id NOT IN (SELECT id FROM lessons)) AS strays,
                      (SELECT list(id) FROM users WHERE role <> 'student') AS staff,
                      (SELECT list(table_name ORDER BY table_name) FROM information_schema.tables) AS tables"""
        ).frame.iloc[0]
        kpis = queries.engagement_kpis(con, start=START, end=END, teacher_id=teacher).iloc[0]
        assert list(facts["teachers"]) == [teacher] and list(facts["staff"]) == [teacher]
        assert facts["views"] == kpis["views"] and facts["strays"] == 0
        assert set(facts["tables"]) == set(TEACHER_TABLES) | {t for t in facts["tables"] if t.startswith("v_")}
    # Built from the tables the text names; a name built at run time gets every table's rows.
    views = "SELECT (SELECT count(*) FROM mux_views) AS views, (SELECT count(*) FROM lesson_daily) AS days"
    assert mine.run(views).frame.iloc[0].tolist() != [0, 0]
    assert mine.run("SELECT count(*) AS n FROM query_table('mux_' || 'views')").frame["n"][0] == 1
    for table in ("privacy_forgotten", "viewer_daily", "qoe_daily", "sync_state"):
        with pytest.raises(QueryFailed, match=table):
            mine.run(f"SELECT * FROM {table}")
    with pytest.raises(QueryRefused, match="reaches outside"):
        mine.run(f"SELECT * FROM read_blob('{built.pointer}')")


def test_a_teachers_copy_fills_the_tables_a_query_names() -> None:
    views = {"v_daily_lesson_engagement": "CREATE VIEW v_daily_lesson_engagement AS SELECT * FROM lesson_daily d"}
    assert tables_named("SELECT 1", views) == set(ALWAYS)
    assert tables_named("FROM V_Daily_Lesson_Engagement", views) == {*ALWAYS, "lesson_daily"}
    assert tables_named("SELECT * FROM mux_views -- and lesson_progress", views) == {
        *ALWAYS,
        "mux_views",
        "lesson_progress",
    }
    assert "mux_views_x" not in tables_named("SELECT * FROM mux_views_x", views)
    assert tables_named("SELECT * FROM query_table('mux' || '_views')", views) == set(TEACHER_TABLES)


def test_results_keep_their_types(workbench: SqlWorkbench) -> None:
    frame = workbench.run("SELECT DATE '2025-03-05' AS day, 1.5::DOUBLE AS x, 'a' AS s, NULL::BIGINT AS n").frame
    assert pd.api.types.is_float_dtype(frame["x"]) and frame["day"][0] == date(2025, 3, 5)
    json, done = workbench.download("SELECT DATE '2025-03-05' AS day, 2 AS n", "json")
    assert json == b'{"day":"2025-03-05","n":2}\n' and done.rows == 1


def test_a_result_a_csv_file_cannot_hold_is_refused_with_a_message(workbench: SqlWorkbench) -> None:
    # CSV has no nested values: Arrow's writer refuses a list column, and the analyst reads why (no traceback).
    with pytest.raises(QueryFailed, match="cannot hold the result's column types"):
        workbench.download("SELECT [1, 2, 3] AS xs", "csv")
    parquet, done = workbench.download("SELECT [1, 2, 3] AS xs", "parquet")  # Parquet holds it
    assert done.rows == 1 and parquet.startswith(b"PAR1")

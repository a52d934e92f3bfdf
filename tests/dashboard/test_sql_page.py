"""The SQL page under AppTest: pick an example, run it, chart it, save it; refusals and limits shown; teachers
query a copy holding only their own rows."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.views import sql as view
from tests.dashboard.conftest import AppFactory, page_text
from tests.dashboard.world import World
from warehouse.sql.examples import VIEWS_BY_COURSE_WEEK
from warehouse.sql.workbench import SqlLimits, SqlWorkbench

PAGE = "pages/sql.py"
WEEKLY = f"Example: {VIEWS_BY_COURSE_WEEK.name}"


def run_sql(at: AppTest, sql: str) -> AppTest:
    at.text_area(key="sql_text").input(sql)
    return next(b for b in at.button if b.label == "Run").click().run()


def test_an_analyst_runs_an_example_and_charts_it(app: AppFactory, world: World) -> None:
    at = app("analyst", page=PAGE)
    assert not at.exception
    assert [t.value for t in at.title] == ["SQL"]
    assert "mux_views (table)" in [e.label for e in at.expander]  # the tables beside the editor

    at.selectbox(key="sql_pick").select(WEEKLY).run()
    assert at.text_area(key="sql_text").value == VIEWS_BY_COURSE_WEEK.sql
    at = next(b for b in at.button if b.label == "Run").click().run()
    assert not at.exception and not at.error
    expected = SqlWorkbench(world.warehouse_path, SqlLimits()).run(VIEWS_BY_COURSE_WEEK.sql).frame
    shown = at.dataframe[0].value
    assert list(shown.columns) == list(expected.columns) and len(shown) == len(expected)
    assert shown["views"].sum() == expected["views"].sum() == 160
    assert any(c.value.startswith(f"{len(expected)} rows · ") for c in at.caption)

    at.selectbox(key="sql_chart").select("bar").run()
    at.selectbox(key="sql_x").select("week").run()
    at.selectbox(key="sql_y").select("views").run()
    at.selectbox(key="sql_colour").select("course_title").run()
    assert not at.exception
    [chart] = at.get("plotly_chart")
    assert '"type":"bar"' in chart.proto.spec.replace(" ", "")
    assert [b.proto.label for b in at.get("download_button")] == ["Download CSV", "Download PARQUET"]
    history = at.dataframe[-1].value
    assert list(history["outcome"]) == ["ok"] and history["rows"][0] == len(expected)


def test_a_refused_statement_is_an_error_message_and_a_history_line(app: AppFactory) -> None:
    at = run_sql(app("analyst", page=PAGE), "DROP TABLE lessons")
    assert not at.exception
    assert "This is a DROP statement" in at.error[0].value
    assert at.dataframe[-1].value["outcome"].iloc[0].startswith("This is a DROP statement")


def test_a_cut_result_says_so(app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LECTERN_SQL_MAX_ROWS", "50")
    at = run_sql(app("analyst", page=PAGE), "SELECT range AS i FROM range(10000000)")
    assert not at.exception
    assert at.warning[0].value.startswith("Truncated at 50 rows:")  # no setting name for an analyst
    assert len(at.dataframe[0].value) == 50


def test_an_analyst_saves_a_query_for_everyone_then_deletes_it(app: AppFactory) -> None:
    at = run_sql(app("analyst", page=PAGE), "SELECT count(*) AS lessons FROM lessons")
    at.text_input[0].input("Lesson count (page test)")
    at.text_area[1].input("How many lessons the platform has.")
    at = next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and "Saved “Lesson count (page test)”." in at.success[0].value

    colleague = app("admin", page=PAGE)
    label = "Saved: Lesson count (page test) (by An Analyst)"
    assert label in colleague.selectbox(key="sql_pick").options
    colleague.selectbox(key="sql_pick").select(label).run()
    assert colleague.text_area(key="sql_text").value == "SELECT count(*) AS lessons FROM lessons"
    colleague = next(b for b in colleague.button if b.label == "Delete the picked saved query").click().run()
    assert label not in app("analyst", page=PAGE).selectbox(key="sql_pick").options


def test_a_teacher_queries_only_their_own_rows(app: AppFactory, world: World) -> None:
    at = run_sql(app("teacher_a", page=PAGE), "SELECT title FROM courses UNION ALL SELECT title FROM lessons")
    assert not at.exception and not at.error
    titles = set(at.dataframe[0].value["title"])
    assert "Alpha Python" in titles and world.titles["a_mux"] in titles
    assert not any("Beta" in t for t in titles)
    assert "only the rows of the courses you teach" in page_text(at)
    assert not [b for b in at.button if b.label == "Save"]  # teachers run queries; analysts keep the shared list
    assert "viewer_daily (table)" not in [e.label for e in at.expander]


def test_the_view_model_words() -> None:
    assert view.download_file("parquet") == ("query.parquet", "application/vnd.apache.parquet")
    note = view.download_note(SqlLimits(download_max_rows=1234))
    assert "up to 1,234 rows" in note and "lectern warehouse sql" in note
    assert view.deletable_id(view.Choice("SELECT 1", "", saved_id=4, author_id=7), 7, "analyst") == 4
    assert view.deletable_id(view.Choice("SELECT 1", "", saved_id=4, author_id=7), 8, "analyst") is None
    assert view.deletable_id(view.Choice("SELECT 1", "", saved_id=4, author_id=7), 8, "admin") == 4
    assert view.deletable_id(view.Choice("SELECT 1", ""), 8, "admin") is None

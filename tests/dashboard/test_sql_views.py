"""The SQL page's view model and chart builder, on literal frames (no Streamlit, no warehouse)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from core.saved_queries import SavedQueryRecord
from dashboard.charts.sql import result_chart
from dashboard.views import sql as view
from warehouse.sql.examples import EXAMPLES
from warehouse.sql.workbench import SqlLimits, SqlResult

FRAME = pd.DataFrame(
    {
        "week": [date(2025, 3, 10), date(2025, 3, 3), date(2025, 3, 3)],
        "course": ["B", "A", "B"],
        "views": [5, 3, 4],
        "course_id": [2, 1, 2],
    }
)


def result(rows: int, truncated: bool = False) -> SqlResult:
    return SqlResult(pd.DataFrame({"i": range(rows)}), truncated, 10, 0.0123, "SELECT 1")


def test_chart_columns_offer_numbers_for_y_and_few_values_for_colour() -> None:
    columns = view.chart_columns(FRAME)
    assert columns.x == ["week", "course", "views", "course_id"]
    assert columns.y == ["views", "course_id"]
    assert columns.color == ["week", "course", "views", "course_id"]
    many = pd.DataFrame({"id": range(100), "n": range(100)})
    assert view.chart_columns(many).color == []


@pytest.mark.parametrize("kind", ["line", "bar", "scatter"])
def test_one_trace_per_colour_value(kind: str) -> None:
    fig = result_chart(FRAME, kind, "week", "views", "course_id")
    assert sorted(t.name for t in fig.data) == ["1", "2"]  # a legend of values, not a colour scale
    assert {t.type for t in fig.data} == {"bar" if kind == "bar" else "scatter"}
    assert fig.layout.title.text == "views by week"
    line = result_chart(FRAME, "line", "week", "views")
    assert list(line.data[0].x) == sorted(FRAME["week"])  # lines drawn in x order
    with pytest.raises(ValueError, match="line, bar, scatter"):
        result_chart(FRAME, "pie", "week", "views")


def test_history_keeps_the_newest_twenty() -> None:
    history: list[view.HistoryEntry] = []
    for i in range(25):
        history = view.remember(history, f"SELECT {i}", result(i), None)
    history = view.remember(history, "DROP TABLE x", None, "This is a DROP statement")
    assert len(history) == view.HISTORY_SIZE
    frame = view.history_frame(history)
    assert list(frame["query"][:2]) == ["DROP TABLE x", "SELECT 24"]
    assert list(frame["outcome"][:2]) == ["This is a DROP statement", "ok"]
    assert pd.isna(frame["rows"][0]) and frame["rows"][1] == 24


def test_summaries_and_notices() -> None:
    assert view.summary(result(1)) == "1 row · 0.012 s"
    assert view.summary(result(1234)) == "1,234 rows · 0.012 s"
    assert view.truncation_notice(result(10), SqlLimits()) is None
    notice = view.truncation_notice(result(10, truncated=True), SqlLimits(download_max_rows=500))
    assert notice is not None and notice.startswith("Truncated at 10 rows:") and "up to 500 rows" in notice
    admin = view.truncation_notice(result(10, truncated=True), SqlLimits(), admin=True)
    assert admin is not None and "(LECTERN_SQL_MAX_ROWS)" in admin  # the setting, for those who set it
    assert "LECTERN_" not in view.download_note(SqlLimits()) and "LECTERN_" in view.download_note(
        SqlLimits(), admin=True
    )


def test_choices_list_examples_then_saved_queries() -> None:
    saved = SavedQueryRecord(7, "Mine", "what it does", "SELECT 2", 3, "Ana", datetime(2025, 3, 1, tzinfo=UTC))
    options = view.choices([saved])
    assert list(options)[: len(EXAMPLES)] == [f"Example: {e.name}" for e in EXAMPLES]
    assert options["Saved: Mine (by Ana)"] == view.Choice("SELECT 2", "what it does", 7, 3)

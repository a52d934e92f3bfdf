"""The engagement page's view model with literal frames: KPI cards, names joined to students, QoE titles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from dashboard.definitions import KPI_HELP, LESSON_COLUMNS, QOE_BREAKDOWNS, QOE_COLUMNS
from dashboard.platform_db import LessonRow
from dashboard.views import engagement as view
from tests.dashboard.rows import lesson_row
from warehouse.queries import QOE_DIMENSIONS

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


def lesson(
    lesson_id: int, course_id: int, *, duration_s: float | None = 300.0, chapters: list[dict[str, Any]] | None = None
) -> LessonRow:
    return lesson_row(id=lesson_id, course_id=course_id, duration_s=duration_s, chapters=chapters)


def test_kpi_cards_format_every_figure_with_its_definition() -> None:
    kpi = pd.DataFrame(
        {
            "views": [1234],
            "unique_viewers": [56],
            "watch_time_s": [5400.0],
            "avg_view_duration_s": [125.0],
            "avg_fraction_watched": [0.456],
            "completion_rate": [None],
        }
    )
    cards = view.kpis(kpi)
    assert [(m.label, m.value) for m in cards] == [
        ("Views", "1,234"),
        ("Unique viewers", "56"),
        ("Watch time", "1.5 h"),
        ("Avg view duration", "2:05"),
        ("Avg watched (Mux)", "46%"),
        ("Lessons completed", "—"),
    ]
    assert cards[0].help == KPI_HELP["views"] and all(m.help for m in cards)
    assert view.has_views(kpi)


def test_no_row_means_dashes_and_no_views() -> None:
    empty = pd.DataFrame(columns=["views", "unique_viewers", "watch_time_s"])
    assert [m.value for m in view.kpis(empty)] == ["—", "—", "0.0 h", "—", "—", "—"]
    assert not view.has_views(empty)
    assert not view.has_views(pd.DataFrame({"views": [0]}))


def test_date_range_defaults_to_the_last_30_days_until_both_ends_are_picked() -> None:
    today = date(2026, 6, 30)
    assert view.default_range(today) == (date(2026, 6, 1), today)
    assert view.picked_range((date(2026, 5, 1),), today) == (date(2026, 6, 1), today)
    assert view.picked_range((date(2026, 5, 1), date(2026, 5, 7)), today) == (date(2026, 5, 1), date(2026, 5, 7))


def test_students_tab_only_for_those_who_see_students() -> None:
    assert view.tab_names(True) == ["Trend", "Lessons", "Retention", "Funnel", "Students", "Quality", "S3 vs Mux"]
    assert view.STUDENTS_TAB not in view.tab_names(False)


def test_lessons_narrow_to_the_picked_lesson_and_retention_offers_the_watched_ones() -> None:
    lessons = pd.DataFrame({"lesson_id": [1, 2, 3], "lesson_title": ["A", "B", "C"], "views": [5, 0, 9]})
    assert view.only_lesson(lessons, None) is lessons
    assert view.only_lesson(lessons, 2)["lesson_title"].tolist() == ["B"]
    assert view.watched_titles(lessons) == {3: "C", 1: "A"}
    assert list(view.watched_titles(lessons)) == [3, 1]  # most viewed first


def test_students_get_names_by_key_and_stalled_flags() -> None:
    students = pd.DataFrame(
        {
            "student_key": [11, 22, 33],
            "course_id": [1, 1, 2],
            "lessons_started": [1, 2, 1],
            "lessons_completed": [0, 2, 1],
            "last_view_at": [NOW - timedelta(days=20), NOW - timedelta(days=1), NOW - timedelta(days=40)],
            "last_progress_at": [None, None, None],
        }
    )
    names = {11: ("Ada", "ada@example.test"), 22: ("Bo", "bo@example.test")}
    in_scope = [lesson(1, 1), lesson(2, 1), lesson(3, 2)]
    out = view.students_frame(students, names, lessons=in_scope, now=NOW)
    assert out["name"].tolist() == ["Ada", "Bo", view.UNKNOWN_STUDENT]
    assert out["email"].tolist()[:2] == ["ada@example.test", "bo@example.test"] and pd.isna(out["email"].iloc[2])
    assert out["progress"].tolist() == [0.0, 1.0, 1.0]  # course 1 has two lessons, course 2 one
    assert out["stalled"].tolist() == [True, False, False]  # 22 is active, 33 finished
    assert view.stalled_caption(out) == "1 of 3 students stalled."


def test_retention_summary_lists_the_moments() -> None:
    curve = pd.DataFrame({"pct_of_duration": [0, 5, 10, 15, 20], "share_still_watching": [1.0, 0.6, 0.58, 0.56, 0.1]})
    replays = pd.DataFrame(columns=["pct_of_duration", "views", "replayed_views", "replay_share"])
    found = view.retention(curve, replays, lesson(1, 1, duration_s=300.0, chapters=[{"start_s": 150, "title": "Mid"}]))
    assert found.marks == [(50.0, "Mid")]
    assert found.summary == "**58%** still watching after the first 30 s · drop-off -40 pts (0-5%)"
    unknown = view.retention(curve.iloc[0:0], replays, None)
    assert unknown.summary == "No marked moments." and unknown.marks == []


def test_qoe_by_lesson_shows_titles_and_other_breakdowns_stay() -> None:
    qoe = pd.DataFrame({"lesson": [1, 99], "views": [3, 1]})
    lessons = pd.DataFrame({"lesson_id": [1], "lesson_title": ["Intro"]})
    assert view.qoe_frame(qoe, "lesson", lessons)["lesson"].tolist() == ["Intro", "lesson 99"]
    by_browser = pd.DataFrame({"browser": ["Chrome"], "views": [3]})
    assert view.qoe_frame(by_browser, "browser", lessons) is by_browser


def test_the_page_breaks_qoe_down_only_by_dimensions_the_query_knows() -> None:
    assert set(QOE_BREAKDOWNS) <= set(QOE_DIMENSIONS)
    assert "views" in QOE_COLUMNS and not set(QOE_COLUMNS) & set(QOE_DIMENSIONS)


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        ("20260630T120501123456Z.duckdb", "Data as of 2026-06-30 12:05 UTC (the last warehouse sync). "),
        ("copied-in.duckdb", "Data from the last warehouse sync. "),
        (None, "Data from the last warehouse sync. "),
    ],
)
def test_footer_says_when_the_data_was_synced_never_the_file_name(snapshot: str | None, expected: str) -> None:
    footer = view.footer(snapshot, date(2026, 6, 1), date(2026, 6, 30))
    assert footer == f"{expected}Dates are UTC days 2026-06-01 to 2026-06-30."
    assert ".duckdb" not in footer


def test_the_three_completion_figures_say_their_source() -> None:
    cards = {m.label: m.help or "" for m in view.kpis(pd.DataFrame({"views": [1]}))}
    assert cards["Avg watched (Mux)"].startswith("Mux Data")
    assert cards["Lessons completed"].startswith("Course platform") and "Mux Data" in cards["Lessons completed"]
    assert LESSON_COLUMNS["view_completion_rate"]["label"] == "views to 90 %"
    assert "90 %" in LESSON_COLUMNS["view_completion_rate"]["help"]

"""warehouse/operations.py: playback figures over an exact window, the same QoE definitions as
queries.qoe_breakdown, and the drill-down to error messages and failed views."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from sync.state import transaction
from sync.views import load_window
from tests.warehouse.factories import FakeViews, make_view
from warehouse import operations, queries
from warehouse.reader import WarehouseReader
from warehouse.store import WarehouseLayout, WarehouseWriter

NOW = datetime(2026, 11, 20, 12, 40, tzinfo=UTC)
M = timedelta(minutes=1)
HOUR = {"start": NOW - 60 * M, "end": NOW}
TIMEOUT = "Timeout loading the manifest"


def _views() -> list[dict[str, object]]:
    """In the last hour: 4 Chrome views of lesson 1 (one playback failure with TIMEOUT, one startup failure),
    2 Safari views of lesson 2 (one failure with TIMEOUT, one exit before start), one view with no browser.
    Three hours back: 2 Chrome failures with another message (outside the hour, inside the day)."""
    late = dict(watch_ms=60_000)
    return [
        make_view(1, end=NOW - 5 * M, lesson_id=1, startup_ms=500, playback_failure=True,
                  player_error_message=TIMEOUT, player_error_code="408", **late),
        make_view(2, end=NOW - 6 * M, lesson_id=1, startup_ms=700, video_startup_failure=True, **late),
        make_view(3, end=NOW - 7 * M, lesson_id=1, startup_ms=900, **late),
        make_view(4, end=NOW - 8 * M, lesson_id=1, startup_ms=1100, **late),
        make_view(5, end=NOW - 9 * M, lesson_id=2, startup_ms=2000, browser="Safari", playback_failure=True,
                  player_error_message=TIMEOUT, player_error_code="408", **late),
        make_view(6, end=NOW - 10 * M, lesson_id=2, startup_ms=3000, browser="Safari", exit_before_video_start=True,
                  **late),
        make_view(7, end=NOW - 11 * M, lesson_id=2, startup_ms=800, viewer_application_name=None,
                  playback_failure=True, **late),
        make_view(8, end=NOW - 180 * M, lesson_id=1, playback_failure=True, player_error_message="Decode error",
                  **late),
        make_view(9, end=NOW - 181 * M, lesson_id=1, playback_failure=True, player_error_message="Decode error",
                  **late),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = Path(tmp_path_factory.mktemp("ops-warehouse")) / "warehouse.duckdb"
    writer = WarehouseWriter(WarehouseLayout(path))
    with writer.open() as w, transaction(w):
        w.execute("INSERT INTO lessons (id, course_id, position, title) VALUES (1, 1, 1, 'One'), (2, 1, 2, 'Two')")
        load_window(w, FakeViews(_views()), NOW - timedelta(days=1), NOW + M, now=NOW, batch_rows=1000)
    reader = WarehouseReader(writer.layout.pointer)
    with reader.connect() as c:
        yield c
    reader.close()


def test_totals_count_only_the_window(con: duckdb.DuckDBPyConnection) -> None:
    row = operations.playback_totals(con, **HOUR).iloc[0]
    assert row["views"] == 7
    assert row["playback_failure_rate"] == pytest.approx(3 / 7)
    assert row["startup_failure_rate"] == pytest.approx(1 / 7)
    assert row["exit_before_start_rate"] == pytest.approx(1 / 7)
    assert row["startup_time_ms_p50"] == 900
    day = operations.playback_totals(con, start=NOW - timedelta(days=1), end=NOW).iloc[0]
    assert day["views"] == 9


def test_breakdowns_use_the_qoe_definitions(con: duckdb.DuckDBPyConnection) -> None:
    by_lesson = operations.playback_breakdown(con, **HOUR, by="lesson")
    assert by_lesson["lesson"].tolist() == [1, 2] and by_lesson["lesson_title"].tolist() == ["One", "Two"]
    assert by_lesson["views"].tolist() == [4, 3]
    # The same figures as the Engagement page's QoE table over whole days (one definition, queries.QOE_METRICS).
    first = datetime.combine(NOW.date(), time(), UTC)
    whole_day = operations.playback_breakdown(con, start=first, end=first + timedelta(days=1), by="lesson")
    reference = queries.qoe_breakdown(con, start=NOW.date(), end=NOW.date(), by="lesson")
    assert whole_day.drop(columns="lesson_title").to_dict("records") == reference.to_dict("records")

    by_browser = operations.playback_breakdown(con, **HOUR, by="browser")
    assert dict(zip(by_browser["browser"].fillna("?"), by_browser["views"], strict=True)) == {
        "Chrome": 4, "Safari": 2, "?": 1
    }  # fmt: skip
    assert set(operations.PLAYBACK_BY) <= set(queries.QOE_DIMENSIONS)


def test_top_errors_and_their_views(con: duckdb.DuckDBPyConnection) -> None:
    errors = operations.playback_errors(con, **HOUR)
    top = errors.iloc[0]
    assert (top["error_message"], top["error_code"], top["views"], top["lessons"]) == (TIMEOUT, "408", 2, 2)
    assert set(errors["error_message"].fillna("none")) == {TIMEOUT, "none"}
    in_day = operations.playback_errors(con, start=NOW - timedelta(days=1), end=NOW)
    assert in_day.iloc[0]["error_message"] in (TIMEOUT, "Decode error") and len(in_day) == 3
    safari = operations.playback_errors(con, **HOUR, by="browser", value="Safari")
    # The failure with a message, then the exit before start (no message) last.
    assert safari["error_message"].fillna("none").tolist() == [TIMEOUT, "none"] and safari["views"].sum() == 2
    assert operations.playback_errors(con, **HOUR, by="lesson", value=2)["views"].sum() == 3


def test_failed_views_narrow_to_a_value_a_failure_and_a_message(con: duckdb.DuckDBPyConnection) -> None:
    every = operations.failed_views(con, **HOUR)
    assert len(every) == 5 and every["view_start"].is_monotonic_decreasing
    assert "viewer_user_id" not in every.columns
    assert len(operations.failed_views(con, **HOUR, flag="playback_failure")) == 3
    assert len(operations.failed_views(con, **HOUR, by="browser", value="Chrome")) == 2
    unknown = operations.failed_views(con, **HOUR, by="browser", value=None)
    assert len(unknown) == 1 and unknown.iloc[0]["browser"] is None
    timeouts = operations.failed_views(con, **HOUR, message=TIMEOUT, message_picked=True)
    assert sorted(timeouts["lesson_title"]) == ["One", "Two"]
    no_message = operations.failed_views(con, **HOUR, message=None, message_picked=True)
    assert len(no_message) == 3
    assert len(operations.failed_views(con, **HOUR, by="lesson", value=1, flag="video_startup_failure")) == 1


def test_bad_arguments_are_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="cannot break playback down"):
        operations.playback_breakdown(con, **HOUR, by="browser; DROP TABLE mux_views")
    with pytest.raises(ValueError, match="unknown failure"):
        operations.failed_views(con, **HOUR, flag="rebuffer")
    with pytest.raises(ValueError, match="timezone-aware"):
        operations.playback_totals(con, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))

"""The lesson tables' pure helpers."""

from __future__ import annotations

import math

import pytest

from dashboard.lesson_tables import duration_text, errored_warnings, lessons_frame, pending_caption
from dashboard.platform_db import LessonRow
from tests.dashboard.rows import lesson_row


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (math.nan, "—"),
        # Rows stored before the webhook receiver parsed strictly may hold these; the page must still draw.
        (math.inf, "—"),
        (-math.inf, "—"),
        (-5.0, "—"),
        (1e300, "—"),
        (0.4, "0:00"),
        (65.0, "1:05"),
        (3725.0, "1:02:05"),
    ],
)
def test_duration_text(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


def row(position: int, status: str, error: str | None = None) -> LessonRow:
    return lesson_row(id=position, position=position, title=f"L{position}", status=status, error=error)


def test_pending_lessons_are_named_until_mux_reports_ready() -> None:
    rows = [row(1, "waiting_upload"), row(2, "ready"), row(3, "processing")]
    assert pending_caption(rows, 3) == (
        ":material/hourglass_top: 1. L1, 3. L3: refreshing every 3 s until Mux reports ready."
    )
    assert pending_caption([row(2, "ready")], 3) is None


def test_each_errored_lesson_gets_a_warning_with_muxs_message() -> None:
    rows = [row(1, "errored", "bad codec"), row(2, "ready"), row(3, "errored")]
    assert errored_warnings(rows) == [
        "**1. L1**: Mux could not process the video — bad codec. Upload it again.",
        "**3. L3**: Mux could not process the video — no message. Upload it again.",
    ]


def test_titles_that_carry_their_number_are_not_numbered_twice() -> None:
    numbered = lesson_row(id=1, position=1, title="1. DataFrames", status="ready")
    plain = lesson_row(id=2, position=2, title="Loops", status="ready")
    assert (numbered.label, plain.label) == ("1. DataFrames", "2. Loops")
    table = lessons_frame([numbered, plain])
    assert table[["#", "lesson"]].values.tolist() == [[1, "DataFrames"], [2, "Loops"]]

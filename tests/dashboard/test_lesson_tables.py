"""The lesson tables' pure helpers."""

from __future__ import annotations

import math

import pytest

from dashboard.lesson_tables import duration_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "–"),
        (math.nan, "–"),
        # Rows stored before the webhook receiver parsed strictly may hold these; the page must still draw.
        (math.inf, "–"),
        (-math.inf, "–"),
        (-5.0, "–"),
        (1e300, "–"),
        (0.4, "0:00"),
        (65.0, "1:05"),
        (3725.0, "1:02:05"),
    ],
)
def test_duration_text(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text

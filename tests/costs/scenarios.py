"""Small literal scenarios shared by the cost tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from core.costs.estimate import Period


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def hand_worked_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Period]:
    """November 2026 (30 days); two plus-quality 1080p assets. See test_hand_worked_month for the arithmetic."""
    assets = pd.DataFrame(
        {
            "asset_id": ["A", "B"],
            "lesson_id": pd.array([1, 2], dtype="Int64"),
            "duration_s": [600.0, 1500.0],  # 10 and 25 minutes
            "resolution_tier": ["1080p", "1080p"],
            "video_quality": ["plus", "plus"],
            "created_at": [at(2026, 11, 16), at(2026, 9, 1)],
            "deleted_at": [None, at(2026, 11, 16)],
        }
    )
    delivery = pd.DataFrame(
        {"asset_id": ["A"], "day": [date(2026, 11, 16)], "resolution_tier": ["1080p"], "delivered_s": [1234 * 60.0]}
    )
    views = pd.DataFrame({"asset_id": ["B"], "day": [date(2026, 9, 22)]})  # B last played 40 days before Nov 1
    return assets, delivery, views, Period.month(date(2026, 11, 1))


def empty_views() -> pd.DataFrame:
    return pd.DataFrame({"asset_id": pd.Series([], dtype="string"), "day": pd.Series([], dtype="datetime64[s]")})


def empty_delivery() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "asset_id": pd.Series([], dtype="string"),
            "day": pd.Series([], dtype="datetime64[s]"),
            "resolution_tier": pd.Series([], dtype="string"),
            "delivered_s": pd.Series([], dtype="float64"),
        }
    )

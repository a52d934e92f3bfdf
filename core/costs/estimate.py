"""Usage-based cost estimates from DataFrames: the frames go into an in-memory DuckDB, then the estimator.

`estimate_costs(assets, delivery, views, period, book)` is the estimator for inputs already in memory
(what-if scenarios, tests); the warehouse is read in place (`warehouse/costs.py`). Both take the same path:
`core/costs/inputs.py` reads the relations into integer arrays, `core/costs/pricing.py` prices them (the
model), `core/costs/exact.py` keeps the money exact, `core/costs/rollups.py` rolls the rows up.

Frames (pandas):
- assets: `asset_id`, `lesson_id` (nullable), `duration_s`, `resolution_tier`, `video_quality`, `created_at`,
  `deleted_at` (nullable), optional `status` (errored assets are not billed).
- delivery: `asset_id`, `day`, `resolution_tier` (the tier *delivered*), `delivered_s`; optional
  `video_quality` / `lesson_id` for assets missing from `assets` (long deleted).
- views: `asset_id`, `day` — days the asset was played, from at least `cold_after_days` before the period
  (delivery days count as views too). They drive Automatic Cold Storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from core.costs.errors import CostInputInvalid
from core.costs.inputs import TIER_PARTS
from core.costs.period import (
    DELIVERY,
    ENCODING,
    ROW_COLUMNS,
    STORAGE,
    CostEstimate,
    Period,
    day_numbers,
    month_start,
    next_month,
    priced_window,
    to_day,
)
from core.costs.pricebook import PriceBook
from core.costs.pricing import Sources, price
from core.costs.rollups import estimate

ASSET_COLUMNS = ("asset_id", "lesson_id", "duration_s", "resolution_tier", "video_quality", "created_at", "deleted_at")
DELIVERY_COLUMNS = ("asset_id", "day", "resolution_tier", "delivered_s")
VIEW_COLUMNS = ("asset_id", "day")
MISSING_DAY = np.iinfo(np.int64).min

__all__ = [
    "DELIVERY",
    "ENCODING",
    "ROW_COLUMNS",
    "STORAGE",
    "CostEstimate",
    "Period",
    "day_numbers",
    "estimate_costs",
    "month_start",
    "next_month",
    "to_day",
]


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CostInputInvalid(f"{name} frame lacks columns {', '.join(missing)}")


def _strings(values: pd.Series | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.string())
    return pa.array(values.astype("string").astype(object).where(values.notna(), None), type=pa.string())


def _days(values: pd.Series) -> pa.Array:
    days = day_numbers(values)
    return pa.array(days, type=pa.int64(), mask=days == MISSING_DAY)


def _seconds(values: pd.Series) -> pa.Array:
    """Floats with NaN as missing (so NaN seconds are never > 0)."""
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return pa.array(numeric, type=pa.float64(), from_pandas=True)


def frame_tables(assets: pd.DataFrame, delivery: pd.DataFrame, views: pd.DataFrame) -> dict[str, pa.Table]:
    """The frames as Arrow tables with the estimator's input columns (`core/costs/inputs.py`)."""
    _require(assets, ASSET_COLUMNS, "assets")
    _require(delivery, DELIVERY_COLUMNS, "delivery")
    _require(views, VIEW_COLUMNS, "views")
    n_a, n_d = len(assets), len(delivery)
    lessons = pd.array(pd.to_numeric(assets["lesson_id"], errors="coerce"), dtype="Int64")
    return {
        "assets": pa.table(
            {
                "asset_id": _strings(assets["asset_id"], n_a),
                "lesson_id": pa.array(lessons, type=pa.int64()),
                "duration_s": _seconds(assets["duration_s"]),
                "resolution_tier": _strings(assets["resolution_tier"], n_a),
                "video_quality": _strings(assets["video_quality"], n_a),
                "created_day": _days(assets["created_at"]),
                "deleted_day": _days(assets["deleted_at"]),
                "status": _strings(assets.get("status"), n_a),
                "ord": pa.array(np.arange(n_a), type=pa.int64()),
            }
        ),
        # Each row as a day of usage at its own (raw) tier: the `other_s` part of the wide input.
        "delivery": pa.table(
            {
                "asset_id": _strings(delivery["asset_id"], n_d),
                "day": _days(delivery["day"]),
                **{part: pa.array(np.zeros(n_d), pa.float64()) for part in TIER_PARTS},
                "other_s": _seconds(delivery["delivered_s"]),
                "other_tier": _strings(delivery["resolution_tier"], n_d),
                "video_quality": _strings(delivery.get("video_quality"), n_d),
                "lesson_id": pa.array(
                    pd.array(pd.to_numeric(delivery["lesson_id"], errors="coerce"), dtype="Int64")
                    if "lesson_id" in delivery.columns
                    else pd.array([None] * n_d, dtype="Int64"),
                    type=pa.int64(),
                ),
                "ord": pa.array(np.arange(n_d), type=pa.int64()),
            }
        ),
        "views": pa.table({"asset_id": _strings(views["asset_id"], len(views)), "day": _days(views["day"])}),
    }


def estimate_costs(
    assets: pd.DataFrame,
    delivery: pd.DataFrame,
    views: pd.DataFrame,
    period: Period,
    book: PriceBook,
    *,
    as_of: date | None = None,
    split_at: Iterable[date] = (),
    detail: bool = True,
) -> CostEstimate:
    """Price `period`. `as_of` (exclusive) stops storage at the last day with data (default: period end).

    `split_at`: more days to cut storage runs at, so `subset()` of sub-periods starting there is exact.
    `detail`: also return the priced rows (`CostEstimate.rows`).
    """
    tables = frame_tables(assets, delivery, views)
    window_start, window_end, notes = priced_window(period, as_of)
    con = duckdb.connect()
    try:
        for name, table in tables.items():
            con.register(f"frame_{name}", table)
        sources = Sources(
            assets="SELECT * FROM frame_assets",
            delivery="SELECT * FROM frame_delivery",
            views="SELECT * FROM frame_views WHERE asset_id IS NOT NULL AND day IS NOT NULL",
        )
        boundaries = [period.start, period.end, *split_at]
        priced = price(con, sources, book, window=(window_start, window_end), boundaries=boundaries)
        return estimate(priced, period, detail=detail, notes=notes)
    finally:
        con.close()

"""The estimator's inputs, read by DuckDB into integer arrays: strings stay in SQL, numbers cross over.

`read_inputs(con, sources, book, window=...)` runs three queries on `con` against three relations
(`Sources`: SQL on the warehouse, or registered frames) and returns `Inputs`: per asset (errored ones left
out, the last row of an asset_id winning) its lesson, quality and tier codes, duration in microseconds,
creation day and billing end; one row per delivered (asset, day, tier) of the window with delivered
microseconds; and one int64 key per play day (`storage_runs`). DuckDB joins the asset ids (strings) to a
dense index; qualities and tiers are read by `pricebook.normalize_quality` / `normalize_tier`, once per
distinct spelling; unknown ones are priced as plus / 1080p.

Relations (column names are the contract):
- assets: `asset_id`, `lesson_id`, `duration_s`, `resolution_tier`, `video_quality`, `created_day`,
  `deleted_day` (days since 1970-01-01; deleted NULL while the asset exists), `status`, `ord`;
- delivery, one row per asset and day (or per input row): `asset_id`, `day`, seconds delivered per tier
  `s720`, `s1080`, `s1440`, `s2160`, `saudio`, and `other_s` at the tier spelled `other_tier`; for assets
  missing from `assets` (long deleted) `video_quality` and `lesson_id`; `ord`;
- views: `asset_id`, `day` (duplicates are fine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.costs.errors import CostInputInvalid
from core.costs.pricebook import QUALITIES, TIERS, PriceBook, normalize_quality, normalize_tier
from core.costs.storage_runs import play_keys

PLUS, P1080, BASIC = QUALITIES.index("plus"), TIERS.index("1080p"), QUALITIES.index("basic")
TIER_PARTS = {"s720": "720p", "s1080": "1080p", "s1440": "1440p", "s2160": "2160p", "saudio": "audio-only"}
UNKNOWN = -1


@dataclass(frozen=True)
class Sources:
    """The estimator's three input relations as SQL on one connection, and the parameters they bind."""

    assets: str
    delivery: str
    views: str
    params: dict[str, Any] = field(default_factory=dict)
    unique_assets: bool = False  # no asset_id twice among `assets` (skips a dedupe)

    def bound(self, sql: str) -> dict[str, Any]:
        """The parameters `sql` uses (DuckDB rejects a parameter a statement does not use)."""
        return {k: v for k, v in self.params.items() if f"${k}" in sql}


@dataclass
class Inputs:
    """Arrays by asset index (known assets 0..n-1, then assets only seen in delivery), delivery rows, plays."""

    asset_ids: pa.Array  # names by index
    lesson_id: np.ndarray  # int64 by index, with `lesson_missing`
    lesson_missing: np.ndarray
    quality: np.ndarray  # known assets only (codes into QUALITIES / TIERS)
    tier: np.ndarray
    duration_us: np.ndarray
    created: np.ndarray  # day numbers
    end: np.ndarray  # first day not billed (window end while the asset exists)
    delivery: dict[str, np.ndarray]  # asset, day, quality, tier, us
    play_keys: np.ndarray
    notes: list[str]


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    """A query's result as Arrow: numeric columns become numpy arrays without a copy."""
    return con.sql(sql, params=params or None).to_arrow_table()


def _codes(values: pa.ChunkedArray | pa.Array, normalize: Any, names: tuple[str, ...]) -> np.ndarray:
    """Index into `names` per value (UNKNOWN when the spelling means nothing), normalising each distinct one."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values.cast(pa.string()))
    lookup = {name: i for i, name in enumerate(names)}
    spellings = pd.Series(encoded.dictionary.to_pylist(), dtype="object")
    mapped = normalize(spellings).map(lookup).fillna(UNKNOWN).to_numpy(dtype=np.int64)
    indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    if not mapped.size:
        return np.full(indices.size, UNKNOWN, dtype=np.int64)
    return np.where(indices >= 0, mapped[np.clip(indices, 0, None)], UNKNOWN)


def _us(seconds: np.ndarray) -> np.ndarray:
    """Seconds (float) -> whole microseconds, as Mux reports them; missing, negative or NaN -> 0."""
    seconds = np.nan_to_num(np.asarray(seconds, dtype=np.float64), nan=0.0)
    micros: np.ndarray = np.floor(np.clip(seconds, 0.0, None) * 1e6 + 0.5).astype(np.int64)
    return micros


def read_inputs(
    con: duckdb.DuckDBPyConnection, sources: Sources, book: PriceBook, *, window: tuple[int, int]
) -> Inputs:
    """Everything the estimator needs for the window [w0, w1) of day numbers, as arrays."""
    w0, w1 = window
    notes: list[str] = []
    assets = _assets(con, sources, book, w1, notes)
    parts = ", ".join(f"d.{c}" for c in TIER_PARTS)
    try:
        sql = f"""
            SELECT a.idx, CAST(d.day AS INTEGER) AS day, {parts}, d.other_s,
                   CASE WHEN d.other_s > 0 THEN d.other_tier END AS other_tier,
                   CASE WHEN a.idx IS NULL THEN d.asset_id END AS unknown_id,
                   CASE WHEN a.idx IS NULL THEN d.lesson_id END AS unknown_lesson,
                   CASE WHEN a.idx IS NULL THEN d.video_quality END AS unknown_quality,
                   CASE WHEN a.idx IS NULL THEN d.ord END AS unknown_ord
            FROM ({sources.delivery}) d LEFT JOIN cost_assets a ON a.asset_id = d.asset_id
            WHERE d.day >= {w0} AND d.day < {w1}
        """
        delivery = _arrow(con, sql, sources.bound(sql))
        # Keys and the life filter in numpy: ~2x cheaper than the same arithmetic in DuckDB here.
        sql = (
            f"SELECT a.idx, CAST(v.day AS INTEGER) AS day FROM ({sources.views}) v JOIN cost_assets a USING (asset_id)"
        )
        views = _arrow(con, sql, sources.bound(sql))
    finally:
        con.unregister("cost_assets")  # the connection may be the sync's, shared with other jobs
    inputs = _delivery(assets, delivery, notes)
    # Plays: view days, and days with delivery, while the asset exists (they set its storage class).
    known = inputs.delivery["asset"] < assets.created.size
    play_asset = np.concatenate([_column(views, "idx", np.int64), inputs.delivery["asset"][known]])
    play_day = np.concatenate([_column(views, "day", np.int64), inputs.delivery["day"][known]])
    alive = (play_day >= assets.created[play_asset]) & (play_day < assets.end[play_asset])
    inputs.play_keys = play_keys(play_asset[alive], play_day[alive])
    return inputs


@dataclass
class _Assets:
    table: pa.Table
    quality: np.ndarray
    tier: np.ndarray
    created: np.ndarray
    end: np.ndarray


def _assets(con: duckdb.DuckDBPyConnection, sources: Sources, book: PriceBook, w1: int, notes: list[str]) -> _Assets:
    """The known assets in index order, their codes and billing days; `cost_assets` maps ids to indexes."""
    # The last row of an asset_id wins (frames may repeat one, in order; the warehouse's are unique already
    # and any index order will do).
    last = "QUALIFY row_number() OVER (PARTITION BY asset_id ORDER BY ord DESC) = 1 ORDER BY ord"
    sql = f"""
        SELECT asset_id, lesson_id, duration_s, resolution_tier, video_quality, created_day, deleted_day
        FROM ({sources.assets}) WHERE status IS DISTINCT FROM 'errored' {"" if sources.unique_assets else last}
    """
    assets = _arrow(con, sql, sources.bound(sql))
    if assets.column("created_day").null_count:
        raise CostInputInvalid("every asset needs created_at")
    quality = _codes(assets.column("video_quality"), normalize_quality, QUALITIES)
    tier = _codes(assets.column("resolution_tier"), normalize_tier, TIERS)
    if (quality == UNKNOWN).any() or (tier == UNKNOWN).any():
        notes.append("assets with an unknown video quality or resolution tier priced as plus / 1080p")
    quality = np.where(quality == UNKNOWN, PLUS, quality)
    tier = np.where(tier == UNKNOWN, P1080, tier)
    created = _column(assets, "created_day", np.int64)
    deleted = assets.column("deleted_day")
    gone = ~np.asarray(deleted.is_null())
    end = np.where(gone, deleted.fill_null(0).to_numpy(), w1).astype(np.int64)
    if book.basic_minimum_days > 0:
        # A deleted basic asset is billed until at least `basic_minimum_days` after its creation.
        end = np.where(gone & (quality == BASIC), np.maximum(end, created + book.basic_minimum_days), end)
    # Ids -> dense index, for the joins (an Arrow table: nothing is copied into DuckDB).
    index = pa.table(
        {
            "asset_id": assets.column("asset_id"),
            "idx": pa.array(np.arange(assets.num_rows), pa.int32()),
        }
    )
    con.register("cost_assets", index)
    return _Assets(assets, quality, tier, created, end)


def _column(table: pa.Table, name: str, dtype: type[np.generic], fill: float = 0) -> np.ndarray:
    values: np.ndarray = table.column(name).fill_null(fill).to_numpy().astype(dtype, copy=False)
    return values


def _delivery(assets: _Assets, delivery: pa.Table, notes: list[str]) -> Inputs:
    """Delivery rows, one per (input row, tier with seconds); an asset missing from the asset table gets an
    index after the known ones and the lesson of its first row (by `ord`)."""
    n = assets.table.num_rows
    lessons = assets.table.column("lesson_id")
    names = assets.table.column("asset_id").combine_chunks()
    lesson_id = lessons.fill_null(0).to_numpy().astype(np.int64)
    lesson_missing = np.asarray(lessons.is_null())
    row_asset = _column(delivery, "idx", np.int64, -1)
    row_day = _column(delivery, "day", np.int64)
    other_tier = _codes(delivery.column("other_tier"), normalize_tier, TIERS)
    seconds = np.column_stack(
        [_column(delivery, c, np.float64, np.nan) for c in TIER_PARTS]
        + [_column(delivery, "other_s", np.float64, np.nan)]
    )
    row, part = np.nonzero(seconds > 0)  # NaN is not > 0; row-major: each row's tiers in turn
    asset = row_asset[row]
    is_other = part == len(TIER_PARTS)
    tiers = np.where(is_other, other_tier[row], part)
    known = asset >= 0
    quality = np.where(known, assets.quality[np.clip(asset, 0, max(n - 1, 0))] if n else PLUS, PLUS)
    if not known.all():
        notes.append(f"{int((~known).sum())} delivery rows for assets not in the asset table (attributed to no lesson)")
        names, lesson_id, lesson_missing, asset, quality = _unknown_assets(
            delivery, row, known, n, names, lesson_id, lesson_missing, asset, quality
        )
    unknown_tier = int((is_other & (tiers == UNKNOWN)).sum())
    if unknown_tier:
        notes.append(f"{unknown_tier} delivery rows with an unknown resolution tier priced as 1080p")
    return Inputs(
        asset_ids=names,
        lesson_id=lesson_id,
        lesson_missing=lesson_missing,
        quality=assets.quality,
        tier=assets.tier,
        duration_us=_us(_column(assets.table, "duration_s", np.float64, np.nan)),
        created=assets.created,
        end=assets.end,
        delivery={
            "asset": asset,
            "day": row_day[row],
            "quality": quality,
            "tier": np.where(tiers == UNKNOWN, P1080, tiers),
            "us": _us(seconds[row, part]),
        },
        play_keys=np.zeros(0, np.int64),
        notes=notes,
    )


def _unknown_assets(
    delivery: pa.Table,
    source_row: np.ndarray,
    known: np.ndarray,
    n: int,
    names: pa.Array,
    lesson_id: np.ndarray,
    lesson_missing: np.ndarray,
    asset: np.ndarray,
    quality: np.ndarray,
) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Assets only seen in delivery: an index after the known ones (in order of their first row), the
    lesson of their first row, and each row's own video quality (plus when it has none)."""
    rows = source_row[~known]
    table = delivery.take(pa.array(rows))
    ids = table.column("unknown_id").to_pylist()
    ords = table.column("unknown_ord").to_pylist()
    lessons = table.column("unknown_lesson").to_pylist()
    first: dict[str, tuple[Any, Any]] = {}
    for i in sorted(range(len(ids)), key=lambda i: (ords[i], i)):
        first.setdefault(ids[i], (ords[i], lessons[i]))
    ordered = sorted(first, key=lambda a: (first[a][0], a))
    index = {asset_id: n + k for k, asset_id in enumerate(ordered)}
    asset = asset.copy()
    asset[~known] = [index[a] for a in ids]
    own = _codes(table.column("unknown_quality"), normalize_quality, QUALITIES)
    quality = quality.copy()
    quality[~known] = np.where(own == UNKNOWN, PLUS, own)
    firsts = [first[a][1] for a in ordered]
    names = pa.concat_arrays([names, pa.array(ordered, pa.string())])
    lesson_id = np.r_[lesson_id, [0 if x is None else int(x) for x in firsts]].astype(np.int64)
    lesson_missing = np.r_[lesson_missing, [x is None for x in firsts]]
    return names, lesson_id, lesson_missing, asset, quality

"""The estimator as it was before money became exact (numpy over pandas frames, floats rounded per row),
kept verbatim as the reference the estimator is compared with (`test_estimator_reference.py`), plus its
day spreading.

Only instrumentation was added: the amounts before rounding, so a test can tell a real difference from
a half micro-dollar that floats round one way and exact arithmetic the other.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.costs.errors import CostInputInvalid
from core.costs.period import Period, day_numbers, month_start, next_month
from core.costs.pricebook import (
    LINES,
    QUALITIES,
    STORAGE_CLASSES,
    TIERS,
    PriceBook,
    normalize_quality,
    normalize_tier,
)

EPOCH = np.datetime64("1970-01-01", "D")
ASSET_COLUMNS = ("asset_id", "lesson_id", "duration_s", "resolution_tier", "video_quality", "created_at", "deleted_at")
DELIVERY_COLUMNS = ("asset_id", "day", "resolution_tier", "delivered_s")
VIEW_COLUMNS = ("asset_id", "day")
ENCODING, STORAGE, DELIVERY = 0, 1, 2
NO_CLASS = -1


def _num(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CostInputInvalid(f"{name} frame lacks columns {', '.join(missing)}")


def _round(values: np.ndarray) -> np.ndarray:
    """Non-negative float micro-dollars -> int64, half up (every amount here is >= 0)."""
    return np.floor(values + 0.5).astype(np.int64)


def _index_of(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in `index` (-1 when absent), hashing each distinct value once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        where = index.get_indexer(pd.Index(values.cat.categories).astype("string"))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, where[np.clip(codes, 0, None)] if where.size else -1, -1)
    codes, uniques = pd.factorize(values)
    where = index.get_indexer(pd.Index(uniques).astype("string"))
    return np.where(codes >= 0, where[np.clip(codes, 0, None)] if where.size else -1, -1)


def _codes(values: pd.Series, normalize: Callable[[pd.Series], pd.Series], names: tuple[str, ...]) -> np.ndarray:
    """Index into `names` per value (-1 when unknown), normalising each distinct value once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = {name: i for i, name in enumerate(names)}
    mapped = normalize(pd.Series(uniques, dtype="object")).map(lookup).fillna(-1).to_numpy(dtype=np.int64)
    return np.where(codes >= 0, mapped[np.clip(codes, 0, None)] if mapped.size else -1, -1)


class _Months:
    """Month index arithmetic over the data window."""

    def __init__(self, first: date, end: date) -> None:
        self.starts: list[date] = []
        m = first
        while m < end:
            self.starts.append(m)
            m = next_month(m)
        self.start_nums = np.array([_num(m) for m in self.starts], dtype=np.int64)
        self.lengths = np.array([calendar.monthrange(m.year, m.month)[1] for m in self.starts], dtype=np.int64)
        # A day -> month table over the window: one gather per row instead of a binary search.
        self.first_num = int(self.start_nums[0]) if self.starts else 0
        self.by_day = np.repeat(np.arange(len(self.starts)), self.lengths)

    def index(self, days: np.ndarray) -> np.ndarray:
        """Month index of each day inside the window (days outside it are clipped to the edge months)."""
        return self.by_day[np.clip(days - self.first_num, 0, self.by_day.size - 1)]


def reference_rows(
    assets: pd.DataFrame,
    delivery: pd.DataFrame,
    views: pd.DataFrame,
    period: Period,
    book: PriceBook,
    *,
    as_of: date | None = None,
    split_at: Iterable[date] = (),
) -> pd.DataFrame:
    """The priced rows of `period` as the numpy estimator computed them, plus each amount before rounding
    (`gross_raw`, `volume_raw`, `free_raw`: where one sits on a half micro-dollar, floats may round it
    either way while the exact estimator rounds it up)."""
    _require(assets, ASSET_COLUMNS, "assets")
    _require(delivery, DELIVERY_COLUMNS, "delivery")
    _require(views, VIEW_COLUMNS, "views")
    notes: list[str] = []
    window_start, window_end = month_start(period.start), next_month(period.last)
    if as_of is not None and as_of < window_end:
        window_end = max(as_of, window_start + timedelta(days=1))
        if as_of < period.end:
            notes.append(f"data until {as_of - timedelta(days=1)}: later days of the period are not estimated")
    months = _Months(window_start, window_end)
    w0, w1 = _num(window_start), _num(window_end)
    p0, p1 = _num(period.start), min(_num(period.end), w1)

    if "status" in assets.columns:
        errored = assets["status"].astype("string").eq("errored").fillna(False).to_numpy()
        assets = assets.loc[~errored]
    assets = assets.drop_duplicates("asset_id", keep="last").reset_index(drop=True)
    asset_ids = pd.Index(assets["asset_id"].astype("string"))
    quality = _codes(assets["video_quality"], normalize_quality, QUALITIES)
    tier = _codes(assets["resolution_tier"], normalize_tier, TIERS)
    if (quality < 0).any() or (tier < 0).any():
        notes.append("assets with an unknown video quality or resolution tier priced as plus / 1080p")
    quality = np.where(quality < 0, QUALITIES.index("plus"), quality)
    tier = np.where(tier < 0, TIERS.index("1080p"), tier)
    minutes = assets["duration_s"].astype("float64").fillna(0.0).clip(lower=0).to_numpy() / 60.0
    created = day_numbers(assets["created_at"])
    if (created == np.iinfo(np.int64).min).any():
        raise CostInputInvalid("every asset needs created_at")
    deleted = day_numbers(assets["deleted_at"])
    alive = deleted == np.iinfo(np.int64).min
    end = np.where(alive, w1, deleted)
    if book.basic_minimum_days > 0:
        minimum_end = created + book.basic_minimum_days
        end = np.where(~alive & (quality == QUALITIES.index("basic")), np.maximum(end, minimum_end), end)

    # -- delivery rows -------------------------------------------------------------------------------
    del_day = day_numbers(delivery["day"])
    keep = (del_day >= w0) & (del_day < w1) & (delivery["delivered_s"].fillna(0).to_numpy() > 0)
    dlv = delivery if keep.all() else delivery.loc[keep]
    del_day = del_day[keep]
    del_asset = _index_of(asset_ids, dlv["asset_id"])
    known = del_asset >= 0
    del_quality = np.where(known, quality[np.clip(del_asset, 0, None)], QUALITIES.index("plus"))
    if (~known).any():
        if "video_quality" in dlv.columns:
            own = _codes(dlv["video_quality"], normalize_quality, QUALITIES)
            del_quality = np.where(known | (own < 0), del_quality, own)
        notes.append(f"{int((~known).sum())} delivery rows for assets not in the asset table (attributed to no lesson)")
    del_tier = _codes(dlv["resolution_tier"], normalize_tier, TIERS)
    if (del_tier < 0).any():
        notes.append(f"{int((del_tier < 0).sum())} delivery rows with an unknown resolution tier priced as 1080p")
    del_tier = np.where(del_tier < 0, TIERS.index("1080p"), del_tier)
    del_minutes = dlv["delivered_s"].astype("float64").to_numpy() / 60.0

    # -- storage runs --------------------------------------------------------------------------------
    view_asset = np.concatenate([_index_of(asset_ids, views["asset_id"]), del_asset[known]])
    view_day = np.concatenate([day_numbers(views["day"]), del_day[known]])
    ok = view_asset >= 0
    view_asset, view_day = view_asset[ok], view_day[ok]
    ok = (view_day >= created[view_asset]) & (view_day < end[view_asset])
    st = _storage_runs(view_asset[ok], view_day[ok], created, end, w0, w1, book)
    st_asset, st_start, st_end, st_class = _split(
        *st, boundaries=np.unique([*months.start_nums[1:], p0, p1, *(_num(d) for d in split_at)])
    )

    # -- assemble rows -------------------------------------------------------------------------------
    enc_asset = np.flatnonzero((created >= w0) & (created < w1) & (minutes > 0))
    n_enc, n_st, n_del = enc_asset.size, st_asset.size, del_day.size
    line = np.concatenate([np.full(n_enc, ENCODING), np.full(n_st, STORAGE), np.full(n_del, DELIVERY)])
    row_asset = np.concatenate([enc_asset, st_asset, del_asset])
    day = np.concatenate([created[enc_asset], st_start, del_day])
    days = np.concatenate([np.ones(n_enc, np.int64), st_end - st_start, np.ones(n_del, np.int64)])
    q = np.concatenate([quality[enc_asset], quality[st_asset], del_quality])
    t = np.concatenate([tier[enc_asset], tier[st_asset], del_tier])
    s_class = np.concatenate([np.full(n_enc, NO_CLASS), st_class, np.full(n_del, NO_CLASS)])
    month = months.index(day)
    quantity = np.concatenate([
        minutes[enc_asset],
        minutes[st_asset] * (st_end - st_start) / months.lengths[months.index(st_start)],
        del_minutes,
    ])  # fmt: skip

    rates = np.stack([book.rate_table(name) for name in LINES])  # [line, quality, tier]
    unit = rates[line, q, t]
    factors = book.storage_class_factors()
    unit = np.where(line == STORAGE, unit * factors[np.clip(s_class, 0, None)], unit)
    gross_raw = quantity * unit
    gross = _round(gross_raw)

    # Monthly volume tiers per (month, line, quality, tier) bucket, then free delivery minutes per month.
    bucket = ((month * len(LINES) + line) * len(QUALITIES) + q) * len(TIERS) + t
    n_buckets = len(months.starts) * len(LINES) * len(QUALITIES) * len(TIERS)
    bucket_minutes = np.bincount(bucket, weights=quantity, minlength=n_buckets)
    bucket_line = (np.arange(n_buckets) // (len(QUALITIES) * len(TIERS))) % len(LINES)
    multiplier = np.ones(n_buckets)
    for i, name in enumerate(LINES):
        sel = bucket_line == i
        multiplier[sel] = book.volume_multiplier(name, bucket_minutes[sel])
    volume_raw = gross * (1.0 - multiplier[bucket])
    volume = _round(volume_raw)
    delivered = np.bincount(month[n_enc + n_st :], weights=quantity[n_enc + n_st :], minlength=len(months.starts))
    with np.errstate(divide="ignore", invalid="ignore"):
        free_share = np.where(delivered > 0, np.minimum(1.0, book.free_delivery_minutes / delivered), 0.0)
    free = np.zeros_like(gross)
    free_raw = np.zeros(gross.size)
    dl = slice(n_enc + n_st, None)  # delivery rows come last
    free_raw[dl] = (gross[dl] - volume[dl]) * free_share[month[dl]]
    free[dl] = _round(free_raw[dl])
    net = gross - volume - free

    in_period = (day >= p0) & (day < p1)
    rows = _frame(
        in_period, assets, asset_ids, dlv, known, n_enc + n_st, row_asset, line, day, days, month, months, q, t,
        s_class, quantity, gross, volume, free, net,
    )  # fmt: skip
    return rows.assign(gross_raw=gross_raw[in_period], volume_raw=volume_raw[in_period], free_raw=free_raw[in_period])


def _storage_runs(
    view_asset: np.ndarray,
    view_day: np.ndarray,
    created: np.ndarray,
    end: np.ndarray,
    w0: int,
    w1: int,
    book: PriceBook,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(asset, start, end, storage class) runs inside [w0, w1), from each asset's creation and view days.

    Anchors are the creation day and every view day; from an anchor `a` until the next one the asset is
    standard for `infrequent_after_days`, then infrequent until `cold_after_days`, then cold. The creation
    anchor is cold throughout when Mux starts unplayed assets cold.
    """
    n_assets = created.size
    key_bits = 20  # days since 1970 fit in 20 bits until 4840 AD
    anchor_asset = np.concatenate([np.arange(n_assets), view_asset])
    anchor_day = np.concatenate([created, view_day])
    is_view = np.concatenate([np.zeros(n_assets, bool), np.ones(view_asset.size, bool)])
    offset = int(created.min()) if n_assets else 0
    key = (anchor_asset << (key_bits + 1)) | ((anchor_day - offset).clip(0) << 1) | is_view
    key = np.sort(key)  # by asset, then day, creation before a view on the same day
    key = key[np.r_[True, key[1:] != key[:-1]]]
    anchor_asset = key >> (key_bits + 1)
    anchor_day = ((key >> 1) & ((1 << key_bits) - 1)) + offset
    is_view = (key & 1).astype(bool)
    inf_days, cold_days = book.infrequent_after_days, book.cold_after_days
    resets = is_view | (not book.new_assets_start_cold)  # anchors that start a standard run
    # A play within `inf_days` of the previous play only extends the standard run: merge such chains so
    # each run is one row, anchored at its first play and aging from its last one.
    same_prev = np.r_[False, anchor_asset[1:] == anchor_asset[:-1]]
    extends = same_prev & resets & np.r_[False, resets[:-1]] & (np.diff(anchor_day, prepend=0) < inf_days)
    heads = np.flatnonzero(~extends)
    last_day = np.maximum.reduceat(anchor_day, heads) if heads.size else anchor_day[:0]
    anchor_asset, a, resets = anchor_asset[heads], anchor_day[heads], resets[heads]
    same_next = np.r_[anchor_asset[1:] == anchor_asset[:-1], False]
    next_day = np.where(same_next, np.r_[a[1:], 0], end[anchor_asset])
    cold_from_start = ~resets
    std_end = np.where(cold_from_start, a, np.minimum(last_day + inf_days, next_day))
    inf_end = np.where(cold_from_start, a, np.minimum(last_day + cold_days, next_day))
    starts = np.concatenate([a, std_end, np.maximum(inf_end, std_end)])
    ends = np.concatenate([std_end, np.maximum(inf_end, std_end), next_day])
    classes = np.repeat(np.arange(len(STORAGE_CLASSES)), a.size)
    assets_ = np.tile(anchor_asset, len(STORAGE_CLASSES))
    starts, ends = np.maximum(starts, w0), np.minimum(ends, w1)
    keep = ends > starts
    return assets_[keep], starts[keep], ends[keep], classes[keep]


def _split(
    asset: np.ndarray, start: np.ndarray, end: np.ndarray, cls: np.ndarray, *, boundaries: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut runs at every boundary day (month starts, period bounds) so each piece sits in one month."""
    first = np.searchsorted(boundaries, start, side="right")
    last = np.searchsorted(boundaries, end, side="left")
    pieces = last - first + 1
    rep = np.repeat(np.arange(start.size), pieces)
    k = np.arange(rep.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    padded = np.r_[boundaries, np.iinfo(np.int64).max]
    piece_start = np.where(k == 0, start[rep], padded[np.clip(first[rep] + k - 1, 0, padded.size - 1)])
    piece_end = np.where(k == pieces[rep] - 1, end[rep], padded[np.clip(first[rep] + k, 0, padded.size - 1)])
    return asset[rep], piece_start, piece_end, cls[rep]


def _frame(
    keep: np.ndarray,
    assets: pd.DataFrame,
    asset_ids: pd.Index,
    dlv: pd.DataFrame,
    known: np.ndarray,
    n_asset_rows: int,
    row_asset: np.ndarray,
    line: np.ndarray,
    day: np.ndarray,
    days: np.ndarray,
    month: np.ndarray,
    months: _Months,
    q: np.ndarray,
    t: np.ndarray,
    s_class: np.ndarray,
    quantity: np.ndarray,
    gross: np.ndarray,
    volume: np.ndarray,
    free: np.ndarray,
    net: np.ndarray,
) -> pd.DataFrame:
    # Delivery rows for assets missing from the asset table get their own categories after the known ones.
    codes = row_asset.copy()
    lesson_known = assets["lesson_id"].astype("Int64")
    lesson_values = lesson_known.to_numpy("int64", na_value=0)
    lesson_missing = lesson_known.isna().to_numpy()
    categories = asset_ids
    if not known.all():
        unknown = dlv.loc[~known]
        unknown_ids = pd.Index(unknown["asset_id"].astype("string")).unique()
        categories = asset_ids.append(unknown_ids)
        unknown_rows = (np.arange(row_asset.size) >= n_asset_rows) & (row_asset < 0)
        codes[unknown_rows] = asset_ids.size + unknown_ids.get_indexer(unknown["asset_id"].astype("string"))
        if "lesson_id" in unknown.columns:
            lesson_unknown = unknown.drop_duplicates("asset_id")["lesson_id"].astype("Int64")
        else:
            lesson_unknown = pd.Series(pd.NA, index=range(unknown_ids.size), dtype="Int64")
        lesson_values = np.r_[lesson_values, lesson_unknown.to_numpy("int64", na_value=0)]
        lesson_missing = np.r_[lesson_missing, lesson_unknown.isna().to_numpy()]
    k = slice(None) if keep.all() else keep
    return pd.DataFrame(
        {
            "asset_id": pd.Categorical.from_codes(codes[k], categories=categories, validate=False),
            "lesson_id": pd.arrays.IntegerArray(lesson_values[codes[k]], lesson_missing[codes[k]]),
            "line": pd.Categorical.from_codes(line[k], categories=list(LINES), validate=False),
            "day": (EPOCH + day[k]).astype("datetime64[s]"),
            "days": days[k],
            "month": np.array(months.starts, dtype="datetime64[D]")[month[k]].astype("datetime64[s]"),
            "quality": pd.Categorical.from_codes(q[k], categories=list(QUALITIES), validate=False),
            "tier": pd.Categorical.from_codes(t[k], categories=list(TIERS), validate=False),
            "storage_class": pd.Categorical.from_codes(s_class[k], categories=list(STORAGE_CLASSES), validate=False),
            "quantity": quantity[k],
            "gross_micros": gross[k],
            "volume_micros": volume[k],
            "free_micros": free[k],
            "net_micros": net[k],
        },
        copy=False,  # millions of rows: consolidating the numeric columns into one block costs more than the rest
    )


def reference_daily(rows: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Per day, the rows spread over the days they cover (floor per day, remainder to the first days)."""
    n = period.days
    start = day_numbers(rows["day"]) - day_numbers(pd.Series([pd.Timestamp(period.start)]))[0]
    span = rows["days"].to_numpy(dtype=np.int64)
    line = rows["line"].cat.codes.to_numpy(dtype=np.int64)
    out: dict[str, Any] = {"day": pd.date_range(period.start, periods=n, freq="D").date}

    multi = span > 1  # storage runs; every other row sits on one day

    def spread(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Integer amounts over each row's days: floor per day, the remainder one unit to the first days."""
        one = mask & ~multi
        out = np.bincount(start[one], weights=values[one], minlength=n)[:n]
        many = mask & multi
        if many.any():
            s, d, a = start[many], span[many], values[many]
            per_day, rem = np.divmod(a, d)
            # Difference array: +per_day+1 at s, -1 at s+rem, -per_day at s+d (bincount sums exactly < 2**53).
            diff = np.bincount(s, weights=per_day + 1, minlength=n + 1)
            diff -= np.bincount(s + rem, minlength=n + 1)[: n + 1]
            diff -= np.bincount(s + d, weights=per_day, minlength=n + 1)[: n + 1]
            out = out + np.cumsum(diff[:n])
        return np.rint(out).astype(np.int64)

    def spread_float(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        s, d = start[mask], span[mask]
        share = values[mask] / d
        diff = np.bincount(s, weights=share, minlength=n + 1) - np.bincount(s + d, weights=share, minlength=n + 1)
        return np.cumsum(diff[:n])

    everything = np.ones(len(rows), dtype=bool)
    for name, code in (("encoding", ENCODING), ("storage", STORAGE), ("delivery", DELIVERY)):
        out[f"{name}_micros"] = spread(rows["net_micros"].to_numpy(), line == code)
    out["gross_micros"] = spread(rows["gross_micros"].to_numpy(), everything)
    out["volume_micros"] = spread(rows["volume_micros"].to_numpy(), everything)
    out["free_micros"] = spread(rows["free_micros"].to_numpy(), everything)
    out["net_micros"] = out["encoding_micros"] + out["storage_micros"] + out["delivery_micros"]
    qty = rows["quantity"].to_numpy()
    out["encoded_min"] = spread_float(qty, line == ENCODING)
    out["stored_min_months"] = spread_float(qty, line == STORAGE)
    out["delivered_min"] = spread_float(qty, line == DELIVERY)
    return pd.DataFrame(out)

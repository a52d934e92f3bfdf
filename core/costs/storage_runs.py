"""Storage runs: from each asset's creation and play days to runs of days at one storage class, cut at bounds.

The one step of the estimator that is a sort (of every asset's play days, one int64 key each): numpy
sorts 2.5M keys in ~0.05 s, a DuckDB window over them costs ~0.4 s of CPU on our 2-core machines
(docs/costs.md). No money is computed here.
"""

from __future__ import annotations

import numpy as np

from core.costs.pricebook import STORAGE_CLASSES, PriceBook

# Play keys: asset index, then day, then creation (0) before a play (1) on the same day.
DAY_BITS = 21  # day numbers -2**20 .. 2**20 (1099 BC .. 4840 AD) after the offset
DAY_OFFSET = 1 << (DAY_BITS - 1)


def play_keys(asset: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The int64 key of each play (asset index, day number)."""
    return (asset.astype(np.int64) << (DAY_BITS + 1)) | ((day.astype(np.int64) + DAY_OFFSET) << 1) | 1


def storage_runs(
    play_keys: np.ndarray, created: np.ndarray, end: np.ndarray, w0: int, w1: int, book: PriceBook
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(asset, start, end, storage class) runs inside [w0, w1), from each asset's creation and play days.

    `created` and `end` are indexed by asset; plays outside [created, end) must already be left out.
    Anchors are the creation day and every play day; from an anchor `a` until the next one the asset is
    standard for `infrequent_after_days`, then infrequent until `cold_after_days`, then cold. The creation
    anchor is cold throughout when Mux starts unplayed assets cold.
    """
    n_assets = created.size
    creation = (np.arange(n_assets, dtype=np.int64) << (DAY_BITS + 1)) | ((created.astype(np.int64) + DAY_OFFSET) << 1)
    key = np.sort(np.concatenate([creation, play_keys.astype(np.int64, copy=False)]))
    if key.size == 0:  # no assets at all
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    key = key[np.r_[True, key[1:] != key[:-1]]]  # a day played twice is one anchor
    anchor_asset = key >> (DAY_BITS + 1)
    anchor_day = ((key >> 1) & ((1 << DAY_BITS) - 1)) - DAY_OFFSET
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


def split_runs(
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

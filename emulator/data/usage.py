"""Delivery usage per asset (from the views' playing time) and per-viewer lesson progress aggregates.

Delivered seconds of a window = the playing time of the views that ended in it: the same rows the
Data API lists for that timeframe, so the two reconcile. Phones are served the 720p tier at most;
other devices the asset's own tier.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from emulator.data import catalog
from emulator.data.store import Lesson, ViewStore
from emulator.data.views import iso
from emulator.errors import invalid

HOUR = 3600
DAY = 86_400
USAGE_DELAY_S = 12 * HOUR  # Mux: the window must end at least 12 hours before the request
USAGE_RETENTION_S = 90 * DAY
TIER_KEYS = {
    "audio-only": "tier_audio_only",
    "720p": "tier_720p",
    "1080p": "tier_1080p",
    "1440p": "tier_1440p",
    "2160p": "tier_2160p",
}
ENCODING_TIER = {"basic": "baseline", "plus": "smart", "premium": "premium"}
_PHONE = np.array([p.device == "phone" for p in catalog.PROFILES])


def usage_window(values: list[str] | None, now: float) -> tuple[int, int]:
    """Mux's rules: hourly data, within the last 90 days, ending at least 12 hours ago.

    Without `timeframe[]` the window is the hour that ended 12 hours before now. Given bounds are
    widened to whole hours (start down, end up) because data only exists per hour.
    """
    values = [v for v in (values or []) if v != ""]
    if not values:
        end = math.floor((now - USAGE_DELAY_S) / HOUR) * HOUR
        return end - HOUR, end
    if len(values) != 2:
        raise invalid("timeframe[] must be two epoch timestamps: [start, end]")
    try:
        start, end = (int(float(v)) for v in values)
    except ValueError:
        raise invalid("timeframe[] must be two epoch timestamps: [start, end]") from None
    if start >= end:
        raise invalid("timeframe[] start must be before its end")
    start, end = start // HOUR * HOUR, -(-end // HOUR) * HOUR
    if end > now - USAGE_DELAY_S:
        raise invalid("Timeframe end must be at least 12 hours before the current time")
    if start < now - USAGE_RETENTION_S:
        raise invalid("Timeframe start must be within the last 90 days")
    return start, end


def delivery_rows(
    store: ViewStore, lo: int, hi: int, assets: dict[str, dict[str, Any]], asset_id: str | None
) -> list[dict[str, Any]]:
    """One DeliveryReport per asset with delivered seconds > 0, most delivered first."""
    n_assets = len(store.asset_ids)
    if n_assets == 0 or hi <= lo:
        return []
    per_key = np.zeros(n_assets * 2)
    lesson_asset = store.lesson_asset
    for start in range(lo, hi, 1 << 20):
        stop = min(hi, start + (1 << 20))
        key = lesson_asset[store["lesson"][start:stop]].astype(np.int64) * 2 + _PHONE[store["profile"][start:stop]]
        per_key += np.bincount(key, weights=store["playing_ms"][start:stop], minlength=n_assets * 2)
    seconds = per_key.reshape(n_assets, 2) / 1000.0
    first_lesson: dict[str, Lesson] = {}
    for lesson in store.lessons:
        first_lesson.setdefault(lesson.asset_id, lesson)
    rows = []
    for index, asset in enumerate(store.asset_ids):
        total = float(seconds[index].sum())
        if total <= 0 or (asset_id is not None and asset != asset_id):
            continue
        lesson = first_lesson[asset]
        current = assets.get(asset)
        tier = (current or {}).get("resolution_tier") or lesson.resolution_tier
        phone_tier = tier if tier in ("audio-only", "720p") else "720p"
        by_tier: dict[str, float] = {}
        for name, amount in ((tier, seconds[index, 0]), (phone_tier, seconds[index, 1])):
            if amount > 0:
                by_tier[TIER_KEYS[name]] = round(by_tier.get(TIER_KEYS[name], 0.0) + float(amount), 3)
        quality = (current or {}).get("video_quality") or lesson.video_quality
        row: dict[str, Any] = {
            "asset_id": asset,
            "created_at": (current or {}).get("created_at") or lesson.created_at,
            "asset_state": current["status"]
            if current and current.get("status") in ("ready", "errored")
            else "deleted",
            "asset_duration": float((current or {}).get("duration") or lesson.duration_s),
            "asset_resolution_tier": tier,
            "asset_encoding_tier": ENCODING_TIER.get(quality, "smart"),
            "asset_video_quality": quality,
            "delivered_seconds": round(total, 3),
            "delivered_seconds_by_resolution": by_tier,
        }
        passthrough = (current or {}).get("passthrough", lesson.passthrough)
        if passthrough is not None:
            row["passthrough"] = passthrough
        rows.append(row)
    rows.sort(key=lambda r: (-r["delivered_seconds"], r["asset_id"]))
    return rows


@dataclass(frozen=True)
class Progress:
    viewer: np.ndarray
    lesson: np.ndarray
    views: np.ndarray
    max_playhead_ms: np.ndarray
    playing_ms: np.ndarray
    first_start_ms: np.ndarray
    last_end_ms: np.ndarray


_progress_cache: OrderedDict[tuple[int, int], Progress] = OrderedDict()
_progress_lock = threading.Lock()


def progress(store: ViewStore, hi: int) -> Progress:
    """Per (viewer, lesson) aggregates over rows [0, hi), cached (the sort is the expensive part)."""
    key = (store.token, hi)
    with _progress_lock:
        cached = _progress_cache.get(key)
        if cached is not None:
            return cached
    pair = store["viewer"][:hi].astype(np.int64) * max(1, len(store.lessons)) + store["lesson"][:hi]
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if hi else np.empty(0, dtype=np.int64)

    def reduce(ufunc: np.ufunc, column: np.ndarray) -> np.ndarray:
        if not hi:
            return np.empty(0, dtype=np.int64)
        return np.asarray(ufunc.reduceat(column[:hi][order].astype(np.int64), starts))

    end_ms = store["end_ms"]
    start_ms = end_ms[:hi] - store["wall_ms"][:hi]
    result = Progress(
        viewer=pair[starts] // max(1, len(store.lessons)),
        lesson=pair[starts] % max(1, len(store.lessons)),
        views=np.diff(np.r_[starts, hi]),
        max_playhead_ms=reduce(np.maximum, store["playhead_ms"]),
        playing_ms=reduce(np.add, store["playing_ms"]),
        first_start_ms=reduce(np.minimum, np.asarray(start_ms)),
        last_end_ms=reduce(np.maximum, end_ms),
    )
    with _progress_lock:
        _progress_cache[key] = result
        while len(_progress_cache) > 2:
            _progress_cache.popitem(last=False)
    return result


def progress_rows(store: ViewStore, table: Progress, offset: int, limit: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(offset, min(offset + limit, len(table.views))):
        lesson = store.lessons[int(table.lesson[i])]
        rows.append(
            {
                "viewer_user_id": store.viewers[int(table.viewer[i])],
                "video_id": lesson.video_id,
                "asset_id": lesson.asset_id,
                "video_duration_s": lesson.duration_s,
                "views": int(table.views[i]),
                "max_position_s": int(table.max_playhead_ms[i]) / 1000.0,
                "playing_time_s": int(table.playing_ms[i]) / 1000.0,
                "first_view_at": iso(int(table.first_start_ms[i])),
                "last_view_at": iso(int(table.last_end_ms[i])),
            }
        )
    return rows

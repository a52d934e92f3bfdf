"""Mux Data metrics: overall value, breakdown by a dimension, timeseries — one grouped aggregation.

Every answer comes from `aggregate`, which walks the selection block by block and accumulates per
group (one group for overall, a dimension's labels for breakdown, time buckets for timeseries) with
`np.bincount`. Sums and ratios never hold more than a block; quantiles (median, 95th) gather the
selected values once and sort them per group.

Definitions (emulator's, following Mux's descriptions): percentages are fractions (0.012 = 1.2 %);
`rebuffer_percentage` avg = total rebuffering / total watch time of views that started;
`playback_failure_percentage` = failed views / views; `video_startup_time` covers views that started;
`playing_time` and watch times are milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from emulator.data.filters import Dimension, Selection
from emulator.data.store import FLAG_PLAYBACK_FAILURE, VES_SCALE, ViewStore
from emulator.errors import invalid


@dataclass(frozen=True)
class Metric:
    id: str
    default: str
    measurements: frozenset[str]
    global_value: float | None  # the emulator's stand-in for "Mux Global"
    higher_is_worse: bool | None  # None = a volume metric (more is just more)


def _metric(
    metric_id: str, default: str, measurements: str, global_value: float | None, worse: bool | None
) -> tuple[str, Metric]:
    return metric_id, Metric(metric_id, default, frozenset(measurements.split()), global_value, worse)


METRICS: dict[str, Metric] = dict(
    [
        _metric("views", "count", "count", None, None),
        _metric("unique_viewers", "count", "count", None, None),
        _metric("playing_time", "sum", "sum avg median 95th", None, None),
        _metric("video_startup_time", "median", "median 95th avg", 1169.0, True),
        _metric("rebuffer_percentage", "avg", "avg median 95th", 0.0071, True),
        _metric("playback_failure_percentage", "avg", "avg", 0.0123, True),
        _metric("viewer_experience_score", "avg", "avg median 95th", 0.78, False),
    ]
)
QUANTILES = {"median": 0.5, "95th": 0.95}
# Quantiles work on integers (value * scale): exact for the stored integer fields, 1e-6 for fractions.
QUANTILE_SCALE = {"viewer_experience_score": VES_SCALE, "rebuffer_percentage": 1e6, "playback_failure_percentage": 1.0}
HISTOGRAM_CELLS = 1 << 24
GRANULARITY_SECONDS = {"minute": 60, "ten_minutes": 600, "hour": 3600, "day": 86_400}
BREAKDOWN_ORDER = ("negative_impact", "value", "views", "field")
AGGREGATION = "view_end"


def resolve(metric_id: str, measurement: str | None) -> tuple[Metric, str]:
    metric = METRICS.get(metric_id)
    if metric is None:
        supported = ", ".join(METRICS)
        raise invalid(f"{metric_id} is not a metric the emulator supports ({supported})")
    measurement = measurement or metric.default
    if measurement not in metric.measurements:
        raise invalid(f"measurement {measurement!r} is not valid for {metric_id}")
    return metric, measurement


@dataclass
class Groups:
    views: np.ndarray
    watch: np.ndarray
    playing: np.ndarray
    valid: np.ndarray  # views that have a value for the metric
    value: np.ndarray  # NaN where undefined


def _values(store: ViewStore, metric_id: str, a: int, b: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(valid mask, per-view value) for one block, already masked by the selection."""

    def col(name: str) -> np.ndarray:
        values = store[name][a:b]
        return values if mask is None else values[mask]

    if metric_id == "video_startup_time":
        startup = col("startup_ms")
        return startup > 0, startup.astype(np.float64)
    if metric_id == "rebuffer_percentage":
        watch = col("watch_ms").astype(np.float64)
        started = col("startup_ms") > 0
        return started, np.divide(col("rebuf_ms"), watch, out=np.zeros_like(watch), where=watch > 0)
    if metric_id == "playback_failure_percentage":
        failed = (col("flags") & FLAG_PLAYBACK_FAILURE) > 0
        return np.ones(len(failed), dtype=bool), failed.astype(np.float64)
    if metric_id == "viewer_experience_score":
        ves = col("ves").astype(np.float64) / VES_SCALE
        return np.ones(len(ves), dtype=bool), ves
    playing = col("playing_ms").astype(np.float64)
    return np.ones(len(playing), dtype=bool), playing


def aggregate(
    sel: Selection,
    metric: Metric,
    measurement: str,
    group_of: Callable[[int, int], np.ndarray],
    n_groups: int,
) -> Groups:
    store = sel.store
    n = max(1, n_groups)
    views = np.zeros(n)
    watch = np.zeros(n)
    playing = np.zeros(n)
    valid = np.zeros(n)
    numerator = np.zeros(n)
    denominator = np.zeros(n)
    pairs: list[np.ndarray] = []
    q_groups: list[np.ndarray] = []
    q_values: list[np.ndarray] = []
    for a, b, mask in sel.blocks():
        groups = group_of(a, b)
        if mask is not None:
            groups = groups[mask]
        if len(groups) == 0:
            continue
        views += np.bincount(groups, minlength=n)
        block_watch = store["watch_ms"][a:b] if mask is None else store["watch_ms"][a:b][mask]
        block_playing = store["playing_ms"][a:b] if mask is None else store["playing_ms"][a:b][mask]
        watch += np.bincount(groups, weights=block_watch, minlength=n)
        playing += np.bincount(groups, weights=block_playing, minlength=n)
        if metric.id == "views":
            continue
        if metric.id == "unique_viewers":
            viewers = store["viewer"][a:b] if mask is None else store["viewer"][a:b][mask]
            pairs.append(np.unique(groups * len(store.viewers) + viewers))
            continue
        ok, values = _values(store, metric.id, a, b, mask)
        g_ok, v_ok = groups[ok], values[ok]
        valid += np.bincount(g_ok, minlength=n)
        if measurement in QUANTILES:
            q_groups.append(g_ok.astype(np.int64))
            q_values.append(np.round(v_ok * QUANTILE_SCALE.get(metric.id, 1.0)).astype(np.int64))
        elif metric.id == "rebuffer_percentage":
            ok_watch = block_watch[ok].astype(np.float64)
            numerator += np.bincount(g_ok, weights=v_ok * ok_watch, minlength=n)
            denominator += np.bincount(g_ok, weights=ok_watch, minlength=n)
        else:
            numerator += np.bincount(g_ok, weights=v_ok, minlength=n)
            denominator += np.bincount(g_ok, minlength=n)

    value: np.ndarray
    if metric.id == "views":
        value, valid = views.copy(), views
    elif metric.id == "unique_viewers":
        unique = np.unique(np.concatenate(pairs)) if pairs else np.empty(0, dtype=np.int64)
        value = np.bincount(unique // max(1, len(store.viewers)), minlength=n).astype(np.float64)
        valid = views
    elif measurement in QUANTILES:
        value = grouped_quantile(
            np.concatenate(q_groups) if q_groups else np.empty(0, dtype=np.int64),
            np.concatenate(q_values) if q_values else np.empty(0, dtype=np.int64),
            n,
            QUANTILES[measurement],
        ) / QUANTILE_SCALE.get(metric.id, 1.0)
    elif measurement == "sum":
        value = numerator
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)
    return Groups(views=views, watch=watch, playing=playing, valid=valid, value=value)


def grouped_quantile(groups: np.ndarray, values: np.ndarray, n: int, q: float) -> np.ndarray:
    """Linear-interpolated quantile of non-negative integer `values` within each group; NaN if empty.

    Small value ranges use a per-group histogram (one bincount, no sort); otherwise one sort of
    (group << 32 | value) keys, cheaper than a lexsort over two arrays.
    """
    out = np.full(n, np.nan)
    if len(values) == 0:
        return out
    counts = np.bincount(groups, minlength=n)
    present = np.flatnonzero(counts)
    rank = q * (counts[present] - 1)
    low = np.floor(rank).astype(np.int64)
    frac = rank - low
    high = np.minimum(low + 1, counts[present] - 1)
    top = int(values.max()) + 1
    if n * top <= HISTOGRAM_CELLS:
        cumulative = np.cumsum(np.bincount(groups * top + values, minlength=n * top).reshape(n, top), axis=1)
        for i, g in enumerate(present):
            lo_value, hi_value = np.searchsorted(cumulative[g], [low[i], high[i]], side="right")
            out[g] = lo_value * (1 - frac[i]) + hi_value * frac[i]
        return out
    ordered = np.sort((groups << 32) | values) & 0xFFFFFFFF
    starts = np.cumsum(counts) - counts
    out[present] = ordered[starts[present] + low] * (1 - frac) + ordered[starts[present] + high] * frac
    return out


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(round(value, 6))


# -- response bodies -----------------------------------------------------------------------------


def overall(sel: Selection, metric: Metric, measurement: str, timeframe: tuple[int, int]) -> dict[str, object]:
    groups = aggregate(sel, metric, measurement, lambda a, b: np.zeros(b - a, dtype=np.int64), 1)
    return {
        "data": {
            "value": _number(groups.value[0]),
            "total_watch_time": int(groups.watch[0]),
            "total_views": int(groups.views[0]),
            "total_playing_time": int(groups.playing[0]),
            "global_value": metric.global_value,
        },
        "total_row_count": 1,
        "timeframe": list(timeframe),
        "meta": {"aggregation": AGGREGATION},
    }


def breakdown(
    sel: Selection,
    metric: Metric,
    measurement: str,
    dim: Dimension,
    timeframe: tuple[int, int],
    *,
    limit: int,
    page: int,
    order_by: str | None,
    order_direction: str | None,
) -> dict[str, object]:
    order_by = order_by or "negative_impact"
    if order_by not in BREAKDOWN_ORDER:
        raise invalid(f"order_by must be one of: {', '.join(BREAKDOWN_ORDER)}")
    store = sel.store
    groups = aggregate(sel, metric, measurement, lambda a, b: dim.codes(store, a, b), len(dim.labels))
    present = np.flatnonzero(groups.views > 0)
    overall_value = _weighted_overall(groups)
    impact = _impact(groups, metric, overall_value)
    # negative_impact is a rank: 1 = the group that drags the metric most (volume metrics: the biggest).
    by_impact = np.lexsort((present, -np.nan_to_num(impact[present], nan=-np.inf)))
    rank = np.empty(len(present), dtype=np.int64)
    rank[by_impact] = np.arange(1, len(present) + 1)
    rows: list[dict[str, object]] = []
    for position, g in enumerate(present):
        rows.append(
            {
                "field": dim.labels[g],
                "value": _number(groups.value[g]),
                "views": int(groups.views[g]),
                "total_watch_time": int(groups.watch[g]),
                "total_playing_time": int(groups.playing[g]),
                "negative_impact": int(rank[position]),
            }
        )
    descending = (order_direction or ("asc" if order_by in ("negative_impact", "field") else "desc")) == "desc"

    def key(row: dict[str, object]) -> tuple[bool, object]:
        value = row[order_by]
        return (
            (value is None, value if value is not None else 0) if order_by != "field" else (value is None, str(value))
        )

    rows.sort(key=key, reverse=descending)
    start = (page - 1) * limit
    return {
        "data": rows[start : start + limit],
        "total_row_count": len(rows),
        "timeframe": list(timeframe),
        "meta": {"aggregation": AGGREGATION},
    }


def _weighted_overall(groups: Groups) -> float:
    ok = ~np.isnan(groups.value) & (groups.valid > 0)
    if not ok.any():
        return float("nan")
    return float(np.average(groups.value[ok], weights=groups.valid[ok]))


def _impact(groups: Groups, metric: Metric, overall_value: float) -> np.ndarray:
    """How much each group drags the metric: excess over the overall value times its views."""
    if metric.higher_is_worse is None:
        return groups.value.copy()
    sign = 1.0 if metric.higher_is_worse else -1.0
    impact: np.ndarray = sign * (groups.value - overall_value) * groups.valid
    return impact


def default_granularity(span_s: int) -> str:
    if span_s < 90 * 60:
        return "minute"
    if span_s < 6 * 3600:
        return "ten_minutes"
    if span_s <= 15 * 86_400:
        return "hour"
    return "day"


MAX_BUCKETS = 200_000


def timeseries(
    sel: Selection,
    metric: Metric,
    measurement: str,
    timeframe: tuple[int, int],
    *,
    granularity: str | None,
    order_direction: str | None,
) -> dict[str, object]:
    start, end = timeframe
    granularity = granularity or default_granularity(end - start)
    if granularity not in GRANULARITY_SECONDS:
        raise invalid(f"group_by must be one of: {', '.join(GRANULARITY_SECONDS)}")
    step = GRANULARITY_SECONDS[granularity]
    first = start // step * step
    n = max(1, -(-(end - first) // step))
    if n > MAX_BUCKETS:
        raise invalid(f"timeframe has {n} {granularity} intervals; use a coarser group_by")
    end_ms = sel.store["end_ms"]

    def bucket(a: int, b: int) -> np.ndarray:
        buckets: np.ndarray = np.clip((end_ms[a:b] // 1000 - first) // step, 0, n - 1)
        return buckets

    groups = aggregate(sel, metric, measurement, bucket, n)
    rows = [
        [_iso(first + i * step), _number(groups.value[i]) if groups.valid[i] > 0 else None, int(groups.valid[i])]
        for i in range(n)
    ]
    if order_direction == "desc":
        rows.reverse()
    return {
        "data": rows,
        "total_row_count": len(rows),
        "timeframe": list(timeframe),
        "meta": {"granularity": granularity, "aggregation": AGGREGATION},
    }


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

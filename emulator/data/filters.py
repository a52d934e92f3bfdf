"""Mux Data query syntax: `timeframe[]`, `filters[]`, `metric_filters[]`, paging, and the dimensions.

A query becomes a `Selection`: a row range from the timeframe (two binary searches on view_end) plus
predicates evaluated block by block as boolean masks. Counts of whole blocks are cached per
(store, filters), so paging deep into a filtered list only evaluates the blocks a page touches.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from emulator.data import catalog, views
from emulator.data.catalog import MUX_DIMENSIONS
from emulator.data.store import (
    FLAG_EXIT_BEFORE_START,
    FLAG_PLAYBACK_FAILURE,
    FLAG_SECOND_DEVICE,
    FLAG_STARTUP_FAILURE,
    VES_SCALE,
    ViewStore,
)
from emulator.errors import invalid

BLOCK = 1 << 18  # rows per mask evaluation: a filtered page touches one or two blocks
DEFAULT_TIMEFRAME = "24:hours"
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400, "week": 604_800}

TRACE_DIMENSIONS: frozenset[str] = frozenset({"video_cdn_trace"})


@dataclass(frozen=True)
class Dimension:
    """Labels of one dimension and how to reach them: label code = mapping[source column value]."""

    name: str
    source: str | None  # column; None = a dimension the emulator does not simulate (always null)
    mapping: np.ndarray | None  # source value -> label code; None = identity
    labels: list[str | None]

    def codes(self, store: ViewStore, lo: int, hi: int) -> np.ndarray:
        if self.source is None:
            return np.zeros(hi - lo, dtype=np.int64)
        values = store[self.source][lo:hi]
        return values.astype(np.int64) if self.mapping is None else self.mapping[values]

    def matcher(self, wanted: Callable[[str | None], bool]) -> Callable[[ViewStore, int, int], np.ndarray]:
        """A predicate over rows via a boolean table over source values (one gather per block)."""
        table = np.array([wanted(label) for label in self.labels], dtype=bool)
        if self.source is None:
            hit = bool(table[0]) if len(table) else False
            return lambda store, lo, hi: np.full(hi - lo, hit)
        source, source_table = self.source, table if self.mapping is None else table[self.mapping]
        return lambda store, lo, hi: source_table[store[source][lo:hi]]


def _profile_dim(name: str, attribute: str) -> Dimension:
    values = [getattr(p, attribute) for p in catalog.PROFILES]
    labels = list(dict.fromkeys(values))
    return Dimension(name, "profile", np.array([labels.index(v) for v in values]), list(labels))


def _flag_dim(name: str, bit: int) -> Dimension:
    mapping = ((np.arange(256) & bit) > 0).astype(np.int64)
    return Dimension(name, "flags", mapping, ["false", "true"])


def _lesson_dim(name: str, values: list[str | None]) -> Dimension:
    labels = list(dict.fromkeys(values))
    index = {label: i for i, label in enumerate(labels)}
    return Dimension(name, "lesson", np.array([index[v] for v in values], dtype=np.int64), labels)


_dimension_cache: dict[tuple[int, str], Dimension] = {}
_dimension_lock = threading.Lock()


def dimension(store: ViewStore, name: str) -> Dimension:
    if name not in MUX_DIMENSIONS:
        raise invalid(f"{name} is not a valid dimension")
    key = (store.token, name)
    with _dimension_lock:
        found = _dimension_cache.get(key)
    if found is not None:
        return found
    built = _build_dimension(store, name)
    with _dimension_lock:
        if len(_dimension_cache) > 256:
            _dimension_cache.clear()
        _dimension_cache[key] = built
    return built


def _build_dimension(store: ViewStore, name: str) -> Dimension:
    lessons = store.lessons
    match name:
        case "browser":
            return _profile_dim(name, "browser")
        case "operating_system":
            return _profile_dim(name, "os")
        case "viewer_device_category":
            return _profile_dim(name, "device")
        case "player_name":
            return _profile_dim(name, "player")
        case "country":
            return Dimension(name, "country", None, [c.code for c in catalog.COUNTRIES])
        case "video_id":
            return _lesson_dim(name, [lesson.video_id for lesson in lessons])
        case "video_title":
            return _lesson_dim(name, [lesson.title for lesson in lessons])
        case "playback_id":
            return _lesson_dim(name, [lesson.playback_id for lesson in lessons])
        case "asset_id":
            return Dimension(name, "lesson", store.lesson_asset.astype(np.int64), list(store.asset_ids))
        case "viewer_user_id":
            return Dimension(name, "viewer", None, list(store.viewers))
        case "player_error_code":
            return Dimension(name, "error", None, [None, *[e.code for e in catalog.ERRORS]])
        case "playback_failure":
            return _flag_dim(name, FLAG_PLAYBACK_FAILURE)
        case "video_startup_failure":
            return _flag_dim(name, FLAG_STARTUP_FAILURE)
        case "exit_before_video_start":
            return _flag_dim(name, FLAG_EXIT_BEFORE_START)
        case "stream_type":
            return Dimension(name, "country", np.zeros(len(catalog.COUNTRIES), dtype=np.int64), ["on-demand"])
        case _:
            return Dimension(name, None, None, [None])


Predicate = Callable[[ViewStore, int, int], np.ndarray]


def _same(value: str) -> Callable[[str | None], bool]:
    folded = value.casefold()
    return lambda label: label is not None and label.casefold() == folded


def _constant(hit: bool) -> Predicate:
    return lambda store, lo, hi: np.full(hi - lo, hit)


def _negated(match: Predicate) -> Predicate:
    return lambda store, lo, hi: ~match(store, lo, hi)


def parse_filters(store: ViewStore, raw: list[str] | None) -> list[Predicate]:
    """`dim:value` (equals, case-insensitive), `!dim:value`; trace dims also `+dim:v`, `-dim:v`, `dim:[..]`."""
    predicates: list[Predicate] = []
    for item in raw or []:
        op = item[:1] if item[:1] in "!+-" else ""
        name, sep, value = item[len(op) :].partition(":")
        if not sep or not name:
            raise invalid(f"filters[] value {item!r} must look like dimension:value")
        dim = dimension(store, name)
        if name in TRACE_DIMENSIONS:
            # No simulated CDN trace: every view has an empty trace.
            hit = (op == "-") or (op == "" and value == "[]")
            predicates.append(_constant(hit))
            continue
        if op in "+-" and op:
            raise invalid(f"filters[] operator {op!r} only applies to trace dimensions")
        match = dim.matcher(_same(value))
        if op == "!":
            predicates.append(_negated(match))
        else:
            predicates.append(match)
    return predicates


def _started(store: ViewStore, lo: int, hi: int) -> np.ndarray:
    return np.asarray(store["startup_ms"][lo:hi] > 0)


def _rebuffer_pct(store: ViewStore, lo: int, hi: int) -> np.ndarray:
    watch = store["watch_ms"][lo:hi].astype(np.float64)
    pct: np.ndarray = np.divide(store["rebuf_ms"][lo:hi], watch, out=np.zeros_like(watch), where=watch > 0)
    return pct


# Per-view values for metric_filters[] (and for the metrics). NaN = the metric has no value for the view.
def _per_view(
    column: str, scale: float = 1.0, started_only: bool = False
) -> Callable[[ViewStore, int, int], np.ndarray]:
    def values(store: ViewStore, lo: int, hi: int) -> np.ndarray:
        out = store[column][lo:hi].astype(np.float64) * scale
        if started_only:
            out[~_started(store, lo, hi)] = np.nan
        return out

    return values


PER_VIEW: dict[str, Callable[[ViewStore, int, int], np.ndarray]] = {
    "video_startup_time": _per_view("startup_ms", started_only=True),
    "aggregate_startup_time": _per_view("startup_ms", started_only=True),
    "playing_time": _per_view("playing_ms"),
    "rebuffer_count": _per_view("rebuf_count", started_only=True),
    "rebuffer_duration": _per_view("rebuf_ms", started_only=True),
    "rebuffer_percentage": _rebuffer_pct,
    "viewer_experience_score": _per_view("ves", 1.0 / VES_SCALE),
    "playback_failure_percentage": lambda store, lo, hi: (store["flags"][lo:hi] & FLAG_PLAYBACK_FAILURE > 0).astype(
        np.float64
    ),
}
NOT_FILTERABLE = frozenset(
    {
        "exits_before_video_start",
        "unique_viewers",
        "video_startup_failure_percentage",
        "view_dropped_percentage",
        "views",
    }
)
_METRIC_FILTER = re.compile(r"^([a-z0-9_]+)\s*(>=|<=|!=|==|=|>|<)\s*(-?\d+(?:\.\d+)?)$")
_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">=": np.greater_equal,
    "<=": np.less_equal,
    ">": np.greater,
    "<": np.less,
    "=": np.equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def parse_metric_filters(raw: list[str] | None) -> list[Predicate]:
    predicates: list[Predicate] = []
    for item in raw or []:
        found = _METRIC_FILTER.match(item.strip())
        if not found:
            raise invalid(f"metric_filters[] value {item!r} must look like metric>=number")
        metric, op, number = found.group(1), found.group(2), float(found.group(3))
        if metric in NOT_FILTERABLE:
            raise invalid(f"{metric} cannot be used in metric_filters[]")
        if metric not in PER_VIEW:
            supported = ", ".join(sorted(PER_VIEW))
            raise invalid(f"metric_filters[] on {metric} is not supported by the emulator; use one of: {supported}")
        values, compare = PER_VIEW[metric], _OPS[op]

        def predicate(
            store: ViewStore, lo: int, hi: int, values: Any = values, compare: Any = compare, number: float = number
        ) -> np.ndarray:
            with np.errstate(invalid="ignore"):  # NaN (no value for the view) never matches
                return np.asarray(compare(values(store, lo, hi), number))

        predicates.append(predicate)
    return predicates


def viewer_predicate(store: ViewStore, viewer_id: str | None) -> list[Predicate]:
    """`viewer_id` is the integration's viewer_user_id, or Mux's own per-device mux_viewer_id."""
    if viewer_id is None:
        return []
    index = store.viewer_index().get(viewer_id)
    if index is not None:
        return [lambda store, lo, hi: np.asarray(store["viewer"][lo:hi] == index)]
    device = _mux_viewer_ids(store).get(viewer_id)
    if device is None:
        return [lambda store, lo, hi: np.zeros(hi - lo, dtype=bool)]
    viewer, second = device

    def predicate(store: ViewStore, lo: int, hi: int) -> np.ndarray:
        on_second = (store["flags"][lo:hi] & FLAG_SECOND_DEVICE) > 0
        return np.asarray((store["viewer"][lo:hi] == viewer) & (on_second == second))

    return [predicate]


_mux_viewer_cache: dict[int, dict[str, tuple[int, bool]]] = {}


def _mux_viewer_ids(store: ViewStore) -> dict[str, tuple[int, bool]]:
    found = _mux_viewer_cache.get(store.token)
    if found is None:
        found = {
            views.mux_viewer_id(store, viewer, second): (viewer, second)
            for viewer in range(len(store.viewers))
            for second in (False, True)
        }
        _mux_viewer_cache.clear()  # one store is current at a time
        _mux_viewer_cache[store.token] = found
    return found


def error_predicate(error_id: str | None) -> list[Predicate]:
    """`error_id` = an error_type_id, or `any` for every view with an error."""
    if error_id is None:
        return []
    if error_id == "any":
        return [lambda store, lo, hi: np.asarray(store["error"][lo:hi] > 0)]
    try:
        wanted = int(error_id)
    except ValueError:
        raise invalid("error_id must be an integer or 'any'") from None
    codes = [i + 1 for i, e in enumerate(catalog.ERRORS) if e.type_id == wanted]
    code = codes[0] if codes else -1
    return [lambda store, lo, hi: np.asarray(store["error"][lo:hi] == code)]


# -- timeframe ----------------------------------------------------------------------------------


def _round_down(seconds: float, span: float) -> int:
    step = 600 if span <= 6 * 3600 else 3600 if span <= 15 * 86_400 else 86_400
    return int(seconds // step * step)


def parse_timeframe(values: list[str] | None, now: float) -> tuple[int, int]:
    """Two epoch-second strings, or one `N:unit` duration ending now (start rounded down like Mux)."""
    values = [v for v in (values or []) if v != ""] or [DEFAULT_TIMEFRAME]
    if len(values) == 1 and ":" in values[0]:
        amount, _, unit = values[0].partition(":")
        unit = unit.strip().lower().removesuffix("s")
        if not amount.strip().isdigit() or unit not in UNIT_SECONDS or int(amount) <= 0:
            raise invalid(f"timeframe[] {values[0]!r} must be a duration like 24:hours or 7:days")
        span = int(amount) * UNIT_SECONDS[unit]
        return _round_down(now - span, span), math.ceil(now)
    if len(values) != 2:
        raise invalid("timeframe[] must be two epoch timestamps or one duration like 7:days")
    try:
        start, end = (int(float(v)) for v in values)
    except ValueError:
        raise invalid("timeframe[] must be two epoch timestamps or one duration like 7:days") from None
    if start >= end:
        raise invalid("timeframe[] start must be before its end")
    return start, end


# -- selections ---------------------------------------------------------------------------------


class _BlockCounts:
    """LRU of per-block match counts, keyed by (store, filter key); whole blocks only."""

    def __init__(self, size: int = 64) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, str], dict[int, int]] = OrderedDict()
        self._size = size

    def get(self, key: tuple[int, str]) -> dict[int, int]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = {}
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
            return entry


_block_counts = _BlockCounts()


class Selection:
    """Rows [lo, hi) that pass every predicate."""

    def __init__(self, store: ViewStore, lo: int, hi: int, predicates: list[Predicate], key: str = "") -> None:
        self.store, self.lo, self.hi = store, lo, hi
        self.predicates = predicates
        self._counts = _block_counts.get((store.token, key)) if predicates else {}
        self._total: int | None = None

    def mask(self, a: int, b: int) -> np.ndarray | None:
        """Rows a..b that match, or None when there is no filter (every row matches)."""
        return self._match(a, b) if self.predicates else None

    def _match(self, a: int, b: int) -> np.ndarray:
        out = self.predicates[0](self.store, a, b)
        for predicate in self.predicates[1:]:
            out = out & predicate(self.store, a, b)
        return out

    def segments(self, descending: bool = False) -> Iterator[tuple[int, int, int | None]]:
        """(start, end, block number if a whole block) covering [lo, hi), in order."""
        parts: list[tuple[int, int, int | None]] = []
        position = self.lo
        while position < self.hi:
            block = position // BLOCK
            end = min(self.hi, (block + 1) * BLOCK)
            whole = position == block * BLOCK and end == (block + 1) * BLOCK
            parts.append((position, end, block if whole else None))
            position = end
        return iter(reversed(parts) if descending else parts)

    def _segment_count(self, a: int, b: int, block: int | None) -> int:
        if not self.predicates:
            return b - a
        if block is not None and block in self._counts:
            return self._counts[block]
        count = int(np.count_nonzero(self._match(a, b)))
        if block is not None:
            self._counts[block] = count
        return count

    def count(self) -> int:
        if self._total is None:
            self._total = sum(self._segment_count(a, b, block) for a, b, block in self.segments())
        return self._total

    def rows(self, offset: int, limit: int, descending: bool = False) -> np.ndarray:
        """Row numbers of matches offset..offset+limit in view_end order (or reverse)."""
        if not self.predicates:
            if descending:
                top = self.hi - offset
                return np.arange(top - 1, max(self.lo, top - limit) - 1, -1, dtype=np.int64)
            start = self.lo + offset
            return np.arange(start, min(self.hi, start + limit), dtype=np.int64)
        found: list[np.ndarray] = []
        wanted = limit
        for a, b, block in self.segments(descending):
            count = self._segment_count(a, b, block)
            if offset >= count:
                offset -= count
                continue
            hits = np.flatnonzero(self._match(a, b)) + a
            if descending:
                hits = hits[::-1]
            taken = hits[offset : offset + wanted]
            found.append(taken)
            wanted -= len(taken)
            offset = 0
            if wanted <= 0:
                break
        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)

    def blocks(self) -> Iterator[tuple[int, int, np.ndarray | None]]:
        """(start, end, mask or None) per block, for aggregations."""
        for a, b, _ in self.segments():
            yield a, b, self.mask(a, b)


def selection_key(**parts: Any) -> str:
    return repr(sorted((k, v) for k, v in parts.items()))

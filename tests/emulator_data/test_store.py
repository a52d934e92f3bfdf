"""ViewStore (bounds, ids, merge, persistence) and the query layer (timeframes, paging, selections)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from emulator.data import filters
from emulator.data.filters import Selection, parse_filters, parse_metric_filters, parse_timeframe
from emulator.data.metrics import grouped_quantile
from emulator.data.simulator import generate
from emulator.data.store import Lesson, ViewStore
from emulator.errors import MuxError
from emulator.validation import page_params

END = 1_767_225_600


def _store(seed: int = 1, views: int = 30_000, end: int = END, course: str = "c") -> ViewStore:
    lessons = [
        Lesson(f"v{k}", f"Lesson {k}", f"asset{k}", f"pb{k}", 600.0, "1080p", "plus", "1", None, course, k)
        for k in range(4)
    ]
    store, _ = generate(lessons, {course: [f"u{i}" for i in range(40)]}, views=views, days=5, end_s=end, seed=seed)
    return store


def test_bounds_are_half_open_and_stop_at_now() -> None:
    store = _store()
    end_ms = store["end_ms"]
    t = int(end_ms[1000]) // 1000
    lo, hi = store.bounds(t - 3600, t, now_s=END + 86_400)
    assert np.all(end_ms[lo:hi] >= (t - 3600) * 1000) and np.all(end_ms[lo:hi] < t * 1000)
    assert lo == 0 or end_ms[lo - 1] < (t - 3600) * 1000
    assert hi == store.n or end_ms[hi] >= t * 1000
    lo2, hi2 = store.bounds(0, 10**10, now_s=t)
    assert lo2 == 0 and hi2 == store.visible(t) and np.all(end_ms[:hi2] <= t * 1000)


def test_ids_round_trip_and_reject_forgeries() -> None:
    store = _store()
    for row in (0, 1, 4_321, store.n - 1):
        opaque = store.opaque_id(row)
        assert len(opaque) == 34 and opaque.isalnum()  # the shape of the view ids in Mux's examples
        assert store.row_of_id(opaque) == row
        view_id = store.view_id(row)
        assert str(uuid.UUID(view_id)) == view_id and uuid.UUID(view_id).version == 4
        assert store.row_of_id(view_id) is None  # Mux GETs a view by its opaque id, not by the UUID
    forged = store.opaque_id(5)
    for i in (0, 20, 33):
        other = "0" if forged[i] != "0" else "1"
        assert store.row_of_id(forged[:i] + other + forged[i + 1 :]) is None
    assert store.row_of_id("hello") is None
    assert store.row_of_id("z" * 34) is None
    assert _store(seed=2).row_of_id(store.opaque_id(5)) is None  # another store's ids mean nothing here
    ids = {store.view_id(r) for r in range(0, store.n, 11)} | {store.opaque_id(r) for r in range(0, store.n, 11)}
    assert len(ids) == 2 * len(range(0, store.n, 11))


def test_merge_keeps_ids_and_order() -> None:
    old = _store(seed=1, views=10_000)
    new = _store(seed=2, views=5_000, end=END + 3 * 86_400)
    merged = old.merged_with(new)
    assert merged.n == 15_000
    assert np.all(np.diff(merged["end_ms"]) >= 0)
    for row in (0, 777, 9_999):
        again = merged.row_of_id(old.opaque_id(row))
        assert again is not None and merged.opaque_id(again) == old.opaque_id(row)
        assert merged.view_id(again) == old.view_id(row)
        assert merged["end_ms"][again] == old["end_ms"][row] and merged["playing_ms"][again] == old["playing_ms"][row]
    assert len({merged.view_id(r) for r in range(0, merged.n, 7)}) == len(range(0, merged.n, 7))


def test_save_and_load(tmp_path: Path) -> None:
    store = _store()
    path = tmp_path / "views.npz"
    store.save(path)
    loaded = ViewStore.load(path)
    assert loaded is not None and loaded.n == store.n
    assert all(np.array_equal(loaded[name], store[name]) for name in store.columns)
    assert loaded.lessons == store.lessons and loaded.viewers == store.viewers
    assert loaded.view_id(10) == store.view_id(10) and loaded.opaque_id(10) == store.opaque_id(10)
    assert ViewStore.load(tmp_path / "missing.npz") is None


def test_parse_timeframe() -> None:
    now = 1_767_225_600 + 1234.5
    assert parse_timeframe(["100", "200"], now) == (100, 200)
    start, end = parse_timeframe(["24:hours"], now)
    assert end == 1_767_226_835 and start == (now - 86_400) // 3600 * 3600
    start, _ = parse_timeframe(["7:days"], now)
    assert start % 3600 == 0
    start, _ = parse_timeframe(["30:days"], now)
    assert start % 86_400 == 0
    start, _ = parse_timeframe(["90:minutes"], now)
    assert start % 600 == 0
    assert parse_timeframe(None, now) == parse_timeframe(["24:hours"], now)
    for bad in (["x"], ["1:parsecs"], ["0:days"], ["1", "2", "3"], ["b", "c"]):
        with pytest.raises(MuxError):
            parse_timeframe(bad, now)


def test_page_params_cap_the_limit() -> None:
    assert page_params(None, None) == (25, 1)
    assert page_params(1000, 3) == (100, 3)
    with pytest.raises(MuxError):
        page_params(0, 1)


def test_selection_pages_match_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filters, "BLOCK", 1024)  # many blocks, so paging crosses block edges
    store = _store(views=20_000)
    predicates = parse_filters(store, ["!browser:Chrome"]) + parse_metric_filters(["playing_time>60000"])
    lo, hi = 1_500, 18_000
    sel = Selection(store, lo, hi, predicates, key="brute-force")
    expected = np.flatnonzero(predicates[0](store, lo, hi) & predicates[1](store, lo, hi)) + lo
    assert sel.count() == len(expected)
    assert np.array_equal(sel.rows(0, 100), expected[:100])
    assert np.array_equal(sel.rows(3_000, 100), expected[3_000:3_100])
    assert np.array_equal(sel.rows(0, 100, descending=True), expected[::-1][:100])
    assert np.array_equal(sel.rows(2_500, 100, descending=True), expected[::-1][2_500:2_600])
    assert len(sel.rows(len(expected) - 10, 100)) == 10
    again = Selection(store, lo, hi, predicates, key="brute-force")  # whole-block counts come from the cache
    assert again.count() == len(expected)
    plain = Selection(store, lo, hi, [])
    assert plain.count() == hi - lo and list(plain.rows(5, 3, descending=True)) == [hi - 6, hi - 7, hi - 8]


def test_metric_filters_keep_their_own_numbers() -> None:
    store = _store(views=5_000)
    low, high = parse_metric_filters(["playing_time>=60000", "playing_time<120000"])
    playing = store["playing_ms"]
    assert np.array_equal(low(store, 0, store.n), playing >= 60_000)
    assert np.array_equal(high(store, 0, store.n), playing < 120_000)


@pytest.mark.parametrize("top", [5_000, 3_000_000_000])  # histogram path, then the sort path
def test_grouped_quantile_matches_numpy(top: int) -> None:
    rng = np.random.default_rng(4)
    groups = rng.integers(0, 7, 20_000)
    values = rng.integers(0, top, 20_000)
    for q in (0.5, 0.95):
        got = grouped_quantile(groups, values, 8, q)
        for g in range(7):
            assert got[g] == pytest.approx(np.quantile(values[groups == g], q), rel=1e-12)
        assert np.isnan(got[7])

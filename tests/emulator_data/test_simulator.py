"""The traffic simulator as a pure function: determinism, invariants, and the behaviours it models."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from emulator.data import catalog
from emulator.data.simulator import Knobs, SimulationPlan, generate
from emulator.data.store import (
    FLAG_EXIT_BEFORE_START,
    FLAG_PLAYBACK_FAILURE,
    FLAG_RESUMED,
    FLAG_STARTUP_FAILURE,
    Lesson,
    ViewStore,
)

END = 1_767_225_600  # 2026-01-01T00:00:00Z, a Thursday


def _course(courses: int = 2, lessons: int = 10, students: int = 200) -> tuple[list[Lesson], dict[str, list[str]]]:
    rng = np.random.default_rng(0)
    out: list[Lesson] = []
    enrolled: dict[str, list[str]] = {}
    for c in range(courses):
        enrolled[str(c)] = [f"s{c}-{i}" for i in range(students)]
        for k in range(lessons):
            video_id = str(100 * c + k)
            out.append(
                Lesson(
                    video_id,
                    f"L{k}",
                    f"asset-{video_id}",
                    f"pb-{video_id}",
                    float(rng.uniform(300, 1200)),
                    "1080p",
                    "plus",
                    "1700000000",
                    video_id,
                    str(c),
                    k,
                )
            )
    return out, enrolled


@pytest.fixture(scope="module")
def run() -> tuple[ViewStore, SimulationPlan, list[Lesson]]:
    lessons, students = _course()
    store, plan = generate(lessons, students, views=300_000, days=56, end_s=END, seed=42)
    return store, plan, lessons


def test_same_seed_gives_identical_views() -> None:
    lessons, students = _course(1, 5, 50)
    a, _ = generate(lessons, students, views=20_000, days=7, end_s=END, seed=9)
    b, _ = generate(lessons, students, views=20_000, days=7, end_s=END, seed=9)
    c, _ = generate(lessons, students, views=20_000, days=7, end_s=END, seed=10)
    for name in a.columns:
        assert np.array_equal(a[name], b[name]), name
    assert [a.view_id(i) for i in range(0, 20_000, 997)] == [b.view_id(i) for i in range(0, 20_000, 997)]
    assert [a.opaque_id(i) for i in range(0, 20_000, 997)] == [b.opaque_id(i) for i in range(0, 20_000, 997)]
    assert not np.array_equal(a["end_ms"], c["end_ms"])
    assert a.view_id(0) != c.view_id(0) and a.opaque_id(0) != c.opaque_id(0)


def test_invariants(run: tuple[ViewStore, SimulationPlan, list[Lesson]]) -> None:
    store, _, lessons = run
    duration_ms = np.array([round(lesson.duration_s * 1000) for lesson in lessons])[store["lesson"]]
    flags = store["flags"]
    started = store["startup_ms"] > 0
    assert np.all(np.diff(store["end_ms"]) >= 0)
    assert np.all(store["playhead_ms"] <= duration_ms + 1)
    assert np.all(store["watch_ms"] >= store["playing_ms"])
    assert np.all(store["wall_ms"] >= store["watch_ms"])
    assert np.all(store["end_ms"] - store["wall_ms"] >= (END - 56 * 86_400) * 1000)
    ebvs = (flags & FLAG_EXIT_BEFORE_START) > 0
    startup_failed = (flags & FLAG_STARTUP_FAILURE) > 0
    assert np.all(~started == (ebvs | startup_failed))
    assert np.all(store["playing_ms"][~started] == 0)
    failed = (flags & FLAG_PLAYBACK_FAILURE) > 0
    assert np.all(failed[startup_failed])
    assert np.array_equal(failed, store["error"] > 0)
    assert 0.005 < ebvs.mean() < 0.03 and 0.002 < failed.mean() < 0.03


def test_viewers_come_from_the_course_and_drop_out(run: tuple[ViewStore, SimulationPlan, list[Lesson]]) -> None:
    store, _, lessons = run
    course = np.array([int(lesson.course) for lesson in lessons])[store["lesson"]]
    names = np.array(store.viewers)[store["viewer"]]
    assert all(name.startswith(f"s{c}-") for name, c in zip(names[::501], course[::501], strict=True))
    position = np.array([lesson.position for lesson in lessons])[store["lesson"]]
    first = len(set(store["viewer"][(position == 0) & (course == 0)].tolist()))
    last = len(set(store["viewer"][(position == 9) & (course == 0)].tolist()))
    assert last <= math.ceil(0.9**9 * 200) < first
    per_position = np.bincount(position)
    assert per_position[0] > 2 * per_position[-1]


def test_weekly_and_daily_rhythm(run: tuple[ViewStore, SimulationPlan, list[Lesson]]) -> None:
    store, _, _ = run
    start_s = (store["end_ms"] - store["wall_ms"]) // 1000
    us = store["country"] == [c.code for c in catalog.COUNTRIES].index("US")
    local = start_s[us] - 5 * 3600
    weekday = (local // 86_400 + 3) % 7  # 0 = Monday
    per_day = np.bincount(weekday, minlength=7)
    assert per_day[5:].mean() < 0.8 * per_day[:5].mean()
    hour = (local % 86_400) // 3600
    per_hour = np.bincount(hour, minlength=24)
    assert per_hour[19:22].mean() > 5 * per_hour[2:5].mean()


def test_browsers_with_more_errors(run: tuple[ViewStore, SimulationPlan, list[Lesson]]) -> None:
    store, _, _ = run
    browser = np.array([p.browser for p in catalog.PROFILES])[store["profile"]]
    failed = (store["flags"] & FLAG_PLAYBACK_FAILURE) > 0
    rate = {b: failed[browser == b].mean() for b in set(browser.tolist())}
    assert min(rate[b] for b in catalog.HIGH_ERROR_BROWSERS) > max(
        v for b, v in rate.items() if b not in catalog.HIGH_ERROR_BROWSERS
    )


def test_retention_dips_at_drop_off_points(run: tuple[ViewStore, SimulationPlan, list[Lesson]]) -> None:
    store, plan, lessons = run
    fresh = (store["flags"] & (FLAG_RESUMED | FLAG_PLAYBACK_FAILURE | FLAG_EXIT_BEFORE_START)) == 0
    checked = 0
    for index, drops in enumerate(plan.drop_offs):
        rows = fresh & (store["lesson"] == index)
        stop = store["playhead_ms"][rows] / (lessons[index].duration_s * 1000)
        stop = stop[stop < 0.999]
        for drop in drops:
            if drop.strength < 0.12 or not 0.2 < drop.position < 0.85:
                continue
            near = np.mean(np.abs(stop - drop.position) < 0.02) / 0.04
            around = np.mean((np.abs(stop - drop.position) > 0.06) & (np.abs(stop - drop.position) < 0.15)) / 0.18
            assert near > 2 * around, (index, drop)
            checked += 1
    assert checked >= 3


def test_rewatches_skips_and_completion(run: tuple[ViewStore, SimulationPlan, list[Lesson]]) -> None:
    store, plan, lessons = run
    duration_ms = np.array([lesson.duration_s * 1000 for lesson in lessons])[store["lesson"]]
    started = store["startup_ms"] > 0
    fresh = started & ((store["flags"] & FLAG_RESUMED) == 0)
    replayed = fresh & (store["playing_ms"] > store["playhead_ms"] * 1.05)
    assert 0.05 < replayed.sum() / fresh.sum() < 0.4
    assert 0.1 < ((store["flags"] & FLAG_RESUMED) > 0).mean() < 0.3
    assert (store["seeks"][started] > 0).mean() > 0.3
    completed = store["playhead_ms"][fresh] >= duration_ms[fresh] - 1
    assert 0.2 < completed.mean() < 0.7
    assert np.all((plan.completion >= 0.02) & (plan.completion <= 0.95))


def test_knobs_change_the_model() -> None:
    lessons, students = _course(1, 6, 80)
    quiet, _ = generate(lessons, students, views=30_000, days=28, end_s=END, seed=1, knobs=Knobs(weekend_factor=0.1))
    offset = np.array([c.utc_offset_h * 3600 for c in catalog.COUNTRIES])[quiet["country"]]
    start_s = ((quiet["end_ms"] - quiet["wall_ms"]) // 1000 + offset).astype(np.int64)  # local time
    weekday = (start_s // 86_400 + 3) % 7
    assert np.bincount(weekday, minlength=7)[5:].sum() < 0.15 * np.bincount(weekday, minlength=7)[:5].sum()
    flaky, _ = generate(lessons, students, views=30_000, days=28, end_s=END, seed=1, knobs=Knobs(failure_rate=0.05))
    assert ((flaky["flags"] & FLAG_PLAYBACK_FAILURE) > 0).mean() > 0.05
    with pytest.raises(ValueError, match="unknown knobs"):
        Knobs.parse({"nope": 1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        Knobs.parse({"completion": 2})


def test_rejects_impossible_runs() -> None:
    lessons, students = _course(1, 2, 5)
    with pytest.raises(ValueError, match="no lessons"):
        generate([], students, views=10, days=1, end_s=END, seed=1)
    with pytest.raises(ValueError, match="no students"):
        generate(lessons, {}, views=10, days=1, end_s=END, seed=1)
    with pytest.raises(ValueError, match="views"):
        generate(lessons, students, views=-1, days=1, end_s=END, seed=1)
    empty, _ = generate(lessons, students, views=0, days=1, end_s=END, seed=1)
    assert empty.n == 0


def test_generation_is_fast() -> None:
    lessons, students = _course(5, 12, 300)
    started = time.perf_counter()
    store, _ = generate(lessons, students, views=500_000, days=90, end_s=END, seed=3)
    elapsed = time.perf_counter() - started
    assert store.n == 500_000
    assert elapsed < 15, f"500k views took {elapsed:.1f} s (target: 1M well under 60 s)"

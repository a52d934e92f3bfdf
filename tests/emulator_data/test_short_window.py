"""A simulation window shorter than a day: sessions spread evenly over it, e.g. one lesson failing for an hour."""

from __future__ import annotations

import time

import mux_python
import numpy as np

from emulator.data.simulator import Knobs, generate
from emulator.data.store import FLAG_PLAYBACK_FAILURE, Lesson
from emulator.testing import EmulatorServer
from tests.emulator_data.helpers import Catalogue, make_client, simulate

END = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600


def _course(lessons: int, students: int) -> tuple[list[Lesson], dict[str, list[str]]]:
    enrolled = {"1": [f"s{i}" for i in range(students)]}
    return [
        Lesson(str(k), f"L{k}", f"asset-{k}", f"pb-{k}", 420.0, "1080p", "plus", "1700000000", str(k), "1", k)
        for k in range(lessons)
    ], enrolled


def test_an_hour_long_window_spreads_sessions_evenly() -> None:
    lessons, students = _course(3, 50)
    store, _ = generate(lessons, students, views=6_000, days=1 / 24, end_s=END, seed=3)
    start_s = (store["end_ms"] - store["wall_ms"]) / 1000
    assert start_s.min() >= END - HOUR and start_s.max() <= END - 60
    # Six 10-minute slices (the last one a minute short, as sessions start at least a minute before the end).
    per_slice = np.histogram(start_s, bins=6, range=(END - HOUR, END - 60))[0]
    assert per_slice.min() > 0.8 * per_slice.max(), per_slice
    # No instant holds a pile of sessions (moving them by whole days used to stack them at the edges).
    assert np.bincount(np.floor(start_s - (END - HOUR)).astype(np.int64)).max() < 20


def test_one_lessons_recent_failures_read_as_mux_data_reports_them(
    fresh_emu: EmulatorServer, catalogue: Catalogue
) -> None:
    lesson_id, spec = next(iter(catalogue.lessons.items()))
    course = spec["course"]
    now = time.time()
    simulate(fresh_emu, views=2_000, days=7, seed=2, lessons=catalogue.lessons, students=catalogue.students)
    # An incident appended to that history: this lesson, the last hour, a failure rate far over normal.
    incident = simulate(
        fresh_emu,
        views=300,
        days=1 / 24,
        seed=5,
        end=now,
        replace=False,
        lessons={lesson_id: spec},
        students={course: catalogue.students[course]},
        knobs={"failure_rate": 0.25},
    )
    assert incident["views"] == 300 and incident["lessons"][0]["video_id"] == lesson_id

    client = make_client(fresh_emu)
    try:
        views = mux_python.VideoViewsApi(client)
        timeframe = [str(int(now - HOUR)), str(int(now) + HOUR)]  # views end after they start
        lesson = views.list_video_views(filters=[f"video_id:{lesson_id}"], timeframe=timeframe, limit=1)
        failed = views.list_video_views(
            filters=[f"video_id:{lesson_id}", "playback_failure:true"], timeframe=timeframe, limit=100
        )
        # A view is listed once it has ended: the longest (paused ones) are still going.
        assert lesson.total_row_count >= 200
        assert 0.3 < failed.total_row_count / lesson.total_row_count < 0.95
        for item in failed.data:
            assert item.error_type_id and item.player_error_message
        detail = views.get_video_view(failed.data[0].id).data
    finally:
        client.close()
    assert detail.player_error_code and detail.player_error_message
    assert detail.video_id == lesson_id and detail.viewer_user_id in catalogue.students[course]
    assert detail.view_end >= detail.view_start


def test_a_high_failure_rate_fails_about_half_the_views() -> None:
    lessons, students = _course(1, 80)
    store, _ = generate(lessons, students, views=4_000, days=1 / 24, end_s=END, seed=8, knobs=Knobs(failure_rate=0.25))
    failed = (store["flags"] & FLAG_PLAYBACK_FAILURE) > 0
    assert 0.35 < failed.mean() < 0.75
    assert np.all(store["error"][failed] > 0)

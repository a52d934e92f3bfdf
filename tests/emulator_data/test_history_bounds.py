"""A consistent history: no view before its lesson was available or its student enrolled, the rate per day
unchanged by the bounds, and no view playing more than the whole lesson."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.data.service import SimulateRequest
from emulator.data.simulator import DAY, Knobs, generate
from emulator.data.store import Lesson

END = 1_767_225_600  # 2026-01-01T00:00:00Z
DAYS = 60


def lessons(n: int = 6) -> list[Lesson]:
    return [
        Lesson(str(k), f"L{k}", f"asset-{k}", f"pb-{k}", 600.0 + 60 * k, "720p", "plus", "0", str(k), "c", k)
        for k in range(n)
    ]


def test_views_begin_after_their_lesson_and_their_students_enrolment() -> None:
    catalogue = lessons()
    students = [f"s{i}" for i in range(300)]
    # Half the lessons arrive during the window, half the students enrol during it.
    lesson_from = [END - DAYS * DAY if k < 3 else END - (10 + 10 * k) * DAY for k in range(len(catalogue))]
    enrolled = {"c": {s: END - (DAYS + 30) * DAY if i % 2 else END - (i % 50) * DAY for i, s in enumerate(students)}}
    store, plan = generate(
        catalogue,
        {"c": students},
        views=40_000,
        days=DAYS,
        end_s=END,
        seed=5,
        knobs=Knobs(growth=0.0, later_lessons_later=0.0),  # what `lectern emulator simulate --respect-dates` sends
        lesson_from=lesson_from,
        enrolled_from=enrolled,
    )
    start_s = (store["end_ms"] - store["wall_ms"]) / 1000.0
    lesson = store["lesson"]
    viewer = np.array(store.viewers)[store["viewer"]]
    since = np.array([enrolled["c"][v] for v in viewer])
    assert (start_s >= np.array(lesson_from)[lesson] - 1e-3).all()
    assert (start_s >= since - 1e-3).all()
    assert (store["playing_ms"] <= np.array([x.duration_s for x in catalogue])[lesson] * 1000 + 1).all()
    assert (store["playhead_ms"] <= np.array([x.duration_s for x in catalogue])[lesson] * 1000 + 1).all()

    # A lesson available for the last 40 days gets views at the rate its weight says for those days, not
    # the whole window's views squeezed into them: bounds move views, they do not pile them up.
    late, early = 3, 0
    recent = start_s >= END - 40 * DAY
    ratio = (recent & (lesson == late)).sum() / max(1, (recent & (lesson == early)).sum())
    weight = np.diff(np.r_[0.0, plan.lesson_p])  # each lesson's share of all views, its time share included
    expected = (weight[late] / (40 / DAYS)) / weight[early]
    assert ratio == pytest.approx(expected, rel=0.15)


def test_unbounded_runs_are_unchanged_by_the_option() -> None:
    catalogue = lessons(3)
    students = {"c": [f"s{i}" for i in range(50)]}
    a, _ = generate(catalogue, students, views=5_000, days=7, end_s=END, seed=2)
    b, _ = generate(catalogue, students, views=5_000, days=7, end_s=END, seed=2, lesson_from=None, enrolled_from=None)
    assert all(np.array_equal(a[name], b[name]) for name in ("end_ms", "lesson", "viewer", "playing_ms"))


def test_the_request_takes_enrolment_dates_and_after_created() -> None:
    request = SimulateRequest.parse(
        {"students": {"7": {"11": 1_700_000_000, "12": 1_700_100_000}}, "after_created": True}
    )
    assert request.students == {"7": ["11", "12"]}
    assert request.enrolled_from == {"7": {"11": 1_700_000_000.0, "12": 1_700_100_000.0}}
    assert request.after_created is True
    plain = SimulateRequest.parse({"students": {"7": ["11"]}})
    assert plain.enrolled_from is None and plain.after_created is False
    with pytest.raises(ValueError, match="enrolment times"):
        SimulateRequest.parse({"students": {"7": {"11": "yesterday"}}})
    with pytest.raises(ValueError, match="after_created"):
        SimulateRequest.parse({"after_created": 1})

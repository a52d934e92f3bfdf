"""The migration page's view model: what a row selection moves and costs, and the live progress cards."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from core.costs.whatif import MigrationPreview
from core.migration.jobs import Progress
from core.migration.plan import MigrationPlan, PlanItem
from dashboard.views import migration as view


def item(lesson_id: int, status: str = "ready", course_id: int = 1, teacher_id: int = 7) -> PlanItem:
    return PlanItem(
        lesson_id=lesson_id,
        lesson_title=f"L{lesson_id}",
        course_id=course_id,
        course_title=f"Course {course_id}",
        teacher_id=teacher_id,
        teacher_name=f"Teacher {teacher_id}",
        video_url=f"s3://legacy/{lesson_id}.mp4",
        bucket="legacy",
        key=f"{lesson_id}.mp4",
        status=status,
    )


def priced(plan: MigrationPlan) -> MigrationPlan:
    """The plan with a cost per lesson: encoding 1, 2, 3 dollars; storage + delivery 10 cents a month each."""
    ids = [i.lesson_id for i in plan.items]
    lessons = pd.DataFrame(
        {
            "lesson_id": ids,
            "minutes": [1.0] * len(ids),
            "encoding_micros": [n * 1_000_000 for n in range(1, len(ids) + 1)],
            "storage_month_micros": [50_000] * len(ids),
            "delivery_month_micros": [50_000] * len(ids),
        }
    )
    plan.cost = MigrationPreview(lessons, 0, 0, 0, [])
    return plan


def progress(**counts: int) -> Progress:
    full = {"queued": 0, "ingesting": 0, "waiting": 0, "verifying": 0, "done": 0, "failed": 0, "cancelled": 0}
    return Progress(
        counts={**full, **counts},
        paused=False,
        window_s=3600,
        finished_in_window=0,
        rate_per_min=None,
        eta_s=None,
        bytes_done=0,
        bytes_total=0,
        live_workers=1,
    )


def test_no_picked_row_means_every_movable_lesson_in_view() -> None:
    plan = priced(MigrationPlan(items=[item(1), item(2, status="in_progress"), item(3)], bucket="legacy"))
    chosen = view.selection(plan, plan.frame(), [])
    assert chosen.lesson_ids == [1, 3]  # 2 is already on its way
    assert chosen.summary == "2 lessons movable in this view: $4.00 encoding once, then $0.20/month"


def test_picked_rows_are_positions_in_the_table() -> None:
    plan = priced(MigrationPlan(items=[item(1), item(2, status="in_progress"), item(3)], bucket="legacy"))
    chosen = view.selection(plan, plan.frame(), [1, 2])
    assert chosen.lesson_ids == [3]  # row 1 (lesson 2) cannot move
    assert chosen.summary == "1 lessons selected: $3.00 encoding once, then $0.10/month"


def test_an_unpriced_plan_says_only_how_many() -> None:
    plan = MigrationPlan(items=[item(1)], bucket="legacy")
    assert view.selection(plan, plan.frame(), []).summary == "1 lessons movable in this view"


def test_course_and_teacher_choices_come_from_the_plan() -> None:
    plan = MigrationPlan(
        items=[item(1, course_id=2, teacher_id=8), item(2, course_id=3), item(3, course_id=2)], bucket="b"
    )
    assert view.course_choices(plan) == {2: "Course 2", 3: "Course 3"}
    assert view.teacher_choices(plan) == {8: "Teacher 8", 7: "Teacher 7"}


def test_progress_cards_and_bar_leave_cancelled_jobs_out() -> None:
    p = progress(done=3, failed=1, cancelled=2, queued=4)
    cards = {m.label: m.value for m in view.kpis(p)}
    assert cards == {"Done": "3 / 8", "Failed": "1", "Rate": "—", "ETA": "—", "Workers": "1"}
    fill, text = view.progress_bar(p)
    assert text == "4 of 8 finished" and fill == 6 / 8
    busy = replace(p, rate_per_min=2.5, eta_s=150.0)
    assert {m.label: m.value for m in view.kpis(busy)}["Rate"] == "2.5/min"
    assert {m.label: m.value for m in view.kpis(busy)}["ETA"] == "2 min"


def test_warning_says_why_nothing_moves() -> None:
    assert view.warning(progress(queued=2)) is None  # a worker is alive
    idle = replace(progress(queued=2), live_workers=0)
    assert view.warning(idle) == "Jobs are waiting but no worker is running: start one with `lectern migrate worker`."
    paused = replace(idle, paused=True, pause_reason="night")
    assert view.warning(paused) == "Paused: night. Workers hand jobs back at their next step."


def test_only_failed_jobs_when_asked() -> None:
    jobs = pd.DataFrame({"lesson_id": [1, 2], "state": ["done", "failed"]})
    assert view.jobs_shown(jobs, True)["lesson_id"].tolist() == [2]
    assert view.jobs_shown(jobs, False) is jobs

"""The migration page's view model: what a row selection moves and costs, and the live progress cards."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

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
    cards = {m.label: m.value for m in view.kpis(p, view.Pace(None, None, "Measuring"))}
    assert cards == {"Done": "3 / 8", "Failed": "1", "Rate": "—", "Time left": "—", "Workers": "1"}
    fill, text = view.progress_bar(p)
    assert text == "4 of 8 finished" and fill == 6 / 8
    busy = {m.label: m.value for m in view.kpis(p, view.Pace(2.5, 150.0, "4 jobs left"))}
    assert (busy["Rate"], busy["Time left"]) == ("2.5/min", "2 min")


NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def jobs(*rows: tuple[int, str, int | None, int | None]) -> pd.DataFrame:
    """(lesson, state, started minutes ago, finished minutes ago) -> the job table's columns the view reads."""
    ago = lambda m: None if m is None else NOW - timedelta(minutes=m)  # noqa: E731
    return pd.DataFrame(
        {
            "job_id": range(1, len(rows) + 1),
            "lesson_id": [r[0] for r in rows],
            "state": [r[1] for r in rows],
            "queued_at": [ago(r[2] + 1 if r[2] is not None else 0) for r in rows],
            "started_at": [ago(r[2]) for r in rows],
            "finished_at": [ago(r[3]) for r in rows],
            "updated_at": [ago(r[3] if r[3] is not None else 0) for r in rows],
        }
    )


def test_the_rate_counts_active_time_only_and_holds_still_while_idle() -> None:
    # Four lessons moved between 40 and 30 minutes ago, then nothing: 4 in 10 active minutes.
    done = jobs((1, "done", 40, 35), (2, "done", 38, 33), (3, "done", 35, 31), (4, "done", 33, 30))
    idle = view.pace(done, progress(done=4), NOW)
    assert idle.rate_per_min == 0.4
    # Ten minutes later, still nothing ran: the same rate (no decay), and nothing left to estimate.
    later = view.pace(done, progress(done=4), NOW + timedelta(minutes=10))
    assert later.rate_per_min == 0.4 and later.eta_s is None and later.eta_note == "Nothing left to move."


def test_the_eta_is_honest_about_workers_pauses_and_the_first_minutes() -> None:
    moving = jobs((1, "done", 10, 8), (2, "done", 8, 6), (3, "ingesting", 6, None))
    p = progress(done=2, ingesting=1, queued=5)
    running = view.pace(moving, p, NOW)
    assert running.rate_per_min == 0.2  # 2 finished over 10 busy minutes (the in-flight job keeps it busy)
    assert running.eta_s == 6 / 0.2 * 60 and running.eta_note == "6 jobs left at 0.2 a minute."
    no_worker = view.pace(moving, replace(p, live_workers=0), NOW)
    assert no_worker.eta_s is None and "lectern migrate worker" in no_worker.eta_note
    assert no_worker.rate_per_min == 0.5  # 2 in the 4 minutes jobs really ran: a dead worker's job is not time
    paused = view.pace(moving, replace(p, paused=True), NOW)
    assert paused.eta_s is None and paused.eta_note == "Paused: resume to continue."
    first = view.pace(jobs((1, "ingesting", 2, None)), progress(ingesting=1, queued=3), NOW)
    assert first.rate_per_min is None and first.eta_s is None and first.eta_note.startswith("Measuring")
    cards = {m.label: m for m in view.kpis(replace(p, live_workers=0), no_worker)}
    assert cards["Time left"].value == "—" and "lectern migrate worker" in (cards["Time left"].help or "")
    assert "lectern migrate worker" in (cards["Workers"].help or "")


def test_overlapping_jobs_count_their_shared_minutes_once() -> None:
    parallel = jobs((1, "done", 10, 0), (2, "done", 10, 0), (3, "failed", 5, 0))
    assert view.pace(parallel, progress(done=2, failed=1), NOW).rate_per_min == 0.3  # 3 in 10 minutes


@pytest.mark.parametrize(("seconds", "words"), [(20, "< 1 min"), (150, "2 min"), (3600, "1h 00m"), (7500, "2h 05m")])
def test_time_left_in_words(seconds: float, words: str) -> None:
    assert view.duration_words(seconds) == words


def test_the_plan_drops_lessons_jobs_took_and_offers_failed_ones_again() -> None:
    plan = MigrationPlan(items=[item(1), item(2), item(3), item(4), item(5, status="in_progress")], bucket="b")
    table = jobs((2, "queued", None, None), (3, "done", 9, 8), (4, "ingesting", 2, None), (5, "failed", 5, 1))
    live = view.live_plan(plan, table)
    assert [i.lesson_id for i in live.plan.items] == [1, 5]
    assert [i.lesson_id for i in live.plan.selectable] == [1, 5]  # 5 failed since the listing: it can go again
    assert live.moving == 3 and live.caption is not None and live.caption.startswith("3 lessons are moving")
    assert view.live_plan(plan, table.iloc[0:0]).plan is plan


def test_controls_follow_the_state() -> None:
    assert view.controls(progress()) == view.Controls(paused=False, can_pause=False, can_cancel=False, can_retry=False)
    assert view.controls(progress(queued=2, failed=1)) == view.Controls(False, True, True, True)
    paused = view.controls(replace(progress(queued=2), paused=True))
    assert paused.paused and not paused.can_pause and paused.can_cancel and not paused.can_retry


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

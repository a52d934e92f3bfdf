"""View model of Admin > Migration: what the picked rows move and cost, the plan as jobs change it, the
controls each state allows, and the live progress cards (finish rate over the active time, an honest ETA)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd

from core.costs.money import usd
from core.migration.jobs import ACTIVE, IN_FLIGHT, Progress
from core.migration.plan import CANCELLED, FAILED, MigrationPlan, PlanItem
from dashboard.views.display import MISSING, Metric

RATE_WINDOW_S = 3600.0  # finishes of the last hour make the rate
START_WORKER = "start one with `lectern migrate worker`"


def course_choices(plan: MigrationPlan) -> dict[int, str]:
    return {i.course_id: i.course_title for i in plan.items}


def teacher_choices(plan: MigrationPlan) -> dict[int, str]:
    return {i.teacher_id: i.teacher_name for i in plan.items}


@dataclass(frozen=True)
class LivePlan:
    plan: MigrationPlan  # the listed plan without the lessons jobs took since
    moving: int  # lessons dropped: a job is moving them, or moved them

    @property
    def caption(self) -> str | None:
        if not self.moving:
            return None
        return f"{self.moving} lessons are moving to Mux or have moved since the plan was listed: see Progress."


def live_plan(plan: MigrationPlan, jobs: pd.DataFrame) -> LivePlan:
    """The plan as the jobs table has it now, without listing S3 again: a lesson whose latest job is queued,
    running or done leaves the plan; one whose latest job failed or was cancelled can be started again."""
    if jobs.empty:
        return LivePlan(plan, 0)
    latest = jobs.sort_values(["updated_at", "job_id"]).groupby("lesson_id")["state"].last()
    items: list[PlanItem] = []
    for item in plan.items:
        state = latest.get(item.lesson_id)
        if state in ACTIVE or state == "done":
            continue
        if state == "failed":
            item = replace(item, status=FAILED, job_state=state)
        elif state == "cancelled":
            item = replace(item, status=CANCELLED, job_state=state)
        items.append(item)
    return LivePlan(replace(plan, items=items), len(plan.items) - len(items))


@dataclass(frozen=True)
class Selection:
    items: list[PlanItem]  # the lessons a start would queue
    summary: str

    @property
    def lesson_ids(self) -> list[int]:
        return [i.lesson_id for i in self.items]


def selection(shown: MigrationPlan, frame: pd.DataFrame, rows: Sequence[int]) -> Selection:
    """The movable lessons among the table rows picked (every movable one in view when none is picked).

    `rows` are positions in `frame` (`shown.frame()`), as the table's selection reports them.
    """
    picked = [int(frame.iloc[r]["lesson_id"]) for r in rows if r < len(frame)]
    picked = picked or [i.lesson_id for i in shown.selectable]
    movable = shown.select(picked)
    summary = f"{len(movable)} lessons {'selected' if rows else 'movable in this view'}"
    cost = shown.cost_of([i.lesson_id for i in movable])
    if cost is not None:
        summary += f": {usd(cost['encoding_micros'])} encoding once, then {usd(cost['monthly_micros'])}/month"
    return Selection(movable, summary)


def queued_text(created: int, requeued: int, skipped: int) -> str:
    return f"Queued {created} new and {requeued} again ({skipped} already running)."


@dataclass(frozen=True)
class Controls:
    """Which buttons the state allows: Pause only with work left, Resume while paused, Cancel with jobs
    queued or running, Retry with failed jobs."""

    paused: bool
    can_pause: bool
    can_cancel: bool
    can_retry: bool


def controls(p: Progress) -> Controls:
    return Controls(
        paused=p.paused,
        can_pause=not p.paused and p.remaining > 0,
        can_cancel=p.remaining > 0,
        can_retry=p.counts.get("failed", 0) > 0,
    )


def warning(p: Progress) -> str | None:
    """Why nothing moves, when nothing does: paused, or jobs waiting with no worker alive."""
    if p.paused:
        reason = f": {p.pause_reason}" if p.pause_reason else ""
        return f"Paused{reason}. Workers hand jobs back at their next step."
    if p.remaining and not p.live_workers:
        return f"Jobs are waiting but no worker is running: {START_WORKER}."
    return None


def _busy_seconds(spans: list[tuple[datetime, datetime]]) -> float:
    """The length of the union of the spans (time with at least one job moving)."""
    total, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            total += (end - start).total_seconds()
            reach = end
        elif end > reach:
            total += (end - reach).total_seconds()
            reach = end
    return total


def _time(value: object) -> datetime | None:
    """A job table timestamp as an aware datetime (SQLite hands back naive UTC), None when missing."""
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    aware: datetime = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()
    return aware


@dataclass(frozen=True)
class Pace:
    rate_per_min: float | None  # lessons finished per minute of active time (None: nothing finished lately)
    eta_s: float | None  # None: no honest estimate (see `eta_note`)
    eta_note: str  # what the ETA card's help says


def pace(jobs: pd.DataFrame, p: Progress, now: datetime, *, window_s: float = RATE_WINDOW_S) -> Pace:
    """Finishes (done or failed) of the last `window_s` per minute of *active* time: the union of the
    finished jobs' spans (queued or started, whichever is later, to finished) and of the in-flight jobs'
    spans up to now while a worker runs them. Idle time counts for nothing, so the rate holds still while
    nothing runs instead of decaying. The ETA is the remaining jobs at that rate, only while a worker runs."""
    since = now - timedelta(seconds=window_s)
    spans: list[tuple[datetime, datetime]] = []
    finished = 0
    running = p.live_workers > 0 and not p.paused
    for job in jobs.itertuples(index=False):
        begun = max((t for t in (_time(job.queued_at), _time(job.started_at)) if t is not None), default=None)
        ended = _time(job.finished_at)
        if job.state in ("done", "failed") and ended is not None and ended >= since:
            finished += 1
            spans.append((max(begun or ended, since), ended))
        elif job.state in IN_FLIGHT and running and begun is not None:
            spans.append((max(begun, since), now))
    busy = _busy_seconds(spans)
    rate = finished / max(busy / 60.0, 1 / 60.0) if finished else None
    if not p.remaining:
        return Pace(rate, None, "Nothing left to move.")
    if p.paused:
        return Pace(rate, None, "Paused: resume to continue.")
    if not p.live_workers:
        return Pace(rate, None, f"No worker is running: {START_WORKER}.")
    if rate is None:
        return Pace(rate, None, "Measuring: an estimate appears once the first lessons finish.")
    return Pace(rate, p.remaining / rate * 60.0, f"{p.remaining} jobs left at {rate:.1f} a minute.")


def duration_words(seconds: float) -> str:
    """`< 1 min`, `12 min`, `2h 05m` (short: it is a KPI card's value)."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "< 1 min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes} min"


def kpis(p: Progress, speed: Pace) -> list[Metric]:
    """Done (of the jobs not cancelled), failed, finishes per minute, time left and live workers."""
    rate_help = (
        "Lessons finished (done or failed) per minute of active migration in the last hour; idle time is not counted."
    )
    return [
        Metric("Done", f"{p.counts['done']} / {p.total - p.counts['cancelled']}"),
        Metric("Failed", str(p.counts["failed"])),
        Metric("Rate", f"{speed.rate_per_min:.1f}/min" if speed.rate_per_min else MISSING, help=rate_help),
        Metric("Time left", duration_words(speed.eta_s) if speed.eta_s is not None else MISSING, help=speed.eta_note),
        Metric("Workers", str(p.live_workers), help=None if p.live_workers else f"None running: {START_WORKER}."),
    ]


def progress_bar(p: Progress) -> tuple[float, str]:
    """The bar's fill and its text; cancelled jobs count as neither to do nor done."""
    total = max(1, p.total - p.counts["cancelled"])
    return min(1.0, p.finished / total), f"{p.finished - p.counts['cancelled']} of {total} finished"


def jobs_shown(jobs: pd.DataFrame, only_failed: bool) -> pd.DataFrame:
    return jobs[jobs["state"] == "failed"] if only_failed else jobs

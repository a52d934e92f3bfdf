"""View model of Admin > Migration: what the picked rows move, what it costs, and the live progress cards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from core.costs.money import usd
from core.migration.jobs import Progress
from core.migration.plan import MigrationPlan, PlanItem
from dashboard.views.display import Metric


def course_choices(plan: MigrationPlan) -> dict[int, str]:
    return {i.course_id: i.course_title for i in plan.items}


def teacher_choices(plan: MigrationPlan) -> dict[int, str]:
    return {i.teacher_id: i.teacher_name for i in plan.items}


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
    picked = [int(frame.iloc[r]["lesson_id"]) for r in rows] or [i.lesson_id for i in shown.selectable]
    movable = shown.select(picked)
    summary = f"{len(movable)} lessons {'selected' if rows else 'movable in this view'}"
    cost = shown.cost_of([i.lesson_id for i in movable])
    if cost is not None:
        summary += f": {usd(cost['encoding_micros'])} encoding once, then {usd(cost['monthly_micros'])}/month"
    return Selection(movable, summary)


def queued_text(created: int, requeued: int, skipped: int) -> str:
    return f"Queued {created} new and {requeued} again ({skipped} already running)."


def warning(p: Progress) -> str | None:
    """Why nothing moves, when nothing does: paused, or jobs waiting with no worker alive."""
    if p.paused:
        reason = f": {p.pause_reason}" if p.pause_reason else ""
        return f"Paused{reason}. Workers hand jobs back at their next step."
    if p.remaining and not p.live_workers:
        return "Jobs are waiting but no worker is running: start one with `lectern migrate worker`."
    return None


def kpis(p: Progress) -> list[Metric]:
    """Done (of the jobs not cancelled), failed, finishes per minute, time left and live workers."""
    return [
        Metric("Done", f"{p.counts['done']} / {p.total - p.counts['cancelled']}"),
        Metric("Failed", str(p.counts["failed"])),
        Metric("Rate", f"{p.rate_per_min:.1f}/min" if p.rate_per_min else "—"),
        Metric("ETA", f"{p.eta_s / 60:.0f} min" if p.eta_s else "—"),
        Metric("Workers", str(p.live_workers)),
    ]


def progress_bar(p: Progress) -> tuple[float, str]:
    """The bar's fill and its text; cancelled jobs count as neither to do nor done."""
    total = max(1, p.total - p.counts["cancelled"])
    return min(1.0, p.finished / total), f"{p.finished - p.counts['cancelled']} of {total} finished"


def jobs_shown(jobs: pd.DataFrame, only_failed: bool) -> pd.DataFrame:
    return jobs[jobs["state"] == "failed"] if only_failed else jobs

"""View model of the engagement page: KPI cards, table frames and sentences from the named queries' frames.

The warehouse knows students by key only; `students_frame` joins the names the platform DB gives
(`platform_db.student_names`, within the user's scope) and flags the stalled students.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from dashboard.definitions import KPI_HELP
from dashboard.insights import RetentionMoments, chapter_marks, flag_stalled, key_moments
from dashboard.lesson_tables import duration_text
from dashboard.platform_db import LessonRow
from dashboard.views.display import MISSING, Metric, data_as_of

DEFAULT_DAYS = 30
NO_VIEWS = (
    "No views in this range yet. Views reach these pages a few minutes after they end (each warehouse sync); "
    "widen the dates to see older ones."
)
UNKNOWN_STUDENT = "(unknown student)"
STUDENTS_TAB = "Students"
PROVIDERS_TAB = "S3 vs Mux"


def default_range(today: date) -> tuple[date, date]:
    """The last `DEFAULT_DAYS` UTC days, today included."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def picked_range(picked: object, today: date) -> tuple[date, date]:
    """The date input's answer; the default range while only the first day of a new range is picked."""
    if isinstance(picked, tuple) and len(picked) == 2:
        return picked[0], picked[1]
    return default_range(today)


def tab_names(sees_students: bool) -> list[str]:
    """Student-level data is a tab only for those who may see it (teachers, admins)."""
    names = ["Trend", "Lessons", "Retention", "Funnel"]
    if sees_students:
        names.append(STUDENTS_TAB)
    return [*names, "Quality", PROVIDERS_TAB]


def number_text(value: object, fmt: str) -> str:
    """`fmt` applied to a KPI value; a dash where the query has no value (no views, no lessons)."""
    return MISSING if value is None or pd.isna(value) else fmt.format(value)


def kpis(kpi: pd.DataFrame) -> list[Metric]:
    """The six KPI cards from the `kpis` query's one row (dashes for an empty frame)."""
    row = kpi.iloc[0] if not kpi.empty else pd.Series(dtype="object")
    watch_hours = (row.get("watch_time_s") or 0) / 3600
    return [
        Metric("Views", number_text(row.get("views"), "{:,.0f}"), KPI_HELP["views"]),
        Metric("Unique viewers", number_text(row.get("unique_viewers"), "{:,.0f}"), KPI_HELP["unique_viewers"]),
        Metric("Watch time", number_text(watch_hours, "{:,.1f} h"), KPI_HELP["watch_time"]),
        Metric("Avg view duration", duration_text(row.get("avg_view_duration_s")), KPI_HELP["avg_view_duration"]),
        Metric("Avg watched (Mux)", number_text(row.get("avg_fraction_watched"), "{:.0%}"), KPI_HELP["avg_watched"]),
        Metric("Lessons completed", number_text(row.get("completion_rate"), "{:.0%}"), KPI_HELP["completion_rate"]),
    ]


def has_views(kpi: pd.DataFrame) -> bool:
    return not kpi.empty and bool(kpi.iloc[0].get("views"))


def only_lesson(lessons: pd.DataFrame, lesson_id: int | None) -> pd.DataFrame:
    """The lesson table narrowed to the picked lesson (all of it when none is picked)."""
    return lessons if lesson_id is None else lessons[lessons["lesson_id"] == lesson_id]


def watched_titles(lessons: pd.DataFrame) -> dict[int, str]:
    """Lesson id -> title of the lessons with views, most viewed first (the retention tab's choices)."""
    watched = lessons[lessons["views"] > 0].sort_values("views", ascending=False)
    return {int(lid): str(title) for lid, title in zip(watched["lesson_id"], watched["lesson_title"], strict=True)}


@dataclass(frozen=True)
class Retention:
    moments: RetentionMoments
    marks: list[tuple[float, str]]
    summary: str


def retention(curve: pd.DataFrame, replays: pd.DataFrame, lesson: LessonRow | None) -> Retention:
    """Key moments, chapter marks and the one-line summary under the retention chart."""
    duration = lesson.duration_s if lesson else None
    moments = key_moments(curve, duration, replays)
    facts = []
    if moments.share_after_early is not None:
        facts.append(f"**{moments.share_after_early:.0%}** still watching after the first 30 s")
    facts += [f"drop-off {m.label}" for m in moments.drop_offs]
    facts += [f"replay spike at {m.pct:.0f}% ({m.label})" for m in moments.replay_spikes]
    marks = chapter_marks(lesson.chapters if lesson else None, duration)
    return Retention(moments, marks, " · ".join(facts) or "No marked moments.")


def students_frame(
    students: pd.DataFrame,
    names: dict[int, tuple[str, str]],
    *,
    lessons: Iterable[LessonRow],
    now: datetime,
) -> pd.DataFrame:
    """The `students` query's rows with `name` and `email` (from `names`, by student key) and stalled flags.

    `lessons` are the lessons in scope, counted per course for each student's progress. A key without a
    name (a student enrolled after the snapshot's names were read) shows as unknown.
    """
    who = students["student_key"].map(lambda key: names.get(key, (UNKNOWN_STUDENT, None)))
    named = students.assign(name=who.str[0], email=who.str[1])
    per_course = dict(Counter(row.course_id for row in lessons))
    return flag_stalled(named, now=now, lessons_in_course=per_course)


def stalled_caption(flagged: pd.DataFrame) -> str:
    return f"{int(flagged['stalled'].sum())} of {len(flagged)} students stalled."


def qoe_frame(qoe: pd.DataFrame, by: str, lessons: pd.DataFrame) -> pd.DataFrame:
    """The QoE breakdown with lesson titles in place of lesson ids when broken down by lesson."""
    if by != "lesson":
        return qoe
    titles = dict(zip(lessons["lesson_id"], lessons["lesson_title"], strict=True))
    return qoe.assign(lesson=qoe["lesson"].map(lambda lid: titles.get(lid, f"lesson {lid}")))


def footer(snapshot_name: str | None, start: date, end: date) -> str:
    """When the data was synced and which days it covers (never the snapshot's file name)."""
    return f"{data_as_of(snapshot_name)} Dates are UTC days {start:%Y-%m-%d} to {end:%Y-%m-%d}."

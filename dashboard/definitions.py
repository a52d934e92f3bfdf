"""One-line definitions for every number the pages show (KPI help, table column help, captions).

They restate warehouse/README.md's definitions in the words a teacher needs next to the number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.views.display import human_label

Col = st.column_config

# The three completion figures come from two sources and measure different things; their labels and help
# say which, so that 40 % "lessons completed" next to 70 % "avg % watched" reads as two facts, not a contradiction.
PLATFORM = "Course platform (students' progress)"
MUX_DATA = "Mux Data (player views)"
KPI_HELP = {
    "views": "Mux Data views of the lessons in the selection whose view started on a day in the range.",
    "unique_viewers": "Distinct viewers (Mux Data viewer user id) with at least one view in the range.",
    "watch_time": "Total Mux Data watch time of those views (time on the player, including startup and stalls).",
    "avg_view_duration": "Watch time divided by views.",
    "avg_watched": (
        f"{MUX_DATA}: the mean, over views, of the furthest point reached as a share of the video's length "
        "(capped at 100 %). A view that stops halfway counts 50 %."
    ),
    "views_to_90": f"{MUX_DATA}: the share of views that reached at least 90 % of the video.",
    "completion_rate": (
        f"{PLATFORM}: lessons the platform marks completed by enrolled students (by the end date), out of "
        "enrolled students × lessons in the selection. Students who never pressed play count as not completed, "
        "so this is usually lower than the Mux Data figures, which count only views."
    ),
}

PERCENT = "percent"

TREND_CAPTION = (
    "Views and unique viewers per UTC day from Mux Data (days with no views show as zero). Today is dashed: "
    "the day is not over, and views reach the warehouse a few minutes after they end."
)
RETENTION_PICK_HELP = "Lessons with views in the range, most viewed first."
RETENTION_CAPTION = (
    "Share of views that reached each 5 % of the video (furthest playhead). Replay spikes: views that "
    "stopped around there and played 25 % more than the furthest point they reached (rewatching)."
)
FUNNEL_CAPTION = "Reached: enrolled students with platform progress on the lesson. Completed: marked complete."
PROVIDERS_CAPTION = (
    "Progress metrics (platform) exist for every lesson; Mux Data metrics only where views were recorded."
)

LESSON_COLUMNS: dict[str, Any] = {
    "position": Col.NumberColumn("#", help="Position of the lesson in its course.", format="%d"),
    "lesson_title": Col.TextColumn("lesson"),
    "course_title": Col.TextColumn("course"),
    "views": Col.NumberColumn("views", help=KPI_HELP["views"], format="%d"),
    "unique_viewers": Col.NumberColumn("unique viewers", help=KPI_HELP["unique_viewers"], format="%d"),
    "watch_time_s": Col.NumberColumn("watch time (s)", help=KPI_HELP["watch_time"], format="%.0f"),
    "avg_view_duration_s": Col.NumberColumn("avg view (s)", help=KPI_HELP["avg_view_duration"], format="%.0f"),
    "avg_fraction_watched": Col.NumberColumn("avg % watched", help=KPI_HELP["avg_watched"], format=PERCENT),
    "view_completion_rate": Col.NumberColumn("views to 90 %", help=KPI_HELP["views_to_90"], format=PERCENT),
    "enrolled_students": Col.NumberColumn("enrolled", help="Students enrolled in the course by the end date."),
    "students_completed": Col.NumberColumn(
        "students completed", help=f"{PLATFORM}: enrolled students marked as having completed the lesson."
    ),
    "completion_rate": Col.NumberColumn(
        "completed (platform)", help=f"{PLATFORM}: students completed / enrolled.", format=PERCENT
    ),
    "lesson_id": Col.NumberColumn("lesson ID", format="%d"),
}

STALLED_HELP = "Started the course, has not completed every lesson, and no view or progress for 14 days."
STUDENT_COLUMNS: dict[str, Any] = {
    "name": Col.TextColumn("student"),
    "email": Col.TextColumn("email"),
    "course_title": Col.TextColumn("course"),
    "lessons_started": Col.NumberColumn("started", help="Lessons with any platform progress."),
    "lessons_completed": Col.NumberColumn("completed", help="Lessons the platform marks as completed."),
    "progress": Col.ProgressColumn("progress", help="Completed lessons / lessons in the course.", format=PERCENT),
    "watch_time_s": Col.NumberColumn("watch time (s)", help="Mux Data watch time in the date range.", format="%.0f"),
    "views": Col.NumberColumn("views", help="Mux Data views in the date range."),
    "last_activity": Col.DatetimeColumn("last activity", help="Latest Mux view end or platform progress update."),
    "stalled": Col.CheckboxColumn("stalled", help=STALLED_HELP),
}

# The QoE table's metric columns (what `warehouse.queries.qoe_breakdown` returns per row), labelled. Not a
# second list of QoE dimensions: those (what a breakdown groups by) are `warehouse.queries.QOE_DIMENSIONS`,
# and the page offers the few of them in QOE_BREAKDOWNS.
QOE_BREAKDOWNS = ("lesson", "browser", "os")
QOE_COLUMNS: dict[str, Any] = {
    "views": Col.NumberColumn("views", help="Mux Data views in the range.", format="%d"),
    "startup_time_ms_p50": Col.NumberColumn(
        "startup p50 (ms)", help="Median time from play request to first frame.", format="%.0f"
    ),
    "startup_time_ms_p95": Col.NumberColumn("startup p95 (ms)", help="95th percentile startup time.", format="%.0f"),
    "avg_rebuffer_percentage": Col.NumberColumn(
        "rebuffer %", help="Mean share of watch time spent rebuffering.", format=PERCENT
    ),
    "playback_failure_rate": Col.NumberColumn(
        "playback failure %", help="Share of views that ended in a playback error.", format=PERCENT
    ),
    "startup_failure_rate": Col.NumberColumn(
        "startup failure %", help="Share of views whose video never started because of an error.", format=PERCENT
    ),
    "exit_before_start_rate": Col.NumberColumn(
        "exit before start %", help="Share of views left before the video started (no error).", format=PERCENT
    ),
}

PROVIDER_COLUMNS: dict[str, Any] = {
    "provider": Col.TextColumn("provider", help="mux: has a Mux playback id; s3: legacy S3 video; none: no video."),
    "lessons": Col.NumberColumn("lessons", help="Lessons in the selection on this provider."),
    "student_lessons": Col.NumberColumn("possible", help="Enrolled students x lessons."),
    "students_started": Col.NumberColumn("started", help="(student, lesson) pairs with platform progress."),
    "students_completed": Col.NumberColumn("completed", help="(student, lesson) pairs marked completed."),
    "completion_rate": Col.NumberColumn(
        "completed (platform)", help=f"{PLATFORM}: completed / possible.", format=PERCENT
    ),
    "avg_progress_fraction": Col.NumberColumn(
        "avg progress (platform)",
        help=f"{PLATFORM}: mean furthest position / lesson length, over started pairs.",
        format=PERCENT,
    ),
    "progress_seconds_watched": Col.NumberColumn(
        "seconds watched (platform)", help="Sum of the platform's seconds watched.", format="%.0f"
    ),
    "views": Col.NumberColumn("views", help="Mux Data views in the range (where recorded).", format="%d"),
    "watch_time_s": Col.NumberColumn("watch time (s)", help=KPI_HELP["watch_time"], format="%.0f"),
    "avg_fraction_watched": Col.NumberColumn("avg % watched (Mux)", help=KPI_HELP["avg_watched"], format=PERCENT),
    "view_completion_rate": Col.NumberColumn("views to 90 % (Mux)", help=KPI_HELP["views_to_90"], format=PERCENT),
}

# Admin > Migration's plan table (`MigrationPlan.frame()`): sizes compact; the per-lesson cost columns feed
# the selection summary only.
PLAN_COLUMNS: dict[str, Any] = {
    "lesson_id": Col.NumberColumn("lesson ID", format="%d"),
    "lesson_title": Col.TextColumn("lesson"),
    "course_id": None,
    "course_title": Col.TextColumn("course"),
    "teacher_id": None,
    "teacher_name": Col.TextColumn("teacher"),
    "key": Col.TextColumn("S3 object"),
    "status": Col.TextColumn(
        "status", help="ready: can move; failed or cancelled: can move again; missing_object: not in the bucket."
    ),
    "size_bytes": Col.NumberColumn("size", format="bytes"),
    "duration_s": Col.NumberColumn("length (s)", help="From the platform.", format="%.0f"),
    "probed_duration_s": Col.NumberColumn("probed length (s)", help="Read from the video's header.", format="%.0f"),
    "playback_policy": Col.TextColumn("policy"),
    "watched_s_per_day": Col.NumberColumn(
        "watched (s/day)", help="Platform seconds watched per day: what delivery on Mux is priced on.", format="%.0f"
    ),
    "job_state": Col.TextColumn("last job"),
    "job_error": Col.TextColumn("last error"),
    "encoding_micros": None,
    "storage_month_micros": None,
    "delivery_month_micros": None,
}
# Admin > Migration's job table (`MigrationService.jobs_frame()`).
JOB_COLUMNS: dict[str, Any] = {
    "job_id": Col.NumberColumn("job", format="%d"),
    "lesson_id": Col.NumberColumn("lesson ID", format="%d"),
    "lesson_title": Col.TextColumn("lesson"),
    "course_title": Col.TextColumn("course"),
    "teacher_name": Col.TextColumn("teacher"),
    "state": Col.TextColumn("state"),
    "attempts": Col.NumberColumn("attempts", format="%d"),
    "ingest_mode": Col.TextColumn(
        "how Mux gets it", help="url: Mux fetches a presigned S3 URL; stream: Lectern streams the file to Mux."
    ),
    "mux_asset_id": Col.TextColumn("Mux asset"),
    "error": Col.TextColumn("error", width="medium"),
    "source_size_bytes": Col.NumberColumn("size", format="bytes"),
    "updated_at": Col.DatetimeColumn("updated", format="YYYY-MM-DD HH:mm:ss"),
    "queued_at": None,
    "started_at": Col.DatetimeColumn("started", format="YYYY-MM-DD HH:mm:ss"),
    "finished_at": Col.DatetimeColumn("finished", format="YYYY-MM-DD HH:mm:ss"),
    "cleaned_up_at": Col.DatetimeColumn("S3 copy deleted", format="YYYY-MM-DD HH:mm:ss"),
}

# My lessons: the live table of a course's lessons (`lesson_tables.lessons_frame`).
MY_LESSONS_COLUMNS: dict[str, Any] = {
    "thumbnail": Col.ImageColumn("thumbnail", help="Mux thumbnail (signed for private lessons)"),
    "provider": Col.TextColumn("provider", help="Mux, legacy S3, or none yet"),
    "status": Col.TextColumn("status", help="Video state from Mux webhooks"),
    "lesson_id": Col.NumberColumn("lesson ID", format="%d"),
}

# Admin > System status (`views.status.status_frame`).
STATUS_COLUMNS: dict[str, Any] = {
    "part": Col.TextColumn("part"),
    "state": Col.TextColumn("state"),
    "detail": Col.TextColumn("detail", width="large"),
    "latency (ms)": Col.NumberColumn("latency (ms)", format="%.0f"),
}

# Money in a table stays a number (so it sorts) and is written as `core.costs.money.usd` writes it: "$1,234.56".
MONEY = "dollar"


def money_column(label: str, help: str | None = None) -> Any:
    return Col.NumberColumn(label, help=help, format=MONEY)


# Admin > Costs: the breakdown table (`views.costs.breakdown`) and the what-if table.
COST_COLUMNS: dict[str, Any] = {
    "lesson_title": Col.TextColumn("lesson", width="medium"),
    "course_title": Col.TextColumn("course", width="medium"),
    "teacher_name": Col.TextColumn("teacher"),
    "day": Col.DateColumn("day (UTC)", format="YYYY-MM-DD"),
    "month": Col.DateColumn("month", format="YYYY-MM"),
    "encoded_min": Col.NumberColumn("encoded (min)", help="Minutes of video encoded.", format="%,.1f"),
    "stored_min_months": Col.NumberColumn(
        "stored (min × months)", help="Minutes of video stored, times the share of a month stored.", format="%,.1f"
    ),
    "delivered_min": Col.NumberColumn("delivered (min)", help="Minutes of video streamed to viewers.", format="%,.0f"),
    "encoding_usd": money_column("encoding"),
    "storage_usd": money_column("storage"),
    "delivery_usd": money_column("delivery"),
    "gross_usd": money_column("at list price", help="Before free minutes and volume discounts."),
    "volume_usd": money_column("volume discount"),
    "free_usd": money_column("free minutes", help="The value of Mux's free delivery minutes."),
    "net_usd": money_column("net", help="What Mux charges: list price less free minutes and volume discounts."),
}
WHAT_IF_COLUMNS: dict[str, Any] = {
    "item": Col.TextColumn("line item"),
    "today": Col.TextColumn("today"),
    "what_if": Col.TextColumn("what if"),
    "change": Col.TextColumn("change", help="What if minus today: negative saves money."),
}


def column_config(frame: pd.DataFrame, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A config for every column of `frame`: the one `given` (None hides the column), else a plain column
    headed by `human_label` (so no table shows `lesson_id` or `ingest_mode` as a header)."""
    given = given or {}
    return {str(c): given[str(c)] if str(c) in given else Col.Column(human_label(str(c))) for c in frame.columns}

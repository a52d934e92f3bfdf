"""One-line definitions for every number the pages show (KPI help, table column help, captions).

They restate warehouse/README.md's definitions in the words a teacher needs next to the number.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

Col = st.column_config

KPI_HELP = {
    "views": "Mux Data views of the lessons in the selection whose view started on a day in the range.",
    "unique_viewers": "Distinct viewers (Mux Data viewer user id) with at least one view in the range.",
    "watch_time": "Total Mux Data watch time of those views (time on the player, including startup and stalls).",
    "avg_view_duration": "Watch time divided by views.",
    "avg_watched": "Mean over views of the furthest point reached as a share of the video's length (capped at 100%).",
    "completion_rate": (
        "Lessons completed on the platform by enrolled students (by the end date) / "
        "(enrolled students x lessons in the selection)."
    ),
}

PERCENT = "percent"

TREND_CAPTION = "Views and unique viewers per UTC day from Mux Data (days with no views show as zero)."
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
    "avg_fraction_watched": Col.NumberColumn("avg watched", help=KPI_HELP["avg_watched"], format=PERCENT),
    "view_completion_rate": Col.NumberColumn(
        "views completed", help="Share of views that reached at least 90% of the video.", format=PERCENT
    ),
    "enrolled_students": Col.NumberColumn("enrolled", help="Students enrolled in the course by the end date."),
    "students_completed": Col.NumberColumn(
        "students completed", help="Enrolled students the platform marks as having completed the lesson."
    ),
    "completion_rate": Col.NumberColumn(
        "completion rate", help="Students completed / enrolled (platform progress).", format=PERCENT
    ),
    "lesson_id": Col.NumberColumn("id", format="%d"),
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
    "completion_rate": Col.NumberColumn("completion rate", help="Completed / possible.", format=PERCENT),
    "avg_progress_fraction": Col.NumberColumn(
        "avg progress", help="Mean furthest position / lesson length, over started pairs.", format=PERCENT
    ),
    "progress_seconds_watched": Col.NumberColumn(
        "seconds watched (platform)", help="Sum of the platform's seconds watched.", format="%.0f"
    ),
    "views": Col.NumberColumn("views", help="Mux Data views in the range (where recorded).", format="%d"),
    "watch_time_s": Col.NumberColumn("watch time (s)", help=KPI_HELP["watch_time"], format="%.0f"),
    "avg_fraction_watched": Col.NumberColumn("avg watched", help=KPI_HELP["avg_watched"], format=PERCENT),
    "view_completion_rate": Col.NumberColumn(
        "views completed", help="Share of Mux Data views reaching 90% of the video.", format=PERCENT
    ),
}

# Admin > Migration's plan table: sizes compact; the per-lesson cost columns feed the selection summary only.
PLAN_COLUMNS: dict[str, Any] = {
    "size_bytes": Col.NumberColumn("size", format="compact"),
    "encoding_micros": None,
    "storage_month_micros": None,
    "delivery_month_micros": None,
}

# My lessons: the live table of a course's lessons (`lesson_tables.lessons_frame`).
MY_LESSONS_COLUMNS: dict[str, Any] = {
    "thumbnail": Col.ImageColumn("thumbnail", help="Mux thumbnail (signed for private lessons)"),
    "provider": Col.TextColumn("provider", help="Mux, legacy S3, or none yet"),
    "status": Col.TextColumn("status", help="Video state from Mux webhooks"),
    "lesson_id": Col.NumberColumn("id", format="%d"),
}

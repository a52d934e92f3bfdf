"""Engagement: KPIs, trend, lessons, retention, funnel, students, QoE, and S3 vs Mux during the cut-over.

Filters -> named warehouse queries (scoped to the signed-in user in SQL, cached) -> chart functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from core.privacy import pseudonym_secret
from dashboard import analytics, context, platform_db
from dashboard.analytics import NoWarehouse
from dashboard.auth import require_role
from dashboard.charts import engagement as charts
from dashboard.definitions import (
    KPI_HELP,
    LESSON_COLUMNS,
    PROVIDER_COLUMNS,
    QOE_COLUMNS,
    STALLED_HELP,
    STUDENT_COLUMNS,
)
from dashboard.insights import chapter_marks, flag_stalled, key_moments
from dashboard.lesson_tables import duration_text

DEFAULT_DAYS = 30
NO_VIEWS = "No views in this range yet: run `lectern sync --once` to load Mux Data views, or widen the dates."

user = require_role("teacher", "admin", "analyst")
scope = user.scope
factory = context.session_factory()
st.title("Engagement")

# -- filters (options come from the user's scope; query parameters only preselect inside it) -----------------
courses = platform_db.courses(factory, scope)
course_titles = {c.id: c.title for c in courses}
course_options: list[int | None] = [None, *course_titles]
wanted_course = platform_db.parse_id(st.query_params.get("course"))
left, middle, right = st.columns([2, 2, 2])
course_id = left.selectbox(
    "Course",
    course_options,
    index=course_options.index(wanted_course) if wanted_course in course_titles else 0,
    format_func=lambda cid: "All courses" if cid is None else course_titles[cid],
    key="eng_course",
)
lesson_rows = platform_db.lessons(factory, scope, course_id) if course_id is not None else []
lesson_labels = {r.id: r.label for r in lesson_rows}
lesson_options: list[int | None] = [None, *lesson_labels]
wanted_lesson = platform_db.parse_id(st.query_params.get("lesson"))
lesson_id = middle.selectbox(
    "Lesson",
    lesson_options,
    index=lesson_options.index(wanted_lesson) if wanted_lesson in lesson_labels else 0,
    format_func=lambda lid: "All lessons" if lid is None else lesson_labels[lid],
    key="eng_lesson",
    disabled=course_id is None,
)
today = datetime.now(UTC).date()
picked = right.date_input("Dates (UTC)", (today - timedelta(days=DEFAULT_DAYS - 1), today), key="eng_dates")
start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (today - timedelta(days=DEFAULT_DAYS), today)
if wanted_lesson is not None and wanted_lesson not in lesson_labels and course_id is not None:
    st.warning(f"Lesson {wanted_lesson} is not among this course's lessons you can see; showing all lessons.")

# -- KPIs -----------------------------------------------------------------------------------------------------
try:
    kpi = analytics.kpis(scope, start=start, end=end, course_id=course_id, lesson_id=lesson_id)
except NoWarehouse as exc:
    st.info(str(exc))
    st.stop()

row = kpi.iloc[0] if not kpi.empty else pd.Series(dtype="object")


def _num(value: object, fmt: str) -> str:
    return "–" if value is None or pd.isna(value) else fmt.format(value)


cols = st.columns(6)
cols[0].metric("Views", _num(row.get("views"), "{:,.0f}"), help=KPI_HELP["views"])
cols[1].metric("Unique viewers", _num(row.get("unique_viewers"), "{:,.0f}"), help=KPI_HELP["unique_viewers"])
cols[2].metric("Watch time", _num((row.get("watch_time_s") or 0) / 3600, "{:,.1f} h"), help=KPI_HELP["watch_time"])
cols[3].metric("Avg view duration", duration_text(row.get("avg_view_duration_s")), help=KPI_HELP["avg_view_duration"])
cols[4].metric("Avg % watched", _num(row.get("avg_fraction_watched"), "{:.0%}"), help=KPI_HELP["avg_watched"])
cols[5].metric("Completion rate", _num(row.get("completion_rate"), "{:.0%}"), help=KPI_HELP["completion_rate"])
no_views = not row.get("views")
if no_views:
    st.info(NO_VIEWS)

names = ["Trend", "Lessons", "Retention", "Funnel", *(["Students"] if scope.sees_students else []), "Quality"]
tabs = dict(zip([*names, "S3 vs Mux"], st.tabs([*names, "S3 vs Mux"]), strict=True))
filters = {"start": start, "end": end, "course_id": course_id}
lessons = analytics.query("lessons", scope, **filters)
if lesson_id is not None:
    lessons = lessons[lessons["lesson_id"] == lesson_id]

with tabs["Trend"]:
    trend = analytics.query("trend", scope, **filters, lesson_id=lesson_id)
    st.plotly_chart(charts.trend_chart(trend, start, end), width="stretch", key="trend_chart")
    st.caption("Views and unique viewers per UTC day from Mux Data (days with no views show as zero).")

with tabs["Lessons"]:
    if lessons.empty:
        st.info("No lessons in this selection.")
    else:
        shown = lessons[list(LESSON_COLUMNS)]
        st.dataframe(
            shown, hide_index=True, width="stretch", key="lesson_table",
            column_config=LESSON_COLUMNS,
        )  # fmt: skip
        st.download_button(
            "Download CSV", shown.to_csv(index=False).encode(), file_name=f"lessons_{start}_{end}.csv",
            mime="text/csv", key="lessons_csv",
        )  # fmt: skip

with tabs["Retention"]:
    watched = lessons[lessons["views"] > 0].sort_values("views", ascending=False)
    if watched.empty:
        st.info(NO_VIEWS)
    else:
        titles = dict(zip(watched["lesson_id"], watched["lesson_title"], strict=True))
        focus = st.selectbox(
            "Lesson", list(titles), format_func=lambda lid: titles[lid], key="retention_lesson",
            help="Lessons with views in the range, most viewed first.",
        )  # fmt: skip
        curve = analytics.query("retention", scope, lesson_id=focus, start=start, end=end)
        replays = analytics.query("replays", scope, lesson_id=focus, start=start, end=end)
        detail = platform_db.lesson_row(factory, scope, int(focus))
        duration = detail.duration_s if detail else None
        moments = key_moments(curve, duration, replays)
        marks = chapter_marks(detail.chapters if detail else None, duration)
        figure = charts.retention_chart(curve, moments, marks, title=f"Audience retention: {titles[focus]}")
        st.plotly_chart(figure, width="stretch", key="retention_chart")
        facts = []
        if moments.share_after_early is not None:
            facts.append(f"**{moments.share_after_early:.0%}** still watching after the first 30 s")
        facts += [f"drop-off {m.label}" for m in moments.drop_offs]
        facts += [f"replay spike at {m.pct:.0f}% ({m.label})" for m in moments.replay_spikes]
        st.markdown(" · ".join(facts) or "No marked moments.")
        st.caption(
            "Share of views that reached each 5 % of the video (furthest playhead). Replay spikes: views that "
            "stopped around there and played 25 % more than the furthest point they reached (rewatching)."
        )

with tabs["Funnel"]:
    if course_id is None:
        st.info("Pick a course above to see how many enrolled students reached each lesson.")
    else:
        funnel = analytics.query("funnel", scope, course_id=course_id)
        if funnel.empty:
            st.info("This course has no lessons yet.")
        else:
            st.plotly_chart(charts.funnel_chart(funnel), width="stretch", key="funnel_chart")
            st.caption("Reached: enrolled students with platform progress on the lesson. Completed: marked complete.")

if "Students" in tabs:
    with tabs["Students"]:
        students = analytics.query("students", scope, **filters)
        if students.empty:
            st.info("No enrolled students in this selection.")
        else:
            per_course = platform_db.lessons(factory, scope, course_id)
            counts = pd.Series([r.course_id for r in per_course]).value_counts().to_dict()
            # The warehouse knows students by key only; their names come from the platform DB, within scope.
            people = platform_db.student_names(factory, scope, pseudonym_secret(context.settings()), course_id)
            who = students["student_key"].map(lambda key: people.get(key, ("(unknown student)", None)))
            students = students.assign(name=who.str[0], email=who.str[1])
            flagged = flag_stalled(students, now=datetime.now(UTC), lessons_in_course=counts)
            only_stalled = st.toggle("Only stalled students", key="only_stalled", help=STALLED_HELP)
            view = flagged[flagged["stalled"]] if only_stalled else flagged
            st.caption(f"{int(flagged['stalled'].sum())} of {len(flagged)} students stalled.")
            st.dataframe(
                view[list(STUDENT_COLUMNS)], hide_index=True, width="stretch", key="students_table",
                column_config=STUDENT_COLUMNS,
            )  # fmt: skip

with tabs["Quality"]:
    by = st.radio("Break down by", ["lesson", "browser", "os"], horizontal=True, key="qoe_by")
    qoe = analytics.query("qoe", scope, **filters, lesson_id=lesson_id, by=by)
    if qoe.empty:
        st.info(NO_VIEWS)
    else:
        if by == "lesson":
            names_by_id = dict(zip(lessons["lesson_id"], lessons["lesson_title"], strict=True))
            qoe = qoe.assign(lesson=qoe["lesson"].map(lambda lid: names_by_id.get(lid, f"lesson {lid}")))
        st.plotly_chart(charts.qoe_chart(qoe, by), width="stretch", key="qoe_chart")
        st.dataframe(qoe[[by, *QOE_COLUMNS]], hide_index=True, width="stretch", column_config=QOE_COLUMNS)

with tabs["S3 vs Mux"]:
    providers = analytics.query("providers", scope, start=start, end=end, course_id=course_id)
    if providers.empty:
        st.info("No lessons in this selection.")
    else:
        st.plotly_chart(charts.provider_chart(providers), width="stretch", key="provider_chart")
        st.dataframe(providers, hide_index=True, width="stretch", column_config=PROVIDER_COLUMNS)
        st.caption(
            "Progress metrics (platform) exist for every lesson; Mux Data metrics only where views were recorded."
        )


def _freshness() -> str:
    try:
        return f"Warehouse snapshot {analytics.snapshot().rsplit('/', 1)[-1]}"
    except NoWarehouse:
        return ""


st.caption(f"{_freshness()} · dates are UTC days {start:%Y-%m-%d} to {end:%Y-%m-%d}.")

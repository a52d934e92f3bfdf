"""Engagement: KPIs, trend, lessons, retention, funnel, students, QoE, and S3 vs Mux during the cut-over.

Filters -> named warehouse queries (scoped to the signed-in user in SQL, cached) -> view model -> charts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from core.privacy import pseudonym_secret
from dashboard import analytics, context, platform_db
from dashboard import definitions as d
from dashboard.analytics import NoWarehouse
from dashboard.auth import require_role
from dashboard.charts import engagement as charts
from dashboard.lesson_picker import pick_course_and_lesson
from dashboard.views import engagement as view
from dashboard.widgets import metric_row, table

user = require_role("teacher", "admin", "analyst")
scope = user.scope
factory = context.session_factory()
st.title("Engagement")

# -- filters (options come from the user's scope; query parameters only preselect inside it) -----------------
left, middle, right = st.columns([2, 2, 2])
course_id, lesson_id = pick_course_and_lesson(factory, scope, (left, middle), key="eng")
today = datetime.now(UTC).date()
start, end = view.picked_range(right.date_input("Dates (UTC)", view.default_range(today), key="eng_dates"), today)

# -- KPIs -----------------------------------------------------------------------------------------------------
try:
    kpi = analytics.kpis(scope, start=start, end=end, course_id=course_id, lesson_id=lesson_id)
except NoWarehouse as exc:
    st.info(str(exc))
    st.stop()
metric_row(view.kpis(kpi))
if not view.has_views(kpi):
    st.info(view.NO_VIEWS)

names = view.tab_names(scope.sees_students)
tabs = dict(zip(names, st.tabs(names), strict=True))
filters = {"start": start, "end": end, "course_id": course_id}
lessons = view.only_lesson(analytics.query("lessons", scope, **filters), lesson_id)

with tabs["Trend"]:
    trend = analytics.query("trend", scope, **filters, lesson_id=lesson_id)
    st.plotly_chart(charts.trend_chart(trend, start, end, today=today), width="stretch", key="trend_chart")
    st.caption(d.TREND_CAPTION)

with tabs["Lessons"]:
    if lessons.empty:
        st.info("No lessons in this selection.")
    else:
        shown = lessons[list(d.LESSON_COLUMNS)]
        table(shown, key="lesson_table", column_config=d.LESSON_COLUMNS)
        csv, name = shown.to_csv(index=False).encode(), f"lessons_{start}_{end}.csv"
        st.download_button("Download CSV", csv, file_name=name, mime="text/csv", key="lessons_csv")

with tabs["Retention"]:
    titles = view.watched_titles(lessons)
    if not titles:
        st.info(view.NO_VIEWS)
    else:
        focus = st.selectbox(
            "Lesson", list(titles), format_func=titles.__getitem__, key="retention_lesson", help=d.RETENTION_PICK_HELP
        )
        curve = analytics.query("retention", scope, lesson_id=focus, start=start, end=end)
        replays = analytics.query("replays", scope, lesson_id=focus, start=start, end=end)
        found = view.retention(curve, replays, platform_db.lesson_row(factory, scope, int(focus)))
        figure = charts.retention_chart(curve, found.moments, found.marks, title=f"Audience retention: {titles[focus]}")
        st.plotly_chart(figure, width="stretch", key="retention_chart")
        st.markdown(found.summary)
        st.caption(d.RETENTION_CAPTION)

with tabs["Funnel"]:
    funnel = analytics.query("funnel", scope, course_id=course_id) if course_id is not None else None
    if funnel is None:
        st.info("Pick a course above to see how many enrolled students reached each lesson.")
    elif funnel.empty:
        st.info("This course has no lessons yet.")
    else:
        st.plotly_chart(charts.funnel_chart(funnel), width="stretch", key="funnel_chart")
        st.caption(d.FUNNEL_CAPTION)

if view.STUDENTS_TAB in tabs:
    with tabs[view.STUDENTS_TAB]:
        students = analytics.query("students", scope, **filters)
        if students.empty:
            st.info("No enrolled students in this selection.")
        else:
            names_by_key = platform_db.student_names(factory, scope, pseudonym_secret(context.settings()), course_id)
            in_scope = platform_db.lessons(factory, scope, course_id)
            flagged = view.students_frame(students, names_by_key, lessons=in_scope, now=datetime.now(UTC))
            only_stalled = st.toggle("Only stalled students", key="only_stalled", help=d.STALLED_HELP)
            st.caption(view.stalled_caption(flagged))
            shown = (flagged[flagged["stalled"]] if only_stalled else flagged)[list(d.STUDENT_COLUMNS)]
            table(shown, key="students_table", column_config=d.STUDENT_COLUMNS)

with tabs["Quality"]:
    by = st.radio("Break down by", d.QOE_BREAKDOWNS, horizontal=True, key="qoe_by")
    qoe = view.qoe_frame(analytics.query("qoe", scope, **filters, lesson_id=lesson_id, by=by), by, lessons)
    if qoe.empty:
        st.info(view.NO_VIEWS)
    else:
        st.plotly_chart(charts.qoe_chart(qoe, by), width="stretch", key="qoe_chart")
        table(qoe[[by, *d.QOE_COLUMNS]], column_config=d.QOE_COLUMNS)

with tabs[view.PROVIDERS_TAB]:
    providers = analytics.query("providers", scope, start=start, end=end, course_id=course_id)
    if providers.empty:
        st.info("No lessons in this selection.")
    else:
        st.plotly_chart(charts.provider_chart(providers), width="stretch", key="provider_chart")
        table(providers, column_config=d.PROVIDER_COLUMNS)
        st.caption(d.PROVIDERS_CAPTION)

st.caption(view.footer(analytics.snapshot_name(), start, end))

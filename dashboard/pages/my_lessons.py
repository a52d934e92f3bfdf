"""My lessons: the open alerts about the teacher's lessons, then every lesson of a course with its video
provider, status, duration and thumbnail, live."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import context, platform_db
from dashboard.auth import recheck_in_fragment, require_role
from dashboard.definitions import MY_LESSONS_COLUMNS
from dashboard.lesson_picker import pick_course
from dashboard.lesson_tables import errored_warnings, lessons_frame, pending_caption
from dashboard.views import alerts as alerts_view
from dashboard.widgets import message, table

LIVE_REFRESH_S = 3

user = require_role("teacher", "admin")
scope = user.scope
factory = context.session_factory()

st.title("My lessons")
# Alerts about this teacher's lessons (scoped in SQL); admins see every open alert.
alerts = platform_db.scoped_alerts(factory, scope)
for tone, text in alerts_view.alert_messages(alerts.alerts, datetime.now(UTC)):
    message(tone, text)
if (more := alerts_view.more_caption(alerts.alerts)) is not None:
    st.caption(more)
if alerts.unavailable:
    st.caption(f"Alerts are unavailable ({alerts.unavailable}).")
course_id = pick_course(factory, scope, key="my_lessons")
if course_id is None:
    st.stop()
st.query_params["course"] = str(course_id)


@st.fragment(run_every=LIVE_REFRESH_S)
def lesson_table() -> None:
    recheck_in_fragment()  # timed refreshes skip app.py's per-run session check
    # Re-reads the platform DB in place: webhooks move videos to processing/ready while the page is open.
    rows = platform_db.lessons(factory, scope, course_id, playback=context.playback())
    if not rows:
        st.info("This course has no lessons yet.")
        return
    table(lessons_frame(rows), column_config=MY_LESSONS_COLUMNS, key="lessons_table")
    if (pending := pending_caption(rows, LIVE_REFRESH_S)) is not None:
        st.caption(pending)
    for warning in errored_warnings(rows):
        st.warning(warning)


lesson_table()

# Links keep the session (a full page load would start a new, signed-out one).
labels = {r.id: r.label for r in platform_db.lessons(factory, scope, course_id)}
if labels:
    pick, up, preview = st.columns([3, 2, 2], vertical_alignment="bottom")
    chosen = pick.selectbox("Lesson", list(labels), format_func=lambda lid: labels[lid], key="my_lessons_lesson")
    target = {"lesson": str(chosen)}
    up.page_link("pages/upload.py", label="Upload a video for it", icon=":material/upload:", query_params=target)
    preview.page_link("pages/preview.py", label="Preview it", icon=":material/play_circle:", query_params=target)

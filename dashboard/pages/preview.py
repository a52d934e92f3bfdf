"""Lesson preview: Mux (HLS, signed when private) and legacy S3 (presigned MP4) lessons in one player."""

from __future__ import annotations

import streamlit as st
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import Conflict, LecternError
from core.privacy import viewer_user_id
from dashboard import context, platform_db
from dashboard.auth import require_role
from dashboard.components import PlayerViewer, player_html
from dashboard.lesson_picker import pick_lesson
from dashboard.views import preview as view

PLAYER_HEIGHT = 480

user = require_role("teacher", "admin")
scope = user.scope
factory = context.session_factory()
settings = context.settings()

st.title("Lesson preview")
row = pick_lesson(factory, scope, key="preview")
if row is None:
    st.stop()

lesson = platform_db.lesson_in_scope(factory, scope, row.id)
if lesson is None:  # gone between the picker and here
    st.warning("That lesson is no longer available.")
    st.stop()

try:
    info = context.playback().playback_for(lesson, viewer_id=viewer_user_id(settings, user.id))
except Conflict:
    st.info(f"**{row.label}** has no playable video yet ({row.status_text}). Upload one on the Upload page.")
    st.page_link(
        "pages/upload.py", label="Upload a video", icon=":material/upload:", query_params={"lesson": str(row.id)}
    )
    st.stop()
except LecternError as exc:
    st.error(f"Cannot play {row.label}: {exc.user_message}")
    st.stop()
except (BotoCoreError, ClientError) as exc:
    st.error(f"Cannot play {row.label}: {exc}")
    st.stop()

chapters = view.chapters_inside(row.chapters, info.duration_s or row.duration_s)
viewer = PlayerViewer(
    viewer_user_id=viewer_user_id(settings, user.id),
    lesson_title=row.title,
    course_title=row.course_title,
    chapters=chapters,
)
html = player_html(
    info, viewer, base_url=context.dashboard_base_url(), stream_base_url=str(settings.mux_stream_base_url)
)
st.iframe(html, height=PLAYER_HEIGHT)

st.caption(view.playback_caption(info))
if (line := view.chapters_line(chapters)) is not None:
    st.markdown(line)

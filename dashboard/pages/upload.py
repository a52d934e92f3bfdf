"""Upload: the browser sends a video straight to the lesson's Mux upload URL (chunked, resumable).

The URL comes from core's LessonVideoService (owner check, a still-pending upload reused), the same logic
as `POST /api/videos/mux/upload-url`; the bytes never pass through Lectern.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from core.errors import LecternError
from core.lessons import UploadTicket
from dashboard import context, platform_db
from dashboard.auth import recheck_in_fragment, require_role
from dashboard.components import DEFAULT_MAX_UPLOAD_BYTES, UploaderConfig, uploader_html
from dashboard.lesson_picker import pick_lesson
from dashboard.platform_db import LessonRow
from dashboard.views import upload as view
from dashboard.views.display import Tone
from dashboard.widgets import message

STATUS_REFRESH_S = 2
TICKETS_KEY = "upload_tickets"
OUTCOMES_KEY = "upload_outcomes"  # lesson id -> how its upload from this page ended

user = require_role("teacher", "admin")
scope = user.scope
factory = context.session_factory()
settings = context.settings()

st.title("Upload a lesson video")
st.caption("The file goes from your browser straight to Mux in resumable chunks; an interrupted upload resumes.")
picked = pick_lesson(factory, scope, key="upload")
if picked is None:
    st.stop()
lesson = picked  # not Optional, in the functions below too

if (playing := view.current_provider(lesson)) is not None:
    st.info(playing)

tickets: dict[int, UploadTicket] = st.session_state.setdefault(TICKETS_KEY, {})
ticket = view.live_ticket(tickets, lesson.id, datetime.now(UTC))
outcomes: dict[int, tuple[Tone, str]] = st.session_state.setdefault(OUTCOMES_KEY, {})
if ticket is None and lesson.id in outcomes:
    message(*outcomes[lesson.id])


def request_ticket(chosen: LessonRow, start_over: bool = False) -> None:
    service = context.lessons()
    try:
        if start_over and chosen.status == "waiting_upload":
            current = tickets.pop(chosen.id, None)
            mux = context.mux()
            if current is not None and mux is not None:
                mux.cancel_direct_upload(current.upload_id)
        tickets[chosen.id] = service.request_upload(user.id, chosen.id)
        outcomes.pop(chosen.id, None)
    except LecternError as exc:
        st.error(view.upload_error(exc, admin=user.role == "admin"))


if ticket is None and st.button("Get an upload URL", type="primary", key="get_upload_url"):
    request_ticket(lesson)
    if lesson.id in tickets:
        st.rerun()  # redraw without the button; errors (no ticket) stay on screen instead

if ticket is not None:
    st.caption(view.ticket_caption(ticket))
    config = UploaderConfig(
        endpoint=ticket.url,
        lesson_id=lesson.id,
        max_bytes=DEFAULT_MAX_UPLOAD_BYTES,
        chunk_bytes=settings.mux_upload_chunk_bytes,
    )
    st.iframe(uploader_html(config, base_url=context.dashboard_base_url()), height=280)
    if st.button("Start over with a new upload URL", key="start_over", help="Cancels the pending upload at Mux."):
        request_ticket(lesson, start_over=True)
        st.rerun()
if user.role == "admin":
    with st.expander("Details"):
        st.markdown(view.upload_details(ticket, str(settings.cors_origin)))


@st.fragment(run_every=STATUS_REFRESH_S)
def live_status(lesson_id: int) -> None:
    recheck_in_fragment()  # timed refreshes skip app.py's per-run session check
    row = platform_db.lesson_row(factory, scope, lesson_id)
    if row is None:
        return
    if (outcome := view.upload_outcome(lesson_id in tickets, row)) is not None:
        # The upload is over: the whole page reruns so the upload box gives way to the outcome.
        tickets.pop(lesson_id, None)
        outcomes[lesson_id] = outcome
        st.rerun()
    tone, text = view.status_line(row)
    message(tone, text)
    if tone == "success":
        st.page_link(
            "pages/preview.py", label="Preview it", icon=":material/play_circle:", query_params={"lesson": str(row.id)}
        )


st.subheader("Status")
live_status(lesson.id)

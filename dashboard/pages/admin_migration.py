"""Admin > Migration: pick legacy S3 lessons, start moving them to Mux, and watch it happen live."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from core.errors import LecternError
from core.migration.plan import MigrationPlan
from core.migration.service import MigrationService
from dashboard import context
from dashboard import definitions as d
from dashboard.auth import recheck_in_fragment, require_role
from dashboard.charts import migration as charts
from dashboard.lesson_picker import pick_optional
from dashboard.views import migration as view
from dashboard.widgets import metric_row, selectable_table, table

LIVE_REFRESH_S = 2
PLAN_TTL_S = 300
NONCE_KEY = "migration_plan_nonce"
NOTICE_KEY = "migration_notice"  # what the last Start, Cancel or Retry did, shown once after its rerun

user = require_role("admin")
st.title("Migration")
st.caption(
    "Moves legacy S3 lesson videos to Mux: Mux fetches each from a presigned URL, Lectern verifies the "
    "asset (duration, playable stream), then switches the lesson. S3 objects stay until `lectern migrate cleanup`."
)


def service() -> MigrationService:
    return context.lectern().migration


@st.cache_data(ttl=PLAN_TTL_S, show_spinner="Listing the S3 bucket…")
def full_plan(probe: bool, nonce: int) -> MigrationPlan:
    # `nonce` is only part of the cache key: "Rescan S3" bumps it to list the bucket again.
    return service().plan(probe=probe)


def rescan() -> None:
    st.session_state[NONCE_KEY] = st.session_state.get(NONCE_KEY, 0) + 1


# --- plan and selection (the listing is cached; the jobs table says which lessons left it since) -------

st.subheader("Plan")
options = st.columns([2, 1, 3], vertical_alignment="center")
probe = options[0].checkbox("Probe durations", help="ffmpeg reads each video's header through a presigned URL.")
options[1].button("Rescan S3", on_click=rescan)
try:
    listed = view.live_plan(full_plan(probe, st.session_state.get(NONCE_KEY, 0)), service().jobs_frame())
except LecternError as exc:
    st.error(exc.user_message)
    st.stop()
plan = listed.plan
cols = st.columns(2)
course_id = pick_optional(cols[0], "Course", view.course_choices(plan), everything="all", key="mig_course")
teacher_id = pick_optional(cols[1], "Teacher", view.teacher_choices(plan), everything="all", key="mig_teacher")
shown = plan.subset(course_id=course_id, teacher_id=teacher_id)
for note in [*plan.notes, listed.caption]:
    if note:
        st.caption(note)
if (notice := st.session_state.pop(NOTICE_KEY, None)) is not None:
    st.success(notice)

if not shown.items:
    st.caption("No legacy S3 lesson videos left here to move.")
else:
    frame = shown.frame()
    rows = selectable_table(frame, key="migration_plan_table", column_config=d.PLAN_COLUMNS)
    chosen = view.selection(shown, frame, rows)
    st.caption(chosen.summary)
    with st.form("start_migration"):
        stream = st.checkbox("Stream through Lectern (the bucket is private to Mux)")
        if st.form_submit_button(f"Start {len(chosen.items)} lessons", disabled=not chosen.items):
            result = service().start(shown, lesson_ids=chosen.lesson_ids, ingest_mode="stream" if stream else None)
            st.session_state[NOTICE_KEY] = view.queued_text(result.created, result.requeued, result.skipped)
            st.rerun()  # the plan drops the lessons just queued


# --- controls and live progress ------------------------------------------------------------------
@st.fragment(run_every=LIVE_REFRESH_S)
def live() -> None:
    recheck_in_fragment()  # timed refreshes skip app.py's per-run session check
    snap = service().snapshot()
    p = snap.progress
    can = view.controls(p)
    buttons = st.columns(3)
    if can.paused:
        if buttons[0].button("Resume", type="primary"):
            service().resume(by=user.email)
            st.rerun()
    elif buttons[0].button("Pause", disabled=not can.can_pause):
        service().pause(by=user.email, reason="paused from the dashboard")
        st.rerun()
    if buttons[1].button("Cancel all queued and running", disabled=not can.can_cancel):
        st.session_state[NOTICE_KEY] = f"Cancelled {service().cancel()} jobs."
        st.rerun()  # the whole page: cancelled lessons can be started again, so the plan shows them
    if buttons[2].button("Retry failed", disabled=not can.can_retry):
        st.session_state[NOTICE_KEY] = f"Queued {service().retry()} failed jobs again."
        st.rerun()
    if not p.total:
        st.caption("No migration jobs yet: pick lessons above and start.")
        return
    if (stuck := view.warning(p)) is not None:
        st.warning(stuck)
    metric_row(view.kpis(p, view.pace(snap.jobs, p, datetime.now(UTC))))
    st.progress(*view.progress_bar(p))
    left, right = st.columns(2)
    left.plotly_chart(charts.states_bar(charts.state_frame(p.counts)), width="stretch")
    right.plotly_chart(charts.throughput(snap.timeline), width="stretch")
    only_failed = st.toggle("Only failed jobs", key="migration_only_failed")
    table(view.jobs_shown(snap.jobs, only_failed), key="migration_jobs_table", column_config=d.JOB_COLUMNS)


st.subheader("Progress")
live()

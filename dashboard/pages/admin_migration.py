"""Admin > Migration: pick legacy S3 lessons, start moving them to Mux, and watch it happen live."""

from __future__ import annotations

import streamlit as st

from core.errors import LecternError
from core.migration.plan import MigrationPlan
from core.migration.service import MigrationService
from dashboard import context
from dashboard.auth import recheck_in_fragment, require_role
from dashboard.charts import migration as charts
from dashboard.definitions import PLAN_COLUMNS
from dashboard.lesson_picker import pick_optional
from dashboard.views import migration as view
from dashboard.widgets import metric_row, selectable_table

LIVE_REFRESH_S = 2
PLAN_TTL_S = 300
NONCE_KEY = "migration_plan_nonce"

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


# --- plan and selection --------------------------------------------------------------------------

st.subheader("Plan")
cols = st.columns([1, 1, 1, 1])
probe = cols[2].checkbox("Probe durations", help="ffmpeg reads each video's header through a presigned URL.")
if cols[3].button("Rescan S3"):
    rescan()
try:
    plan = full_plan(probe, st.session_state.get(NONCE_KEY, 0))
except LecternError as exc:
    st.error(exc.user_message)
    st.stop()
course_id = pick_optional(cols[0], "Course", view.course_choices(plan), everything="all", key="mig_course")
teacher_id = pick_optional(cols[1], "Teacher", view.teacher_choices(plan), everything="all", key="mig_teacher")
shown = plan.subset(course_id=course_id, teacher_id=teacher_id)
for note in plan.notes:
    st.caption(f"Note: {note}")

if not shown.items:
    st.caption("No legacy S3 lesson videos here: everything is on Mux already (or nothing was uploaded).")
else:
    frame = shown.frame()
    rows = selectable_table(frame, key="migration_plan_table", column_config=PLAN_COLUMNS)
    chosen = view.selection(shown, frame, rows)
    st.caption(chosen.summary)
    with st.form("start_migration"):
        stream = st.checkbox("Stream through Lectern (the bucket is private to Mux)")
        if st.form_submit_button(f"Start {len(chosen.items)} lessons", disabled=not chosen.items):
            result = service().start(shown, lesson_ids=chosen.lesson_ids, ingest_mode="stream" if stream else None)
            rescan()
            st.success(view.queued_text(result.created, result.requeued, result.skipped))

# --- controls ------------------------------------------------------------------------------------

st.subheader("Controls")
progress = service().progress()
controls = st.columns(3)
if progress.paused:
    if controls[0].button("Resume", type="primary"):
        service().resume(by=user.email)
        st.rerun()
elif controls[0].button("Pause"):
    service().pause(by=user.email, reason="paused from the dashboard")
    st.rerun()
if controls[1].button("Cancel all queued and running", disabled=not progress.remaining):
    st.toast(f"Cancelled {service().cancel()} jobs")
if controls[2].button("Retry failed", disabled=not progress.counts.get("failed")):
    st.toast(f"Queued {service().retry()} failed jobs again")


# --- live progress -------------------------------------------------------------------------------
@st.fragment(run_every=LIVE_REFRESH_S)
def live() -> None:
    recheck_in_fragment()  # timed refreshes skip app.py's per-run session check
    snap = service().snapshot()
    p = snap.progress
    if not p.total:
        st.caption("No migration jobs yet: pick lessons above and start.")
        return
    if (stuck := view.warning(p)) is not None:
        st.warning(stuck)
    metric_row(view.kpis(p))
    st.progress(*view.progress_bar(p))
    left, right = st.columns(2)
    left.plotly_chart(charts.states_bar(charts.state_frame(p.counts)), width="stretch")
    right.plotly_chart(charts.throughput(snap.timeline), width="stretch")
    only_failed = st.toggle("Only failed jobs", key="migration_only_failed")
    st.dataframe(view.jobs_shown(snap.jobs, only_failed), hide_index=True, width="stretch", key="migration_jobs_table")


st.subheader("Progress")
live()

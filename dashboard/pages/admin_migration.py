"""Admin > Migration: pick legacy S3 lessons, start moving them to Mux, and watch it happen live."""

from __future__ import annotations

import streamlit as st

from core.costs.money import usd
from core.errors import LecternError
from core.migration.plan import MigrationPlan
from core.migration.service import MigrationService
from dashboard import context
from dashboard.auth import recheck_in_fragment, require_role
from dashboard.charts import migration as charts

LIVE_REFRESH_S = 2
PLAN_TTL_S = 300

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


# --- plan and selection --------------------------------------------------------------------------

st.subheader("Plan")
cols = st.columns([1, 1, 1, 1])
probe = cols[2].checkbox("Probe durations", help="ffmpeg reads each video's header through a presigned URL.")
if cols[3].button("Rescan S3"):
    st.session_state["migration_plan_nonce"] = st.session_state.get("migration_plan_nonce", 0) + 1
try:
    plan = full_plan(probe, st.session_state.get("migration_plan_nonce", 0))
except LecternError as exc:
    st.error(exc.message)
    st.stop()
courses = {i.course_id: i.course_title for i in plan.items}
teachers = {i.teacher_id: i.teacher_name for i in plan.items}
course_id = cols[0].selectbox("Course", [None, *courses], format_func=lambda c: "all" if c is None else courses[c])
teacher_id = cols[1].selectbox("Teacher", [None, *teachers], format_func=lambda t: "all" if t is None else teachers[t])
shown = plan.subset(course_id=course_id, teacher_id=teacher_id)
for note in plan.notes:
    st.caption(f"Note: {note}")

if not shown.items:
    st.caption("No legacy S3 lesson videos here: everything is on Mux already (or nothing was uploaded).")
else:
    frame = shown.frame()
    picked = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="migration_plan_table",
        column_config={
            "size_bytes": st.column_config.NumberColumn("size", format="compact"),
            "encoding_micros": None,
            "storage_month_micros": None,
            "delivery_month_micros": None,
        },
    )
    rows = picked.selection.rows if picked is not None else []
    chosen = [int(frame.iloc[r]["lesson_id"]) for r in rows] or [i.lesson_id for i in shown.selectable]
    movable = shown.select(chosen)
    cost = shown.cost_of([i.lesson_id for i in movable])
    summary = f"{len(movable)} lessons {'selected' if rows else 'movable in this view'}"
    if cost is not None:
        summary += f": {usd(cost['encoding_micros'])} encoding once, then {usd(cost['monthly_micros'])}/month"
    st.caption(summary)
    with st.form("start_migration"):
        stream = st.checkbox("Stream through Lectern (the bucket is private to Mux)")
        if st.form_submit_button(f"Start {len(movable)} lessons", disabled=not movable):
            result = service().start(
                shown, lesson_ids=[i.lesson_id for i in movable], ingest_mode="stream" if stream else None
            )
            st.session_state["migration_plan_nonce"] = st.session_state.get("migration_plan_nonce", 0) + 1
            st.success(f"Queued {result.created} new and {result.requeued} again ({result.skipped} already running).")

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
    if p.paused:
        st.warning(
            f"Paused{f': {p.pause_reason}' if p.pause_reason else ''}. Workers hand jobs back at their next step."
        )
    elif p.remaining and not p.live_workers:
        st.warning("Jobs are waiting but no worker is running: start one with `lectern migrate worker`.")
    kpi = st.columns(5)
    kpi[0].metric("Done", f"{p.counts['done']} / {p.total - p.counts['cancelled']}")
    kpi[1].metric("Failed", p.counts["failed"])
    kpi[2].metric("Rate", f"{p.rate_per_min:.1f}/min" if p.rate_per_min else "—")
    kpi[3].metric("ETA", f"{p.eta_s / 60:.0f} min" if p.eta_s else "—")
    kpi[4].metric("Workers", p.live_workers)
    total = max(1, p.total - p.counts["cancelled"])
    st.progress(min(1.0, p.finished / total), text=f"{p.finished - p.counts['cancelled']} of {total} finished")
    left, right = st.columns(2)
    left.plotly_chart(charts.states_bar(charts.state_frame(p.counts)), width="stretch")
    right.plotly_chart(charts.throughput(snap.timeline), width="stretch")
    only_failed = st.toggle("Only failed jobs", key="migration_only_failed")
    jobs = snap.jobs[snap.jobs["state"] == "failed"] if only_failed else snap.jobs
    st.dataframe(jobs, hide_index=True, width="stretch", key="migration_jobs_table")


st.subheader("Progress")
live()

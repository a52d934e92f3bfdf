"""Admin > Migration actions: jobs by state, the done rate, the failures with their error, and the two actions
that undo or finish a migration: roll lessons back to S3, and clean up (delete) migrated lessons' S3 objects.

Both actions call the MigrationService methods `lectern migrate rollback` and `lectern migrate cleanup` call,
ask the same confirmation first, and are recorded in the operator audit log under the admin's email.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import context
from dashboard import operations_db as ops
from dashboard.auth import require_role
from dashboard.charts import migration as charts
from dashboard.views import operations as view
from dashboard.widgets import metric_row, table

PENDING = "migration_ops_pending"
user = require_role("admin")
factory, service = context.session_factory(), context.lectern().migration
now = datetime.now(UTC)
st.title("Migration actions")
left, right = st.columns([1, 2])
choice = left.selectbox("Time range", view.RANGE_CHOICES, index=1, key="mops_range")
days = right.date_input("Days (UTC)", view.default_days(now.date()), key="mops_days", disabled=choice != view.CUSTOM)
win = view.window(choice, days, now)
st.caption(view.window_caption(win))

# --- counts, rate, failures ----------------------------------------------------------------------------
progress = service.progress()
metric_row(view.migration_kpis(progress.counts, ops.migration_finished(factory, win.start, win.end), win))
st.plotly_chart(charts.states_bar(charts.state_frame(progress.counts)), width="stretch", key="mops_states")
jobs = service.jobs_frame()
state = st.selectbox("Jobs in state", view.JOB_STATE_CHOICES, key="mops_state")
st.caption(view.jobs_caption(state))
table(view.jobs_in_state(jobs, state), key="mops_jobs")

# --- actions -------------------------------------------------------------------------------------------
st.subheader("Roll back or clean up")
st.caption(view.ACTIONS_CAPTION)
choices = view.rollback_choices(jobs)
picked = st.multiselect("Lessons", list(choices), format_func=choices.__getitem__, key=view.PICKED_LESSONS)
keep_asset = st.checkbox("Keep the Mux asset on rollback (a re-run reuses it)", key="mops_keep_asset")
roll, clean = st.columns(2)
if roll.button(f"Roll back {len(picked)} lessons", disabled=not picked, key="mops_rollback"):
    st.session_state[PENDING] = view.rollback_request(picked, delete_asset=not keep_asset)
if clean.button(view.cleanup_label(picked, len(choices)), disabled=not choices, key="mops_cleanup"):
    # The CLI's order: a dry run says what would go (and what is refused, and why), then the question.
    st.session_state[PENDING] = view.cleanup_request(picked, service.cleanup(lesson_ids=picked or None, dry_run=True))

pending = st.session_state.get(PENDING)
if isinstance(pending, view.Pending):
    if not pending.report.empty:
        table(pending.report, key="mops_preview")
    st.warning(pending.question)
    yes, no = st.columns(2)
    if yes.button(pending.confirm_label, type="primary", disabled=not pending.lesson_ids, key="mops_yes"):
        if pending.action == view.ROLLBACK:
            report = service.rollback(pending.lesson_ids, delete_asset=pending.delete_asset, by=user.email)
        else:
            report = service.cleanup(lesson_ids=pending.lesson_ids, by=user.email)
        view.finish(st.session_state, PENDING, report)
        st.rerun()
    if no.button("No, leave them", key="mops_no"):
        view.finish(st.session_state, PENDING, None)
        st.rerun()
if (done := st.session_state.get(view.LAST_REPORT)) is not None:
    st.caption("What the last action did:")
    table(done, key="mops_report")

st.subheader("Recent operator actions")
actions = ops.operator_actions(factory, win.start, win.end, prefix="migration.")
table(actions, key="mops_actions")

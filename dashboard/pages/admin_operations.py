"""Admin > Operations: open alerts, webhooks, uploads, orphaned assets and the sync, over a time window.

Every number has its rows below it: picking a row in a summary table narrows the detail table under it.
Admins acknowledge or silence a picked alert and delete a picked orphaned asset (after a question), each
audited under their email. Playback health and the migration's counts and actions have pages of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import streamlit as st

from dashboard import context
from dashboard import operations_db as ops
from dashboard import widgets as ui
from dashboard.analytics import NoWarehouse
from dashboard.auth import require_role
from dashboard.charts import operations as charts
from dashboard.views import operations as view
from dashboard.views import operator_actions as actions

PAGE, ALERT, ORPHAN = "admin_operations", "ops_alert_action", "ops_orphan_action"
user = require_role("admin")
factory = context.session_factory()
now = datetime.now(UTC)
st.title("Operations")
win = ui.window_picker("ops", now)

# --- alerts ------------------------------------------------------------------------------------------
st.subheader("Alerts")
if changed := ui.run_request(ALERT, partial(ops.alert_action, factory, actor=user.email), page=PAGE, user_id=user.id):
    st.success(actions.alert_done(changed))
alerts, failures = view.alerts_frame(ops.open_alerts(factory), now), ops.notification_failures(factory)
ui.metric_row(view.alert_kpis(alerts, len(failures)))
st.caption(view.alerts_caption(alerts))
rows = ui.selectable_table(alerts, key="ops_alerts", column_config=view.ALERT_COLUMNS, single=True)
ui.alert_actions(view.picked_row(alerts, rows), state_key=ALERT, prefix="ops")
if failures:
    st.caption("Alert notifications that failed (gave up, or wait to retry after an error):")
    ui.table(view.notifications_frame(failures), key="ops_notify_failures", column_config=view.NOTIFICATION_COLUMNS)

# --- webhooks ----------------------------------------------------------------------------------------
st.subheader("Webhooks")
types, last = ops.webhook_types(factory, win.start, win.end), ops.last_received(factory)
rejections, lag = ops.webhook_rejections(factory, win.start, win.end), ops.webhook_lag(factory, win.start, win.end)
ui.metric_row(view.webhook_kpis(types, lag, last, rejections, now))
hourly = ops.webhook_hourly(factory, win.start, win.end)
st.plotly_chart(charts.webhooks_per_hour(hourly), width="stretch", key="ops_webhook_chart")
by_type = view.webhooks_by_type(types, last)
picked = ui.selectable_table(by_type, key="ops_webhook_types", column_config=view.WEBHOOK_TYPE_COLUMNS, single=True)
event_type = view.picked_value(by_type, picked, "type")
refused = view.rejections_by_reason(rejections)
if not refused.empty:
    st.caption("Deliveries answered but not stored, by reason (pick one for its hours):")
    rows = ui.selectable_table(refused, key="ops_refused", column_config=view.REFUSED_COLUMNS, single=True)
    reason = view.picked_value(refused, rows, "reason")
    if reason is not None:
        ui.table(view.rejections_of(rejections, reason), key="ops_refused_hours")
outcome = st.selectbox("Events with outcome", view.WEBHOOK_OUTCOME_CHOICES, key="ops_webhook_outcome")
st.caption(view.filter_caption("Events", event_type, outcome))
events, _ = ops.events(factory, view.event_filter(win, type=event_type, outcome=view.chosen(outcome))[0])
ui.table(events, key="ops_webhook_events", column_config=view.EVENT_COLUMNS)

# --- uploads -----------------------------------------------------------------------------------------
st.subheader("Uploads")
stats = ops.upload_stats(factory, win.start, win.end)
ui.metric_row(view.upload_kpis(stats))
by_day, by_user = view.uploads_by_day(stats), view.uploads_by_user(stats)
if not by_day.empty:
    st.plotly_chart(charts.uploads_per_day(by_day), width="stretch", key="ops_uploads_chart")
day_col, user_col = st.columns(2)
with day_col:
    picked_day = ui.selectable_table(by_day, key="ops_upload_days", column_config=view.UPLOAD_DAY_COLUMNS, single=True)
    day = view.picked_value(by_day, picked_day, "day")
with user_col:
    rows = ui.selectable_table(by_user, key="ops_upload_users", column_config=view.UPLOAD_COLUMNS, single=True)
status = st.selectbox("Uploads with status", view.UPLOAD_STATUS_CHOICES, key="ops_upload_status")
st.caption(view.upload_filter_caption(status, day, view.picked_value(by_user, rows, "uploaded_by")))
start, end = view.upload_window(win, day)
uploads = ops.upload_rows(
    factory, start, end, statuses=view.upload_statuses(status), users=view.picked_users(by_user, rows)
)
ui.table(uploads, key="ops_uploads", column_config=view.UPLOAD_ROW_COLUMNS)

# --- orphaned assets ---------------------------------------------------------------------------------
st.subheader("Orphaned assets")
if deleted := ui.run_request(ORPHAN, partial(ops.asset_action, actor=user.email), page=PAGE, user_id=user.id):
    ui.message(*actions.delete_done(deleted))
try:
    plan = ops.orphans()
except NoWarehouse as exc:
    st.info(str(exc))
else:
    orphans = view.orphans_frame(plan)
    ui.metric_row(view.orphan_kpis(plan))
    why = st.selectbox("Why", view.orphan_reasons(orphans), key="ops_orphan_why")
    shown = view.orphans_shown(orphans, why)
    rows = ui.selectable_table(shown, key="ops_orphans", column_config=view.ORPHAN_TABLE_COLUMNS, single=True)
    orphan = view.picked_row(shown, rows)
    request = actions.delete_request(orphan, reset=("ops_orphans",))
    ui.action_button(actions.delete_label(orphan), request, state_key=ORPHAN, key="ops_orphan_delete")
    ui.confirmation(ORPHAN)

# --- sync --------------------------------------------------------------------------------------------
st.subheader("Sync")
try:
    sync = view.sync_rows(ops.from_warehouse("sync_status"), now)
except NoWarehouse as exc:
    st.info(str(exc))
else:
    ui.metric_row(view.sync_kpis(sync))
    job = view.picked_row(sync, ui.selectable_table(sync, key="ops_sync", column_config=view.SYNC_COLUMNS, single=True))
    if job is not None and job["error"]:
        st.error(f"{job['job']}: {job['error']}")

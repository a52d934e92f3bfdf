"""Admin > Operations: open alerts, webhooks, uploads, orphaned assets and the sync, over a time window.

Every number has its rows below it: picking a row in a summary table narrows the detail table under it.
Playback health and the migration's counts and actions have pages of their own (Admin > Playback health,
Admin > Migration actions).
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import context
from dashboard import operations_db as ops
from dashboard.analytics import NoWarehouse
from dashboard.auth import require_role
from dashboard.charts import operations as charts
from dashboard.views import operations as view
from dashboard.widgets import metric_row, selectable_table

require_role("admin")
factory = context.session_factory()
now = datetime.now(UTC)
st.title("Operations")
left, right = st.columns([1, 2])
choice = left.selectbox("Time range", view.RANGE_CHOICES, key="ops_range")
days = right.date_input("Days (UTC)", view.default_days(now.date()), key="ops_days", disabled=choice != view.CUSTOM)
win = view.window(choice, days, now)
st.caption(view.window_caption(win))

# --- alerts ------------------------------------------------------------------------------------------
st.subheader("Alerts")
alerts = ops.open_alerts(factory)
metric_row(view.alert_kpis(alerts))
if alerts.empty:
    st.caption("No open alerts.")
else:
    st.dataframe(alerts, hide_index=True, width="stretch", key="ops_alerts", column_config=view.ALERT_COLUMNS)

# --- webhooks ----------------------------------------------------------------------------------------
st.subheader("Webhooks")
types = ops.webhook_types(factory, win.start, win.end)
last = ops.last_received(factory)
rejections = ops.webhook_rejections(factory, win.start, win.end)
lag = ops.webhook_lag(factory, win.start, win.end)
metric_row(view.webhook_kpis(types, lag, last, rejections, now))
hourly = ops.webhook_hourly(factory, win.start, win.end)
st.plotly_chart(charts.webhooks_per_hour(hourly), width="stretch", key="ops_webhook_chart")
by_type = view.webhooks_by_type(types, last)
picked = selectable_table(by_type, key="ops_webhook_types", column_config=view.WEBHOOK_TYPE_COLUMNS, single=True)
event_type = view.picked_value(by_type, picked, "type")
refused = view.rejections_by_reason(rejections)
if not refused.empty:
    st.caption("Deliveries answered but not stored, by reason (pick one for its hours):")
    rows = selectable_table(refused, key="ops_refused", column_config=view.REFUSED_COLUMNS, single=True)
    reason = view.picked_value(refused, rows, "reason")
    if reason is not None:
        st.dataframe(view.rejections_of(rejections, reason), hide_index=True, width="stretch", key="ops_refused_hours")
outcome = st.selectbox("Events with outcome", view.WEBHOOK_OUTCOME_CHOICES, key="ops_webhook_outcome")
st.caption(view.filter_caption("Events", event_type, outcome))
events = ops.webhook_events(factory, win.start, win.end, type=event_type, outcome=view.chosen(outcome))
st.dataframe(events, hide_index=True, width="stretch", key="ops_webhook_events", column_config=view.EVENT_COLUMNS)

# --- uploads -----------------------------------------------------------------------------------------
st.subheader("Uploads")
grouped = ops.uploads_grouped(factory, win.start, win.end)
metric_row(view.upload_kpis(grouped))
by_day, by_teacher = view.uploads_by_day(grouped), view.uploads_by_teacher(grouped)
if not by_day.empty:
    st.plotly_chart(charts.uploads_per_day(by_day), width="stretch", key="ops_uploads_chart")
day_col, teacher_col = st.columns(2)
with day_col:
    picked_day = selectable_table(by_day, key="ops_upload_days", column_config=view.UPLOAD_DAY_COLUMNS, single=True)
    day = view.picked_value(by_day, picked_day, "day")
with teacher_col:
    rows = selectable_table(by_teacher, key="ops_upload_teachers", column_config=view.UPLOAD_COLUMNS, single=True)
    teacher = view.picked_value(by_teacher, rows, "teacher_id")
status = st.selectbox("Uploads with status", view.UPLOAD_STATUS_CHOICES, key="ops_upload_status")
st.caption(view.upload_filter_caption(status, day, view.picked_value(by_teacher, rows, "teacher_name")))
uploads = ops.upload_rows(
    factory, win.start, win.end, statuses=view.upload_statuses(status), teacher_id=view.as_id(teacher), day=day
)
st.dataframe(uploads, hide_index=True, width="stretch", key="ops_uploads", column_config=view.UPLOAD_ROW_COLUMNS)

# --- orphaned assets ---------------------------------------------------------------------------------
st.subheader("Orphaned assets")
orphans = view.orphans_frame(None)  # the orphan finder's frame (ORPHAN_COLUMNS) goes here
metric_row(view.orphan_kpis(orphans))
why = st.selectbox("Why", [view.ANY, *sorted(orphans["why"].dropna().unique())], key="ops_orphan_why")
st.dataframe(view.orphans_shown(orphans, why), hide_index=True, width="stretch", key="ops_orphans")

# --- sync --------------------------------------------------------------------------------------------
st.subheader("Sync")
try:
    sync = view.sync_rows(ops.from_warehouse("sync_status"), now)
except NoWarehouse as exc:
    st.info(str(exc))
else:
    metric_row(view.sync_kpis(sync))
    job = view.picked_row(sync, selectable_table(sync, key="ops_sync", column_config=view.SYNC_COLUMNS, single=True))
    if job is not None and job["error"]:
        st.error(f"{job['job']}: {job['error']}")

"""Admin > Playback health: failure and startup figures of Mux Data views over a time window, broken down by
lesson, browser, OS or country, with the top error messages and the failed views behind every number.

Views reach the warehouse with the sync (`lectern sync`), after each view ends: the last hour fills in late.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import operations_db as ops
from dashboard.analytics import NoWarehouse
from dashboard.auth import require_role
from dashboard.views import operations as view
from dashboard.widgets import metric_row, selectable_table, table
from warehouse.operations import PLAYBACK_BY

require_role("admin")
now = datetime.now(UTC)
st.title("Playback health")
left, right = st.columns([1, 2])
choice = left.selectbox("Time range", view.RANGE_CHOICES, index=1, key="play_range")
days = right.date_input("Days (UTC)", view.default_days(now.date()), key="play_days", disabled=choice != view.CUSTOM)
win = view.window(choice, days, now)
st.caption(view.window_caption(win))

try:
    totals = ops.from_warehouse("playback_totals", start=win.start, end=win.end)
except NoWarehouse as exc:
    st.info(str(exc))
    st.stop()
metric_row(view.playback_kpis(totals))
if view.no_views(totals):
    st.info(f"No Mux Data views started in the {win.label}. Widen the range, or run `lectern sync --once`.")
    st.stop()

by = st.selectbox("Break down by", PLAYBACK_BY, key="play_by")
breakdown = ops.from_warehouse("playback_breakdown", start=win.start, end=win.end, by=by)
rows = selectable_table(breakdown, key=f"play_breakdown_{by}", column_config=view.QOE_COLUMNS, single=True)
picked = view.picked_row(breakdown, rows)
narrow = view.playback_pick(by, picked)

st.subheader("Top error messages")
st.caption(view.playback_caption("Errors of failed views", by, picked))
errors = ops.from_warehouse("playback_errors", start=win.start, end=win.end, **narrow)
error_rows = selectable_table(errors, key=f"play_errors_{by}", column_config=view.ERROR_COLUMNS, single=True)
message = view.picked_message(errors, error_rows)

st.subheader("Failed views")
failure = st.selectbox("Failure", list(view.FAILURE_CHOICES), key="play_failure")
st.caption(view.failed_views_caption(by, picked, failure, message))
failed = ops.from_warehouse(
    "failed_views", start=win.start, end=win.end, flag=view.FAILURE_CHOICES[failure], **narrow, **message
)
table(failed, key="play_failed_views")

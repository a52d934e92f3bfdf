"""Admin > Webhook log: every stored Mux webhook event, searchable by type, outcome, lesson, asset or upload
id and time, with the payload of the one picked (secrets hidden). Read-only: nothing here changes an event.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import context
from dashboard import operations_db as ops
from dashboard.auth import require_role
from dashboard.platform_db import parse_id
from dashboard.views import operations as view
from dashboard.widgets import selectable_table

require_role("admin")
factory = context.session_factory()
now = datetime.now(UTC)
st.title("Webhook log")
left, right = st.columns([1, 2])
choice = left.selectbox("Time range", view.RANGE_CHOICES, index=1, key="log_range")
days = right.date_input("Days (UTC)", view.default_days(now.date()), key="log_days", disabled=choice != view.CUSTOM)
win = view.window(choice, days, now)
st.caption(view.window_caption(win))

cols = st.columns(4)
event_type = cols[0].selectbox("Type", view.event_choices(ops.last_received(factory)), key="log_type")
outcome = cols[1].selectbox("Outcome", [view.ANY, *view.WEBHOOK_OUTCOMES], key="log_outcome")
lesson_text = cols[2].text_input("Lesson id", key="log_lesson")
object_id = cols[3].text_input("Asset or upload id", key="log_object").strip() or None
lesson_id = parse_id(lesson_text) if lesson_text.strip() else None
if lesson_text.strip() and lesson_id is None:
    st.warning("A lesson id is a positive whole number: the lesson filter is off.")

events = ops.webhook_events(
    factory, win.start, win.end, type=view.chosen(event_type), outcome=view.chosen(outcome), lesson_id=lesson_id,
    object_id=object_id,
)  # fmt: skip
if len(events) >= ops.MAX_ROWS:
    st.caption(f"The newest {ops.MAX_ROWS} events; narrow the filters to see older ones.")
rows = selectable_table(events, key="log_events", column_config=view.EVENT_COLUMNS, single=True)
picked = view.picked_row(events, rows)
if picked is None:
    st.caption("Pick an event to see its payload.")
else:
    st.subheader(f"{picked['type']} · {picked['id']}")
    if picked["error"]:
        st.error(picked["error"])
    st.json(view.safe_payload(ops.webhook_payload(factory, str(picked["id"]))), expanded=True)

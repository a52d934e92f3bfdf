"""Admin > Webhook log: every stored Mux webhook event, searchable by type, outcome, lesson, asset or upload id
and time, with the payload of the one picked (secrets redacted), and the repairs: replay the picked event,
replay every matching one (after a question naming how many), or repair the picked event's lesson from Mux.

The search, the payload and the actions are core's (`core.webhook_log`, `WebhookOperations`), the ones
`lectern webhooks` and the admin API use; each replay and repair is audited under the admin's email.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import streamlit as st

from dashboard import context
from dashboard import operations_db as ops
from dashboard import widgets as ui
from dashboard.auth import require_role
from dashboard.platform_db import parse_id
from dashboard.views import operations as view
from dashboard.views import operator_actions as actions

PAGE, ACTION, PICKED = "admin_webhook_log", "log_action", "log_events"
user = require_role("admin")
factory = context.session_factory()
now = datetime.now(UTC)
st.title("Webhook log")
win = ui.window_picker("log", now, index=1)

cols = st.columns(5)
event_type = cols[0].selectbox("Type", view.event_choices(ops.last_received(factory)), key="log_type")
outcome = cols[1].selectbox("Outcome", [view.ANY, *view.WEBHOOK_OUTCOMES], key="log_outcome")
lesson_text = cols[2].text_input("Lesson id", key="log_lesson")
asset_id = cols[3].text_input("Asset id", key="log_asset").strip()
upload_id = cols[4].text_input("Upload id", key="log_upload").strip()
lesson_id = parse_id(lesson_text) if lesson_text.strip() else None
if lesson_text.strip() and lesson_id is None:
    st.warning("A lesson id is a positive whole number: the lesson filter is off.")
where, problem = view.event_filter(
    win, type=view.chosen(event_type), outcome=view.chosen(outcome), lesson_id=lesson_id, asset_id=asset_id,
    upload_id=upload_id,
)  # fmt: skip
if problem:
    st.warning(problem)

done = ui.run_request(ACTION, partial(ops.webhook_action, actor=user.email), page=PAGE, user_id=user.id)
if done is not None:
    ui.message(*actions.webhook_done(done))
    if (replayed := actions.batch_frame(done)) is not None:
        ui.table(replayed, key="log_replayed")

events, more = ops.events(factory, where)
if caption := view.events_caption(len(events), more):
    st.caption(caption)
rows = ui.selectable_table(events, key=PICKED, column_config=view.EVENT_COLUMNS, single=True)
picked = view.picked_row(events, rows)
count = ops.replay_count(factory, where)
replay_all = actions.replay_matching_request(where, count, reset=(PICKED,))
ui.action_button(actions.replay_matching_label(count), replay_all, state_key=ACTION, key="log_replay_matching")
ui.confirmation(ACTION)
if picked is None:
    st.caption("Pick an event to see its payload, replay it or repair its lesson.")
else:
    st.subheader(f"{picked['type']} · {picked['id']}")
    if picked["error"]:
        st.error(picked["error"])
    one, repair = st.columns(2)
    with one:
        request = actions.replay_request(picked, reset=(PICKED,))
        ui.action_button("Replay this event", request, state_key=ACTION, key="log_replay")
    with repair:
        request = actions.repair_request(picked)
        ui.action_button(actions.repair_label(picked), request, state_key=ACTION, key="log_repair")
    detail = ops.event_detail(factory, str(picked["id"]))
    if detail.redacted:
        st.caption(f"Hidden (credentials): {', '.join(detail.redacted)}")
    st.json(detail.payload, expanded=True)

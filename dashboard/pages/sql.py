"""SQL: one read-only query at a time on the warehouse snapshot, with the tables beside the editor.

Analysts and admins query the published snapshot; a teacher queries a copy holding only their own courses'
rows (warehouse/sql/scoped.py). Saved queries are shared; history lives in this session only.
"""

from __future__ import annotations

import streamlit as st

from core.errors import LecternError
from dashboard import context
from dashboard.auth import require_role
from dashboard.charts.sql import CHART_KINDS, result_chart
from dashboard.views import sql as view
from dashboard.widgets import table

user = require_role("analyst", "admin", "teacher")
workbench = view.workbench_for(context.settings(), user.scope)
saved_queries = context.lectern().saved_queries
st.title("SQL")
st.caption(view.intro(workbench))
history: list[view.HistoryEntry] = st.session_state.setdefault("sql_history", [])
choices = view.choices(saved_queries.list())


def load_choice() -> None:
    picked = st.session_state.get("sql_pick")
    if picked in choices:
        st.session_state["sql_text"] = choices[picked].sql


editor, tables = st.columns([3, 1])
with tables:
    st.subheader("Tables")
    for title, text in view.catalogue(workbench):
        with st.expander(title):
            st.markdown(text)

with editor:
    picked = st.selectbox(
        "Saved and example queries", list(choices), index=None, key="sql_pick", on_change=load_choice,
        placeholder="Pick one to load it into the editor",
    )  # fmt: skip
    if (pick := choices.get(picked or "")) is not None:
        st.caption(pick.description)
    with st.form("sql_form"):
        text = st.text_area("SQL", key="sql_text", height=220, placeholder=view.PLACEHOLDER)
        run = st.form_submit_button("Run", type="primary", icon=":material/play_arrow:")
    if run:
        try:
            st.session_state["sql_result"] = workbench.run(text)
            history = view.remember(history, text, st.session_state["sql_result"], None)
        except LecternError as exc:
            st.session_state["sql_result"] = None
            history = view.remember(history, text, None, exc.user_message)
            st.error(exc.user_message, icon=":material/block:")
        st.session_state["sql_history"] = history

    result = st.session_state.get("sql_result")
    if result is not None:
        st.caption(view.summary(result))
        if (notice := view.truncation_notice(result, workbench.limits, admin=user.role == "admin")) is not None:
            st.warning(notice)
        st.dataframe(result.frame, hide_index=True, width="stretch", placeholder="NULL")  # the query's own columns
        if len(result.frame.columns):
            kind_box, x_box, y_box, colour_box = st.columns(4)
            kind = kind_box.selectbox("Chart", ["none", *CHART_KINDS], key="sql_chart")
            columns = view.chart_columns(result.frame)
            if kind != "none" and columns.y:
                x = x_box.selectbox("x", columns.x, key="sql_x")
                y = y_box.selectbox("y", columns.y, key="sql_y")
                colour = colour_box.selectbox("colour", [None, *columns.color], key="sql_colour")
                st.plotly_chart(result_chart(result.frame, kind, x, y, colour), width="stretch")
            elif kind != "none":
                st.info("A chart needs a numeric column for y.")
        csv_box, parquet_box = st.columns(2)
        for box, fmt in ((csv_box, "csv"), (parquet_box, "parquet")):
            file_name, mime = view.download_file(fmt)
            box.download_button(
                f"Download {fmt.upper()}", data=view.downloader(workbench, result.statement, fmt),
                file_name=file_name, mime=mime, on_click="ignore", icon=":material/download:",
            )  # fmt: skip
        st.caption(view.download_note(workbench.limits, admin=user.role == "admin"))

    if user.role in view.EDITORS:
        with st.expander("Save this query (shared with every analyst)"), st.form("sql_save", clear_on_submit=True):
            name = st.text_input("Name")
            description = st.text_area("Description", height=80)
            if st.form_submit_button("Save"):
                try:
                    saved = saved_queries.save(
                        name=name, description=description, sql=st.session_state.get("sql_text", ""),
                        author_id=user.id, may_replace_others=user.role == "admin",
                    )  # fmt: skip
                    st.success(f"Saved “{saved.name}”.")
                except LecternError as exc:
                    st.error(exc.user_message)
        own = view.deletable_id(pick, user.id, user.role)
        if own is not None and st.button("Delete the picked saved query", icon=":material/delete:"):
            saved_queries.delete(query_id=own, user_id=user.id, may_delete_others=user.role == "admin")
            st.rerun()

    with st.expander(f"History (this session, last {view.HISTORY_SIZE})"):
        table(view.history_frame(history))

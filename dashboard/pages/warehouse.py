"""Warehouse: the documented tables and views analysts can query, with row counts (read-only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analytics
from dashboard.analytics import NoWarehouse
from dashboard.auth import require_role
from dashboard.views.display import data_as_of
from dashboard.widgets import table
from warehouse import dictionary

require_role("analyst", "admin")
st.title("Warehouse")
st.caption(
    "Read-only. Every sync publishes an immutable DuckDB snapshot; analysts open it read-only "
    "(`duckdb -readonly <snapshot>`), query it on the SQL page or with `lectern warehouse sql`, or export it "
    "with `lectern warehouse export`."
)

try:
    snapshot = analytics.snapshot()
    counts: pd.DataFrame = analytics.cached_table_counts(snapshot)
except NoWarehouse as exc:
    st.info(str(exc))
    st.stop()

st.caption(data_as_of(analytics.snapshot_name()))
with st.expander("Details"):
    st.markdown(f"The published snapshot, for `duckdb -readonly`: `{snapshot}`")
table(
    counts,
    column_config={
        "name": st.column_config.TextColumn("table or view"),
        "kind": st.column_config.TextColumn("kind", help="Tables hold loaded rows; views are documented queries."),
        "rows": st.column_config.NumberColumn("rows", help="Row count in this snapshot.", format="%d"),
        "columns": st.column_config.TextColumn("columns"),
    },
)
st.subheader("Data dictionary")
st.caption("Every column of every table and view (also in warehouse/README.md); metric definitions are there too.")
table(pd.DataFrame(dictionary.column_rows()))

"""Admin > System status: which parts of Lectern are running, with how to start the ones that are not."""

from __future__ import annotations

import streamlit as st

from core.status import check_all, for_viewer
from dashboard import context
from dashboard.auth import require_role
from dashboard.definitions import STATUS_COLUMNS
from dashboard.views import status as view
from dashboard.widgets import table

require_role("admin")  # addresses, versions and the user count are internals
st.title("System status")
st.caption("Every part Lectern needs, checked now. Running means it answered.")

statuses = for_viewer(check_all(context.lectern()), admin=True)
table(view.status_frame(statuses), column_config=STATUS_COLUMNS)
if (down := view.down_note(statuses, admin=True)) is not None:
    st.info(down)
if st.button("Check again"):
    st.rerun()

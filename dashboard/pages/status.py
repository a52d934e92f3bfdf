"""Which parts of Lectern are running, with how to start the ones that are not."""

from __future__ import annotations

import streamlit as st

from core.status import check_all, for_viewer
from dashboard import context
from dashboard.auth import require_role
from dashboard.views import status as view

user = require_role()  # any signed-in dashboard role; the details are for admins
admin = user.role == "admin"
st.title("System status")
st.caption(
    "Every part Lectern needs, checked now. Green means it answered."
    + ("" if admin else " Addresses and versions are shown to admins only.")
)

statuses = for_viewer(check_all(context.lectern()), admin=admin)
st.dataframe(view.status_frame(statuses), hide_index=True, width="stretch")
if (down := view.down_note(statuses, admin=admin)) is not None:
    st.info(down)
if st.button("Check again"):
    st.rerun()

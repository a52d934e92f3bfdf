"""Which parts of Lectern are running, with how to start the ones that are not."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.status import check_all, for_viewer
from dashboard import context
from dashboard.auth import require_role

user = require_role()  # any signed-in dashboard role; the details are for admins
admin = user.role == "admin"
st.title("System status")
st.caption(
    "Every part Lectern needs, checked now. Green means it answered."
    + ("" if admin else " Addresses and versions are shown to admins only.")
)

statuses = for_viewer(check_all(context.lectern()), admin=admin)
frame = pd.DataFrame(
    {
        "part": [s.part for s in statuses],
        "state": ["✅ running" if s.ok else "❌ not running" for s in statuses],
        "detail": [s.detail for s in statuses],
        "latency (ms)": [s.latency_ms for s in statuses],
    }
)
st.dataframe(frame, hide_index=True, width="stretch")
down = [s.part for s in statuses if not s.ok]
if down:
    st.info("Not running: " + ", ".join(down) + (". `make demo` starts every part with sample data." if admin else "."))
if st.button("Check again"):
    st.rerun()

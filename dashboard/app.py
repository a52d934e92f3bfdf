"""Lectern dashboard entry point: `lectern dashboard` runs `streamlit run dashboard/app.py`."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Lectern", page_icon="🎓", layout="wide")

pages = [st.Page("pages/status.py", title="System status", icon="🩺", default=True)]
st.navigation(pages).run()

"""Lectern dashboard entry point: `lectern dashboard` runs `streamlit run dashboard/app.py`.

Signed out, the only page is the sign-in form; signed in, the navigation holds the pages for the user's
role (dashboard/navigation.py). Each page also checks the role itself.
"""

from __future__ import annotations

import streamlit as st

from core.memory import keep_freed_memory
from dashboard import auth
from dashboard.navigation import DEFAULT_PAGE, SIGN_IN, pages_for

keep_freed_memory()  # once per process: the cost pages price a year of usage
st.set_page_config(page_title="Lectern", page_icon=":material/school:", layout="wide")

user = auth.current_user()
if user is None:
    st.navigation([st.Page(SIGN_IN.path, title=SIGN_IN.title, icon=SIGN_IN.icon, default=True)]).run()
else:
    default = DEFAULT_PAGE.get(user.role)
    sections = {
        name: [st.Page(s.path, title=s.title, icon=s.icon, default=s.path == default) for s in specs]
        for name, specs in pages_for(user.role).items()
    }
    with st.sidebar:
        st.caption(f"Signed in as **{user.name}** ({user.role})")
        st.button("Sign out", on_click=auth.sign_out, key="sign_out")
    st.navigation(sections).run()

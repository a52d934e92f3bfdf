"""Lectern dashboard entry point: `lectern dashboard` runs `streamlit run dashboard/app.py`.

Signed out, the only page is the sign-in form; signed in, the navigation holds the pages for the user's
role (dashboard/navigation.py). Each page also checks the role itself. Every run first re-checks the
signed-in user against the platform DB and the session's idle and absolute limits (`auth.refresh_session`),
so a deleted or re-roled account loses its pages on its next click. Pages run inside an error boundary:
a failure shows a request id, the traceback goes to the log.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.memory import keep_freed_memory
from dashboard import auth, context, demo_progress_note
from dashboard.error_boundary import run_guarded
from dashboard.navigation import DEFAULT_PAGE, SIGN_IN, pages_for

# A local file (sent inline as a data: URL): a `:material/...:` page icon makes the browser fetch the favicon from
# Google's font servers, which an offline machine cannot reach.
FAVICON = Path(__file__).parent / "static" / "favicon.svg"

keep_freed_memory()  # once per process: the cost pages price a year of usage
context.configure_process_logging()
st.set_page_config(page_title="Lectern", page_icon=FAVICON, layout="wide")

user = auth.refresh_session(context.session_factory(), context.session_limits())
if user is None:
    page = st.navigation([st.Page(SIGN_IN.path, title=SIGN_IN.title, icon=SIGN_IN.icon, default=True)])
else:
    default = DEFAULT_PAGE.get(user.role)
    sections = {
        name: [st.Page(s.path, title=s.title, icon=s.icon, default=s.path == default) for s in specs]
        for name, specs in pages_for(user.role).items()
    }
    with st.sidebar:
        st.caption(f"Signed in as **{user.name}** ({user.role})")
        st.button("Sign out", on_click=auth.sign_out, key="sign_out")
    page = st.navigation(sections)
demo_progress_note.show()  # `lectern demo` only: its sample data's preparation, until done
run_guarded(page.run, page=page.url_path or "signin", user_id=user.id if user is not None else None)

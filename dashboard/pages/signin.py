"""Sign in with a platform account (teachers, admins, analysts)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, context

st.title("Sign in to Lectern")
st.caption("Use your course platform account. `lectern seed` prints demo sign-ins.")

# clear_on_submit: the password must not stay in session state once the form has been read.
with st.form("signin", clear_on_submit=True):
    email = st.text_input("Email", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        user = auth.authenticate(context.session_factory(), email, password, auth.limiter())
    except auth.SignInError as exc:
        st.error(str(exc))
    else:
        auth.sign_in(user)
        st.rerun()

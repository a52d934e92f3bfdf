"""Sign in with a platform account (teachers, admins, analysts)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, context

st.title("Sign in to Lectern")
st.caption("Use your course platform account. `lectern seed` prints demo sign-ins.")
notice = auth.take_notice()
if notice:
    st.info(notice)

# clear_on_submit: the password must not stay in session state once the form has been read.
with st.form("signin", clear_on_submit=True):
    email = st.text_input("Email", autocomplete="username", max_chars=320)
    password = st.text_input("Password", type="password", autocomplete="current-password", max_chars=auth.PASSWORD_MAX)
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        user = auth.verify_password_signin(
            context.session_factory(),
            context.signin_throttle(),
            context.hashing_slots(),
            email,
            password,
            auth.session_address(context.trusted_proxies()),
        )
    except auth.SignInError as exc:
        st.error(str(exc))
    else:
        auth.sign_in(user)
        st.rerun()

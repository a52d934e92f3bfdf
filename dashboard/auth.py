"""Sign-in for the dashboard: platform users, their role, and the scope every query is given.

The signed-in user lives in `st.session_state["user"]` (a `SignedInUser`, never the password or its hash).
Pages start with `require_role(...)`, which stops the page unless the user has one of the roles, so a page
opened directly (or by a URL) is as protected as one reached through the navigation. Scope is not decided
here by hiding widgets: every query takes the user's `Scope` and filters in SQL (see `dashboard/platform_db.py`
and `warehouse/queries.py`).

Sign-in (`verify_password_signin`) is throttled in the platform DB (core/signin_throttle.py), caps concurrent
password checks (core/passwords.py `HashingSlots`), and answers every failure the same way and in the same
time: unknown email, wrong password, a student's right password, an account without a usable hash.
Every page run re-reads the user's role (`refresh_session`): a deleted or re-roled account, an idle session
and a session past its lifetime are signed out with a message.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.auth import user_role
from core.client_address import Network, client_address
from core.dashboard_session import SessionLimits, session_end_reason
from core.db.models import Role, User
from core.errors import Unauthenticated
from core.passwords import HashingBusy, HashingSlots, check_password
from core.signin_throttle import SignInThrottle, normalise_email

SESSION_KEY = "user"
SIGNED_IN_AT_KEY = "signed_in_at"
LAST_SEEN_KEY = "last_seen"
NOTICE_KEY = "signed_out_notice"
DASHBOARD_ROLES = (Role.teacher.value, Role.admin.value, Role.analyst.value)
GENERIC_FAILURE = "Email or password is incorrect."
THROTTLED = "Too many failed sign-ins. Try again in {seconds} s."
EMPTY = "Enter your email and password."
# Longer input is refused like a wrong password (scrypt first hashes the whole password with PBKDF2).
PASSWORD_MAX = 1024


@dataclass(frozen=True)
class Scope:
    """What one user may read: teachers their own courses, admins and analysts everything.

    `teacher_id` is what queries filter on (None = every teacher). Analysts see aggregates, not students.
    """

    user_id: int
    role: str

    @property
    def teacher_id(self) -> int | None:
        return self.user_id if self.role == Role.teacher else None

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.admin, Role.analyst)

    @property
    def sees_students(self) -> bool:
        return self.role in (Role.teacher, Role.admin)


@dataclass(frozen=True)
class SignedInUser:
    id: int
    email: str
    name: str
    role: str

    @property
    def scope(self) -> Scope:
        return Scope(self.id, self.role)


class SignInError(Unauthenticated):
    """Sign-in refused; the message is safe to show (it never says whether the email exists)."""


def verify_password_signin(
    factory: sessionmaker[Session],
    throttle: SignInThrottle,
    slots: HashingSlots,
    email: str,
    password: str,
    address: str,
    now: datetime | None = None,
) -> SignedInUser:
    """The dashboard user for these credentials, or `SignInError` with a message safe to show.

    The message and the time taken depend only on the throttle (keyed by the email as typed, whether an
    account has it or not) and on whether the password is right for a dashboard account.
    """
    email = normalise_email(email)
    if not email or not password:
        raise SignInError(EMPTY)
    if any(ord(c) < 32 or ord(c) == 127 for c in email):
        # No account has such an email, and PostgreSQL refuses NUL in text: answer like any wrong email.
        raise SignInError(GENERIC_FAILURE)
    try:
        with slots.slot():
            # Checked and counted inside the slot, with the clock read there: sessions queued for a slot would
            # otherwise all pass a check made before their wait, and spend a guess each past the limit.
            now = now or datetime.now(UTC)
            decision = throttle.check(email, address, now)
            if not decision.allowed:
                raise SignInError(THROTTLED.format(seconds=int(decision.wait_s) + 1))
            # Counted as a failure until proven right, so attempts running at once on other replicas see it.
            throttle.record_attempt(email, address, now)
            with factory() as session:
                user = session.execute(select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
            ok = check_password(password[:PASSWORD_MAX], user.password_hash if user is not None else None)
    except HashingBusy as exc:
        raise SignInError(exc.message) from None
    # Students' right passwords fail like wrong ones: the dashboard is not for them, and a different answer
    # would tell anyone holding a student's password that it works (they sign in on the course platform).
    if not ok or user is None or len(password) > PASSWORD_MAX or user.role not in DASHBOARD_ROLES:
        raise SignInError(GENERIC_FAILURE)
    throttle.record_success(email, address)
    return SignedInUser(id=user.id, email=user.email, name=user.name, role=user.role)


def session_address(trusted: Sequence[Network]) -> str:
    """The client's address for this session (st.context: the WebSocket peer and the handshake's headers)."""
    try:
        peer = st.context.ip_address
        forwarded = list(st.context.headers.get_all("X-Forwarded-For"))
    except Exception:  # no client context (a bare script run): treat as local
        peer, forwarded = None, []
    # Only strings count (a test runtime without a real client hands back other objects).
    peer = peer if isinstance(peer, str) else None
    return client_address(peer, [f for f in forwarded if isinstance(f, str)], trusted)


def current_user() -> SignedInUser | None:
    user = st.session_state.get(SESSION_KEY)
    return user if isinstance(user, SignedInUser) else None


def sign_in(user: SignedInUser, now: float | None = None) -> None:
    now = time.time() if now is None else now
    st.session_state.pop(NOTICE_KEY, None)
    st.session_state[SESSION_KEY] = user
    st.session_state[SIGNED_IN_AT_KEY] = now
    st.session_state[LAST_SEEN_KEY] = now


def sign_out(notice: str | None = None) -> None:
    # Drop everything the session cached for this user (selected lessons, upload tickets), not just the user.
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def take_notice() -> str | None:
    """Why this session was signed out (shown once on the sign-in page)."""
    notice = st.session_state.pop(NOTICE_KEY, None)
    return notice if isinstance(notice, str) else None


def current_role(factory: sessionmaker[Session], user_id: int) -> str | None:
    with factory() as session:
        return user_role(session, user_id)


def refresh_session(
    factory: sessionmaker[Session], limits: SessionLimits, now: float | None = None, *, activity: bool = True
) -> SignedInUser | None:
    """The signed-in user after checking the session is still good (else signed out with a notice).

    `activity=False` checks without counting as activity (a fragment's timed refresh is not the user).
    """
    user = current_user()
    if user is None:
        return None
    now = time.time() if now is None else now
    # sign_in sets both; a session holding a user without them is treated as just signed in.
    signed_in_at = float(st.session_state.setdefault(SIGNED_IN_AT_KEY, now))
    last_seen = float(st.session_state.setdefault(LAST_SEEN_KEY, now))
    reason = session_end_reason(
        now=now,
        signed_in_at=signed_in_at,
        last_seen=last_seen,
        signed_in_role=user.role,
        current_role=current_role(factory, user.id),
        allowed_roles=DASHBOARD_ROLES,
        limits=limits,
    )
    if reason is not None:
        sign_out(reason)
        return None
    if activity:
        st.session_state[LAST_SEEN_KEY] = now
    return user


def recheck_in_fragment() -> None:
    """For `st.fragment(run_every=...)` refreshes, which do not rerun app.py: when the session has ended
    (account deleted or re-roled, idle, too old), rerun the whole app so it signs out. A timed refresh is
    not the user's activity, so it does not keep the session alive."""
    from dashboard import context

    if (
        current_user() is not None
        and refresh_session(context.session_factory(), context.session_limits(), activity=False) is None
    ):
        st.rerun(scope="app")


def require_role(*roles: str) -> SignedInUser:
    """The signed-in user when they have one of `roles` (any dashboard role when none given); else stop."""
    user = current_user()
    if user is None:
        st.error("Sign in to see this page.")
        st.stop()
    assert user is not None  # st.stop() raises; this tells the type checker
    if roles and user.role not in roles:
        st.error(f"This page is for {' and '.join(roles)} accounts; you are signed in as {user.role}.")
        st.stop()
    return user

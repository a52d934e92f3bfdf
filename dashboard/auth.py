"""Sign-in for the dashboard: platform users, their role, and the scope every query is given.

The signed-in user lives in `st.session_state["user"]` (a `SignedInUser`, never the password or its hash).
Pages start with `require_role(...)`, which stops the page unless the user has one of the roles, so a page
opened directly (or by a URL) is as protected as one reached through the navigation. Scope is not decided
here by hiding widgets: every query takes the user's `Scope` and filters in SQL (see `dashboard/platform_db.py`
and `warehouse/queries.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db.models import Role, User
from core.passwords import hash_password, verify_password

SESSION_KEY = "user"
LIMITER_KEY = "signin_limiter"
DASHBOARD_ROLES = (Role.teacher.value, Role.admin.value, Role.analyst.value)
GENERIC_FAILURE = "Email or password is not right."

# Checked against when the email is unknown, so a wrong email costs the same scrypt time as a wrong password
# (otherwise response time tells which emails have accounts).
_DUMMY_HASH = hash_password("lectern-dummy-password")


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


@dataclass
class SignInLimiter:
    """Failed attempts per email in a sliding window; past `max_failures` the email waits out the window."""

    max_failures: int = 5
    window_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    failures: dict[str, list[float]] = field(default_factory=dict)

    def _recent(self, email: str) -> list[float]:
        cutoff = self.clock() - self.window_s
        recent = [t for t in self.failures.get(email, []) if t > cutoff]
        self.failures[email] = recent
        return recent

    def wait_s(self, email: str) -> float:
        """Seconds until `email` may try again (0 when it may try now)."""
        recent = self._recent(email)
        if len(recent) < self.max_failures:
            return 0.0
        return max(0.0, recent[-self.max_failures] + self.window_s - self.clock())

    def record_failure(self, email: str) -> None:
        self._recent(email).append(self.clock())

    def reset(self, email: str) -> None:
        self.failures.pop(email, None)


class SignInError(Exception):
    """Sign-in refused; the message is safe to show (it never says whether the email exists)."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def authenticate(factory: sessionmaker[Session], email: str, password: str, limiter: SignInLimiter) -> SignedInUser:
    """The user for these credentials, or `SignInError` with a message to show."""
    email = normalise_email(email)
    if not email or not password:
        raise SignInError("Enter your email and password.")
    wait = limiter.wait_s(email)
    if wait > 0:
        raise SignInError(f"Too many failed attempts for this email. Try again in {int(wait) + 1} s.")
    with factory() as session:
        user = session.execute(select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
    ok = verify_password(password, user.password_hash if user is not None else _DUMMY_HASH)
    if user is None or not ok:
        limiter.record_failure(email)
        raise SignInError(GENERIC_FAILURE)
    limiter.reset(email)
    if user.role not in DASHBOARD_ROLES:
        # The password was right, so saying why is no leak; students use the course platform instead.
        raise SignInError("Lectern's dashboard is for teachers, admins and analysts; students watch on the platform.")
    return SignedInUser(id=user.id, email=user.email, name=user.name, role=user.role)


def current_user() -> SignedInUser | None:
    user = st.session_state.get(SESSION_KEY)
    return user if isinstance(user, SignedInUser) else None


def sign_in(user: SignedInUser) -> None:
    st.session_state[SESSION_KEY] = user


def sign_out() -> None:
    # Drop everything the session cached for this user (selected lessons, upload tickets), not just the user.
    for key in list(st.session_state.keys()):
        if key != LIMITER_KEY:
            del st.session_state[key]


def limiter() -> SignInLimiter:
    if LIMITER_KEY not in st.session_state:
        st.session_state[LIMITER_KEY] = SignInLimiter()
    found: SignInLimiter = st.session_state[LIMITER_KEY]
    return found


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

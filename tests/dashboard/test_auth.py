"""Sign-in against platform users: throttling kept in the platform DB, one answer and one timing for every
failure, sessions re-checked on every run (deleted or re-roled users, idle and absolute limits), sign-out,
and pages refusing the wrong role."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import SignInFailure, User
from core.passwords import HashingSlots, hash_password
from core.signin_throttle import SignInThrottle, ThrottleLimits
from dashboard.auth import (
    GENERIC_FAILURE,
    LAST_SEEN_KEY,
    NOTICE_KEY,
    SESSION_KEY,
    SIGNED_IN_AT_KEY,
    SignedInUser,
    SignInError,
    verify_password_signin,
)
from tests.dashboard.conftest import APP, AppFactory, new_app, page_text
from tests.dashboard.world import PASSWORD, World
from tests.factories import make_user

PAGES = Path(APP).parent / "pages"
ADDRESS = "198.51.100.7"


@pytest.fixture(autouse=True)
def factory(world: World) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(world.database_url)
    session_factory = make_session_factory(engine)
    yield session_factory
    # The world is shared by the whole run: leave no failures behind to throttle the next test.
    with transaction(session_factory) as session:
        session.execute(delete(SignInFailure))
    engine.dispose()


@pytest.fixture
def throttle(factory: sessionmaker[Session]) -> SignInThrottle:
    return SignInThrottle(factory, ThrottleLimits())


SLOTS = HashingSlots(max_concurrent=2, wait_s=5.0)


def signin(
    factory: sessionmaker[Session],
    throttle: SignInThrottle,
    email: str,
    password: str,
    *,
    slots: HashingSlots = SLOTS,
    address: str = ADDRESS,
    now: datetime | None = None,
) -> SignedInUser:
    return verify_password_signin(factory, throttle, slots, email, password, address, now)


def failure(factory: sessionmaker[Session], throttle: SignInThrottle, email: str, password: str, **kw: Any) -> str:
    with pytest.raises(SignInError) as exc:
        signin(factory, throttle, email, password, **kw)
    return str(exc.value)


def test_right_password_signs_in_with_the_user_role(world: World, factory, throttle) -> None:  # type: ignore[no-untyped-def]
    user = signin(factory, throttle, world.emails["teacher_a"].upper() + "  ", PASSWORD)
    assert (user.id, user.role) == (world.users["teacher_a"], "teacher")


def test_every_failure_kind_gets_the_same_generic_answer(world: World, factory, throttle) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        unusable = make_user(session, "teacher", password_hash="!").email
        malformed = make_user(session, "analyst", password_hash="scrypt$x$y$z$$").email
    cases = [
        (world.emails["teacher_a"], "wrong"),  # wrong password
        ("nobody@example.test", PASSWORD),  # unknown email
        (world.emails["student_login"], PASSWORD),  # a student's RIGHT password: the dashboard is not theirs
        (unusable, PASSWORD),
        (malformed, PASSWORD),
        (world.emails["admin"], PASSWORD + "x" * 2000),  # over the length cap
    ]
    for email, password in cases:
        assert failure(factory, throttle, email, password) == GENERIC_FAILURE, email


def test_control_characters_in_the_email_are_a_wrong_email_not_an_error(world: World, factory, throttle) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL refuses NUL in text: before the check, this failed the page with a database error.
    for email in ("a\x00b@example.test", world.emails["admin"] + "\x00", "x\n@example.test"):
        assert failure(factory, throttle, email, PASSWORD) == GENERIC_FAILURE, repr(email)


def test_every_failure_kind_takes_the_same_time(world: World, factory, throttle) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        unusable = make_user(session, "teacher", password_hash="!").email

    def median_s(email: str, password: str) -> float:
        times = []
        for i in range(5):
            start = time.perf_counter()
            failure(factory, throttle, email, password, address=f"203.0.113.{i}")
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    signin(factory, throttle, world.emails["analyst"], PASSWORD)  # warm: the dummy hash is built once
    wrong_password = median_s(world.emails["teacher_b"], "wrong")
    # Before, an unusable hash answered in ~0.4 ms against ~75 ms for a wrong password; a loaded machine
    # slows every kind alike, so compare medians as a ratio.
    for email, password in [("nobody@example.test", "x"), (unusable, "x"), (world.emails["student_login"], PASSWORD)]:
        assert median_s(email, password) > 0.5 * wrong_password, email


def lockout_s(message: str) -> int:
    """The wait a throttled answer names (the lock-out counts from the last failure, a moment ago)."""
    found = re.fullmatch(r"Too many failed sign-ins\. Try again in (\d+) s\.", message)
    assert found is not None, message
    return int(found.group(1))


def test_failures_are_counted_in_the_platform_db_not_the_browser_session(app: AppFactory, world: World) -> None:
    # Every AppTest is a new browser session (a reload, a new tab): before, each got a fresh limiter.
    email = world.emails["teacher_b"]
    for _ in range(5):
        at = app()
        at.text_input[0].input(email)
        at.text_input[1].input("wrong")
        at.button[0].click().run()
        assert [e.value for e in at.error] == [GENERIC_FAILURE]
    at = app()
    at.text_input[0].input(email)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert [lockout_s(e.value) for e in at.error] == [pytest.approx(900, abs=30)]
    assert SESSION_KEY not in at.session_state


def test_a_locked_pair_does_not_lock_the_owner_out_elsewhere(world: World, factory, throttle) -> None:  # type: ignore[no-untyped-def]
    email = world.emails["analyst"]
    for _ in range(5):
        assert failure(factory, throttle, email, "wrong", address="192.0.2.66") == GENERIC_FAILURE
    throttled = failure(factory, throttle, email, PASSWORD, address="192.0.2.66")
    assert throttled.startswith("Too many failed sign-ins")
    # Same message for an email without an account: the throttle says nothing about which emails exist.
    for _ in range(5):
        failure(factory, throttle, "ghost@example.test", "wrong", address="192.0.2.66")
    assert failure(factory, throttle, "ghost@example.test", PASSWORD, address="192.0.2.66") == throttled
    assert signin(factory, throttle, email, PASSWORD, address="192.0.2.1").role == "analyst"


def test_the_account_wide_limit_slows_down_and_never_locks(world: World, factory) -> None:  # type: ignore[no-untyped-def]
    throttle = SignInThrottle(factory, ThrottleLimits(account_free_failures=3, account_max_delay_s=4))
    email = world.emails["teacher_a"]
    now = datetime.now(UTC)
    for i in range(20):  # many addresses, as a botnet would
        with transaction(factory) as session:
            session.add(SignInFailure(email=email, address=f"192.0.2.{i}", failed_at=now))
    message = failure(factory, throttle, email, PASSWORD, address="192.0.2.200", now=now + timedelta(seconds=1))
    assert message == "Too many failed sign-ins. Try again in 4 s."
    user = signin(factory, throttle, email, PASSWORD, address="192.0.2.200", now=now + timedelta(seconds=5))
    assert user.id == world.users["teacher_a"]


def test_an_address_failing_on_many_accounts_is_locked(world: World, factory) -> None:  # type: ignore[no-untyped-def]
    throttle = SignInThrottle(factory, ThrottleLimits(address_max_failures=4))
    for i in range(4):
        failure(factory, throttle, f"spray{i}@example.test", "Winter2026!", address="192.0.2.99")
    assert failure(factory, throttle, world.emails["teacher_b"], PASSWORD, address="192.0.2.99").startswith(
        "Too many failed sign-ins"
    )


def test_concurrent_password_checks_are_capped_and_answer_busy(world: World, factory, throttle) -> None:  # type: ignore[no-untyped-def]
    slots = HashingSlots(max_concurrent=1, wait_s=0.05)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with slots.slot():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(5)
        message = failure(factory, throttle, world.emails["teacher_a"], PASSWORD, slots=slots)
        assert message == "Sign-in is busy right now. Try again in a few seconds."
    finally:
        release.set()
        holder.join(5)
    # A busy answer spent no password check, so it counts as no failure.
    assert throttle.counts(world.emails["teacher_a"], ADDRESS, datetime.now(UTC)).pair.count == 0


def test_sign_in_form_then_sign_out(app: AppFactory, world: World, factory) -> None:  # type: ignore[no-untyped-def]
    at = app()
    assert [t.value for t in at.title] == ["Sign in to Lectern"]
    at.text_input[0].input(world.emails["teacher_a"])
    at.text_input[1].input("wrong")
    at.button[0].click().run()
    assert [e.value for e in at.error] == [GENERIC_FAILURE]

    at.text_input[0].input(world.emails["teacher_a"])
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    at.run()
    assert [t.value for t in at.title] == ["My lessons"]
    assert at.session_state[SESSION_KEY].id == world.users["teacher_a"]
    # The form is cleared on submit: the password is nowhere in the session.
    assert PASSWORD not in repr(at.session_state)

    at.sidebar.button(key="sign_out").click().run()
    at.run()
    assert [t.value for t in at.title] == ["Sign in to Lectern"]
    assert SESSION_KEY not in at.session_state


# --- sessions re-checked on every run --------------------------------------------------------------------


def nav_titles(at) -> list[str]:  # type: ignore[no-untyped-def]
    # The pages st.navigation registered in the last run (AppTest keeps them to resolve switch_page).
    return [str(info.get("page_name")) for info in at._registered_pages.values()]


@pytest.fixture
def second_admin(world: World, factory) -> Iterator[tuple[int, str]]:  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        user = make_user(session, "admin", name="Second Admin", password_hash=hash_password(PASSWORD))
        found = (user.id, user.email)
    yield found
    with transaction(factory) as session:
        session.execute(delete(User).where(User.id == found[0]))


def _signed_in_admin(app: AppFactory, email: str):  # type: ignore[no-untyped-def]
    at = app()
    at.text_input[0].input(email)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    at.run()
    assert {"Costs", "Migration"} <= set(nav_titles(at)), nav_titles(at)
    return at


@pytest.mark.parametrize(
    ("change", "message"),
    [("demote", "Your account's role changed"), ("delete", "Your account no longer exists")],
)
def test_an_admin_demoted_or_deleted_loses_admin_pages_on_the_next_run(
    app: AppFactory,
    factory,
    second_admin: tuple[int, str],
    change: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    user_id, email = second_admin
    at = _signed_in_admin(app, email)
    with transaction(factory) as session:
        if change == "demote":
            session.execute(update(User).where(User.id == user_id).values(role="teacher"))
        else:
            session.execute(delete(User).where(User.id == user_id))
    at.switch_page("pages/admin_migration.py").run()
    assert "Costs" not in nav_titles(at) and "Migration" not in nav_titles(at)
    assert SESSION_KEY not in at.session_state
    assert [t.value for t in at.title] == ["Sign in to Lectern"]
    assert any(message in i.value for i in at.info), page_text(at)
    assert not at.exception


@pytest.mark.parametrize(
    ("key", "age_s", "message"),
    [(LAST_SEEN_KEY, 1801, "after 30 minutes without activity"), (SIGNED_IN_AT_KEY, 12 * 3600 + 1, "at most 12 hours")],
)
def test_idle_and_old_sessions_are_signed_out(
    app: AppFactory, world: World, key: str, age_s: int, message: str
) -> None:
    at = app("teacher_a")
    assert [t.value for t in at.title] == ["My lessons"]
    at.session_state[key] = time.time() - age_s
    at.run()
    assert [t.value for t in at.title] == ["Sign in to Lectern"]
    assert any(message in i.value for i in at.info), page_text(at)


def test_activity_keeps_a_session_alive(app: AppFactory) -> None:
    at = app("teacher_a")
    at.session_state[LAST_SEEN_KEY] = time.time() - 1700
    at.run()
    assert [t.value for t in at.title] == ["My lessons"]
    assert at.session_state[LAST_SEEN_KEY] > time.time() - 60


@pytest.mark.parametrize(
    ("page", "who", "allowed"),
    [
        ("my_lessons.py", "analyst", False),
        ("upload.py", "analyst", False),
        ("preview.py", "analyst", False),
        ("warehouse.py", "teacher_a", False),
        ("engagement.py", None, False),
        ("engagement.py", "analyst", True),
        ("warehouse.py", "analyst", True),
    ],
)
def test_pages_check_the_role_themselves(dashboard_env: World, page: str, who: str | None, allowed: bool) -> None:
    # A page opened directly (not through app.py's navigation) is as protected as one in the menu.
    at = new_app(str(PAGES / page), who, dashboard_env).run()
    assert not at.exception
    refused = [e.value for e in at.error if "This page is for" in e.value or "Sign in" in e.value]
    assert bool(refused) is not allowed, page_text(at)


def _fragment_script() -> None:
    import streamlit as st

    from dashboard import auth

    @st.fragment
    def live() -> None:
        auth.recheck_in_fragment()
        st.markdown(f"live for {auth.current_user()}")

    live()


def test_live_fragments_recheck_the_session_too(dashboard_env: World, factory, second_admin) -> None:  # type: ignore[no-untyped-def]
    # Timed fragment refreshes (Migration's live progress, My lessons' table) do not rerun app.py.
    from streamlit.testing.v1 import AppTest

    user_id, email = second_admin
    at = AppTest.from_function(_fragment_script, default_timeout=30)
    at.session_state[SESSION_KEY] = SignedInUser(user_id, email, "Second Admin", "admin")
    at.run()
    assert at.markdown[0].value.startswith("live for SignedInUser")
    with transaction(factory) as session:
        session.execute(update(User).where(User.id == user_id).values(role="analyst"))
    at.run()
    assert [m.value for m in at.markdown] == ["live for None"]
    assert "role changed" in at.session_state[NOTICE_KEY]

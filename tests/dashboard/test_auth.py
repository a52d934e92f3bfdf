"""Sign-in against platform users, the rate limit, sign-out, and pages refusing the wrong role."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.db.engine import make_engine, make_session_factory
from dashboard.auth import GENERIC_FAILURE, SESSION_KEY, SignInError, SignInLimiter, authenticate
from tests.dashboard.conftest import APP, AppFactory, new_app, page_text
from tests.dashboard.world import PASSWORD, World

PAGES = Path(APP).parent / "pages"


@pytest.fixture
def factory(world: World):  # type: ignore[no-untyped-def]
    engine = make_engine(world.database_url)
    yield make_session_factory(engine)
    engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_blocks_an_email_after_five_failures_for_the_window() -> None:
    clock = Clock()
    limiter = SignInLimiter(max_failures=5, window_s=300, clock=clock)
    for _ in range(4):
        limiter.record_failure("a@x")
    assert limiter.wait_s("a@x") == 0
    limiter.record_failure("a@x")
    assert limiter.wait_s("a@x") == pytest.approx(300)
    assert limiter.wait_s("b@x") == 0  # per email
    clock.now += 301
    assert limiter.wait_s("a@x") == 0


def test_right_password_signs_in_with_the_user_role(world: World, factory) -> None:  # type: ignore[no-untyped-def]
    user = authenticate(factory, world.emails["teacher_a"].upper() + "  ", PASSWORD, SignInLimiter())
    assert (user.id, user.role) == (world.users["teacher_a"], "teacher")


def test_wrong_password_and_unknown_email_get_the_same_generic_error(world: World, factory) -> None:  # type: ignore[no-untyped-def]
    limiter = SignInLimiter()
    for email, password in [(world.emails["teacher_a"], "nope"), ("nobody@example.test", PASSWORD)]:
        with pytest.raises(SignInError) as exc:
            authenticate(factory, email, password, limiter)
        assert str(exc.value) == GENERIC_FAILURE


def test_after_five_failures_even_the_right_password_waits(world: World, factory) -> None:  # type: ignore[no-untyped-def]
    limiter = SignInLimiter()
    email = world.emails["analyst"]
    for _ in range(5):
        with pytest.raises(SignInError):
            authenticate(factory, email, "wrong", limiter)
    with pytest.raises(SignInError, match="Too many failed attempts"):
        authenticate(factory, email, PASSWORD, limiter)


def test_students_are_sent_to_the_platform(world: World, factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignInError, match="students watch on the platform"):
        authenticate(factory, world.emails["student_login"], PASSWORD, SignInLimiter())


def test_sign_in_form_then_sign_out(app: AppFactory, world: World) -> None:
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

"""System status: admins only (addresses, DB revision and user count are internals); other roles are refused."""

from __future__ import annotations

from tests.dashboard.conftest import AppFactory, page_text


def test_admins_see_every_part_with_its_details(app: AppFactory) -> None:
    at = app("admin", page="pages/status.py")
    text = page_text(at)
    assert "System status" in text and "revision" in text and "users" in text and "127.0.0.1" in text
    assert set(at.dataframe[0].value["state"]) <= {"running", "not running"}


def test_other_roles_are_refused_and_shown_no_internals(app: AppFactory) -> None:
    for who in ("teacher_a", "analyst"):
        at = app(who, page="pages/status.py")
        text = page_text(at)
        assert "System status" not in [t.value for t in at.title], who
        for internal in ("revision", " users (", "127.0.0.1", "http://"):
            assert internal not in text, (who, internal)

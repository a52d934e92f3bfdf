"""System status: every role sees which parts answer; only admins see addresses, DB revision and user count."""

from __future__ import annotations

from tests.dashboard.conftest import AppFactory, page_text


def test_only_admins_see_internal_details(app: AppFactory) -> None:
    admin = page_text(app("admin", page="pages/status.py"))
    assert "revision" in admin and "users" in admin and "127.0.0.1" in admin
    for who in ("teacher_a", "analyst"):
        text = page_text(app(who, page="pages/status.py"))
        assert "System status" in text, who
        for internal in ("revision", " users (", "127.0.0.1", "http://"):
            assert internal not in text, (who, internal)

"""When a dashboard session ends: deleted or re-roled account, idle timeout, absolute lifetime."""

from __future__ import annotations

from typing import Any

import pytest

from core.dashboard_session import SessionLimits, session_end_reason
from core.settings import load_settings

ROLES = ("teacher", "admin", "analyst")
LIMITS = SessionLimits(idle_s=1800, max_s=12 * 3600)


def reason(**kw: Any) -> str | None:
    args: dict[str, Any] = {
        "now": 10_000.0, "signed_in_at": 9_000.0, "last_seen": 9_500.0, "signed_in_role": "admin",
        "current_role": "admin", "allowed_roles": ROLES, "limits": LIMITS,
    }  # fmt: skip
    return session_end_reason(**(args | kw))


def test_defaults() -> None:
    assert SessionLimits.from_settings(load_settings()) == SessionLimits(idle_s=1800, max_s=12 * 3600)


def test_a_good_session_goes_on() -> None:
    assert reason() is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"current_role": None}, "no longer exists"),
        ({"current_role": "teacher"}, "role changed"),
        ({"current_role": "student", "signed_in_role": "student"}, "role changed"),
        ({"last_seen": 10_000.0 - 1801}, "after 30 minutes without activity"),
        ({"signed_in_at": 10_000.0 - 12 * 3600 - 1, "last_seen": 9_999.0}, "at most 12 hours"),
    ],
)
def test_reasons(change: dict[str, Any], expected: str) -> None:
    found = reason(**change)
    assert found is not None and expected in found

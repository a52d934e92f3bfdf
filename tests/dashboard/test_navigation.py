"""Which pages each role is offered."""

from __future__ import annotations

import pytest

from dashboard.navigation import PAGES, pages_for
from tests.dashboard.conftest import AppFactory

ADMIN_ONLY = (
    "Costs",
    "Migration",
    "Operations",
    "Playback health",
    "Migration actions",
    "Webhook log",
    "System status",
)


def titles(role: str) -> list[str]:
    return [spec.title for specs in pages_for(role).values() for spec in specs]


def test_teachers_get_their_lesson_pages_and_engagement() -> None:
    assert titles("teacher") == ["My lessons", "Upload", "Lesson preview", "Engagement", "SQL"]


def test_analysts_get_aggregates_and_the_warehouse() -> None:
    assert titles("analyst") == ["Engagement", "Warehouse", "SQL"]


def test_system_status_is_under_admin_for_admins_only() -> None:
    assert [s.title for s in pages_for("admin")["Admin"]][-1] == "System status"
    assert all("System status" not in titles(role) for role in ("teacher", "analyst"))


def test_admins_get_everything_including_admin_pages_that_exist() -> None:
    admin_only = [spec for spec in PAGES if spec.title in ADMIN_ONLY]
    expected = ["My lessons", "Upload", "Lesson preview", "Engagement", "Warehouse", "SQL"]
    assert titles("admin") == [*expected, *[s.title for s in admin_only if s.exists]]
    assert all(spec.roles == ("admin",) for spec in admin_only)


@pytest.mark.parametrize("role", ["student", "unknown"])
def test_other_roles_get_nothing(role: str) -> None:
    assert pages_for(role) == {}


def test_every_listed_page_but_the_admin_ones_ships_with_the_dashboard() -> None:
    assert [spec.path for spec in PAGES if not spec.exists and spec.title not in ("Costs", "Migration")] == []


def test_a_teacher_asking_for_an_admin_page_lands_on_their_own(app: AppFactory) -> None:
    at = app("teacher_a", page="pages/admin_costs.py")
    assert [t.value for t in at.title] == ["My lessons"]

"""Alerts as the dashboard reads them from the platform DB: open budget alerts (Costs page), the alerts about
a teacher's own lessons (My lessons page; admins see all), and a platform DB that fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from core.costs.alerts import KIND
from core.db.engine import make_engine, make_session_factory
from core.db.models import Alert
from dashboard import platform_db
from dashboard.auth import Scope
from tests.alerts.conftest import make_platform
from tests.dashboard.conftest import AppFactory
from tests.dashboard.world import World

SINCE = datetime(2026, 11, 3, 8, 5, tzinfo=UTC)


def budget(key: str, message: str, **values: object) -> Alert:
    fields: dict[str, object] = {"state": "firing", "fired_at": SINCE, **values}
    return Alert(key=key, kind=KIND, message=message, first_seen_at=SINCE, **fields)


def test_open_budget_alerts_in_key_order(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add(budget("cost-budget:2026-12", "December over."))
        session.add(budget("cost-budget:2026-11", "Nov.", severity="critical", acknowledged_at=SINCE))
        session.add(budget("cost-budget:2026-10", "Old news.", state="resolved", resolved_at=SINCE))
        session.add(Alert(key="disk:full", kind="disk", message="Not a budget alert.", state="firing"))
    found = platform_db.open_budget_alerts(make_session_factory(engine))
    assert found.unavailable is None
    assert [(a.severity, a.message, a.acknowledged) for a in found.alerts] == [
        ("critical", "Nov.", True),
        ("warning", "December over.", False),
    ]
    assert found.alerts[0].since == SINCE and found.alerts[0].state == "firing"


def test_teachers_read_the_alerts_about_their_own_lessons_admins_all(engine: Engine) -> None:
    platform = make_platform(engine)
    with Session(engine) as session, session.begin():
        for lesson, teacher in ((platform.lesson_a, platform.teacher_a), (platform.lesson_b, platform.teacher_b)):
            session.add(
                Alert(key=f"k:{lesson}", kind="playback_failure_lesson", message=f"lesson {lesson} failing",
                      state="firing", lesson_id=lesson, teacher_id=teacher)
            )  # fmt: skip
        session.add(Alert(key="sync_job:views", kind="sync_job", message="views failing", state="firing"))
        session.add(
            Alert(key="k:old", kind="sync_job", message="gone", state="resolved", teacher_id=platform.teacher_a)
        )
    factory = make_session_factory(engine)
    mine = platform_db.scoped_alerts(factory, Scope(platform.teacher_a, "teacher"))
    assert [a.message for a in mine.alerts] == [f"lesson {platform.lesson_a} failing"]
    everyone = platform_db.scoped_alerts(factory, Scope(999, "admin"))
    assert len(everyone.alerts) == 3
    assert platform_db.scoped_alerts(factory, Scope(platform.teacher_a, "student")).alerts == []


def test_a_platform_db_without_the_table_gives_no_alerts_and_says_why(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated: no alerts table
    factory = make_session_factory(engine)
    found = platform_db.open_budget_alerts(factory)
    scoped = platform_db.scoped_alerts(factory, Scope(1, "teacher"))
    engine.dispose()
    assert found.alerts == [] and found.unavailable == "OperationalError"
    assert scoped.alerts == [] and scoped.unavailable == "OperationalError"


@pytest.fixture
def world_alerts(world: World) -> Iterator[None]:
    engine = make_engine(world.database_url)
    with Session(engine) as session, session.begin():
        for key, teacher in (("a_mux", "teacher_a"), ("b_mux", "teacher_b")):
            session.add(
                Alert(key=f"playback_failure_lesson:{world.lessons[key]}", kind="playback_failure_lesson",
                      severity="warning", message=f"Playback failures on {world.titles[key]}.", state="firing",
                      first_seen_at=SINCE, fired_at=SINCE, lesson_id=world.lessons[key],
                      teacher_id=world.users[teacher])
            )  # fmt: skip
    yield
    with Session(engine) as session, session.begin():
        session.execute(delete(Alert))
    engine.dispose()


def test_my_lessons_shows_a_teacher_only_the_alerts_about_their_lessons(app: AppFactory, world_alerts: None) -> None:
    at = app("teacher_a")
    assert not at.exception
    shown = [w.value for w in at.warning]
    assert "Firing since 2026-11-03 08:05 UTC: Playback failures on Alpha Mux lesson." in shown
    assert not any("Beta" in text for text in shown)

    admin = app("admin")
    shown = [w.value for w in admin.warning]
    assert any("Alpha Mux lesson" in t for t in shown) and any("Beta secret Mux lesson" in t for t in shown)

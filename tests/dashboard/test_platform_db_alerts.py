"""Budget alerts as the costs page reads them from the platform DB: open ones only, and a DB that fails."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from core.costs.alerts import KIND
from core.db.engine import make_engine, make_session_factory
from core.db.migrate import upgrade
from core.db.models import Alert
from dashboard import platform_db

SINCE = datetime(2026, 11, 3, 8, 5, tzinfo=UTC)


def test_open_budget_alerts_in_key_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add(Alert(key="cost-budget:2026-12", kind=KIND, message="December over.", created_at=SINCE))
        session.add(Alert(key="cost-budget:2026-11", kind=KIND, severity="critical", message="Nov.", created_at=SINCE))
        session.add(Alert(key="cost-budget:2026-10", kind=KIND, message="Old news.", resolved_at=SINCE))
        session.add(Alert(key="disk:full", kind="disk", message="Not a budget alert."))
    found = platform_db.open_budget_alerts(make_session_factory(engine))
    engine.dispose()
    assert found.unavailable is None
    assert [(a.severity, a.message) for a in found.alerts] == [("critical", "Nov."), ("warning", "December over.")]
    assert found.alerts[0].since == SINCE


def test_a_platform_db_without_the_table_gives_no_alerts_and_says_why(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated: no alerts table
    found = platform_db.open_budget_alerts(make_session_factory(engine))
    engine.dispose()
    assert found.alerts == [] and found.unavailable == "OperationalError"

"""`lectern alerts list | ack | silence | evaluate` against the platform DB (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from core.db.models import Alert, MigrationJob, OperatorAction
from lectern.cli import app
from tests.alerts.conftest import Platform, Receiver

runner = CliRunner()


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> dict[str, str]:
    values = {
        "DATABASE_URL": db_url,
        "LECTERN_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "",
        "LECTERN_ALERT_WEBHOOK_URLS": f"ops={receiver.url}",
        "USER": "opsperson",
    }
    for name in ("LECTERN_MONTHLY_BUDGET_USD", "LECTERN_ALERT_RULES"):
        monkeypatch.delenv(name, raising=False)
    return values


def test_evaluate_list_ack_and_silence(
    env: dict[str, str], engine: Engine, platform: Platform, receiver: Receiver
) -> None:
    with Session(engine) as session, session.begin():
        session.add(MigrationJob(lesson_id=platform.lesson_a, s3_key="k", state="failed", error="S3 said 403"))
    evaluated = runner.invoke(app, ["alerts", "evaluate"], env=env)
    assert evaluated.exit_code == 0, evaluated.output
    assert "1 alert(s) firing" in evaluated.output and "'delivered': 1" in evaluated.output
    assert receiver.events() == [("fired", "migration_failures")]
    with Session(engine) as session:
        alert_id = session.execute(select(Alert.id).where(Alert.kind == "migration_failures")).scalar_one()

    listed = runner.invoke(app, ["alerts", "list"], env={**env, "COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "migration_failures" in listed.output and "firing" in listed.output and "S3 said 403" in listed.output

    acked = runner.invoke(app, ["alerts", "ack", str(alert_id)], env=env)
    assert acked.exit_code == 0, acked.output
    assert f"alert {alert_id} acknowledged by cli:" in acked.output
    silenced = runner.invoke(app, ["alerts", "silence", str(alert_id), "--for", "2h"], env=env)
    assert silenced.exit_code == 0, silenced.output
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None and alert.acknowledged_by is not None and alert.acknowledged_by.startswith("cli:")
        assert alert.silenced_until is not None and alert.silenced_until > datetime.now(UTC)
        actions = session.execute(select(OperatorAction.action).order_by(OperatorAction.id)).scalars().all()
    assert actions == ["alert.acknowledge", "alert.silence"]

    assert runner.invoke(app, ["alerts", "list", "--state", "resolved"], env=env).output.strip().endswith("no alerts")


def test_bad_input_gets_one_line_and_its_exit_code(env: dict[str, str], engine: Engine) -> None:
    missing = runner.invoke(app, ["alerts", "ack", "424242"], env=env)
    assert missing.exit_code == 66 and "no alert 424242" in missing.output
    with Session(engine) as session, session.begin():
        session.add(Alert(key="x", kind="sync_job", message="old", state="resolved"))
    with Session(engine) as session:
        resolved_id = session.execute(select(Alert.id)).scalar_one()
    done = runner.invoke(app, ["alerts", "silence", str(resolved_id), "--for", "1h"], env=env)
    assert done.exit_code == 73 and "is resolved" in done.output
    bad = runner.invoke(app, ["alerts", "silence", str(resolved_id), "--for", "forever"], env=env)
    assert bad.exit_code == 65 and "not a duration" in bad.output
    state = runner.invoke(app, ["alerts", "list", "--state", "loud"], env=env)
    assert state.exit_code == 65 and "unknown alert state" in state.output

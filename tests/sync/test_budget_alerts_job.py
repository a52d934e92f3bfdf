"""The budget rule in the `alerts` sync job: budget alerts from the working warehouse, one per month, without
a human, with the engine's lifecycle (resolved when projected back under, a new alert when it crosses again).

A real warehouse (the costs demo: 120 days of usage) and the platform database on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from core.costs.alerts import KIND, budget_key
from core.db.models import Alert
from core.settings import Settings, load_settings
from lectern.commands.sync import app as sync_app
from sync.runner import JOBS, SyncContext, run_jobs
from tests.costs.demo import build_demo, write_warehouse
from warehouse.reader import open_analyst_connection
from warehouse.store import WarehouseLayout, WarehouseWriter

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 6, tzinfo=UTC)
MONTHS = ["2026-11", "2026-12", "2027-01", "2027-02"]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return write_warehouse(tmp_path / "warehouse.duckdb", build_demo(TODAY))


def _settings(monkeypatch: pytest.MonkeyPatch, db_url: str, warehouse: Path, budget: float | None) -> Settings:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LECTERN_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("MUX_TOKEN_ID", "")
    monkeypatch.setenv("MUX_TOKEN_SECRET", "")
    monkeypatch.delenv("LECTERN_PRICE_OVERRIDES", raising=False)
    monkeypatch.delenv("LECTERN_ALERT_WEBHOOK_URLS", raising=False)
    if budget is None:
        monkeypatch.delenv("LECTERN_MONTHLY_BUDGET_USD", raising=False)
    else:
        monkeypatch.setenv("LECTERN_MONTHLY_BUDGET_USD", str(budget))
    return load_settings()


def _run(settings: Settings, engine: Engine) -> dict[str, Any]:
    ctx = SyncContext(
        settings=settings, writer=WarehouseWriter.from_settings(settings), engine=engine, clock=lambda: NOW
    )
    [result] = run_jobs(ctx, ["alerts"])
    assert result.status == "ok", result.error
    # Only the budget rule's keys: the demo warehouse may trip other rules too.
    return {
        key: [k for k in result.details[key] if k.startswith("cost-budget:")] for key in ("opened", "fired", "resolved")
    }


def _alerts(engine: Engine) -> dict[str, Alert]:
    """The latest alert of each key."""
    with Session(engine) as session:
        rows = session.execute(select(Alert).where(Alert.kind == KIND).order_by(Alert.id)).scalars()
        return {a.key: a for a in rows}


def _published_state(settings: Settings) -> str:
    con = open_analyst_connection(settings.warehouse_path)
    try:
        row = con.execute("SELECT status FROM sync_state WHERE job = 'alerts'").fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


def test_no_budget_raises_no_budget_alert(
    monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine, warehouse: Path
) -> None:
    settings = _settings(monkeypatch, db_url, warehouse, None)
    assert _run(settings, engine) == {"opened": [], "fired": [], "resolved": []}
    assert _alerts(engine) == {}
    assert _published_state(settings) == "ok"


def test_alerts_are_raised_once_per_month_resolved_and_raised_anew(
    monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine, warehouse: Path
) -> None:
    # The demo costs a few dollars a month: $0.50 is crossed by this month and every projected one.
    tight = _settings(monkeypatch, db_url, warehouse, 0.5)
    first = _run(tight, engine)
    assert sorted(first["opened"]) == sorted(first["fired"]) == [budget_key(m) for m in MONTHS]
    alerts = _alerts(engine)
    assert set(alerts) == {budget_key(m) for m in MONTHS}
    current = alerts[budget_key("2026-11")]
    assert current.state == "firing" and "over the $0.50 monthly budget" in current.message
    assert current.context is not None and current.context["as_of"] == "2026-11-25"
    assert current.threshold == 0.5 and current.subject == "2026-11"
    assert _published_state(tight) == "ok"

    # Every run refreshes the same rows: nothing new, nothing duplicated.
    assert _run(tight, engine) == {"opened": [], "fired": [], "resolved": []}
    assert set(_alerts(engine)) == set(alerts)

    # A budget no month reaches resolves them all; crossing again opens new alerts and keeps the resolved ones.
    roomy = _settings(monkeypatch, db_url, warehouse, 1_000_000.0)
    assert sorted(_run(roomy, engine)["resolved"]) == [budget_key(m) for m in MONTHS]
    resolved = _alerts(engine)
    assert all(a.state == "resolved" and a.resolved_at == NOW for a in resolved.values())
    tight = _settings(monkeypatch, db_url, warehouse, 0.5)
    assert len(_run(tight, engine)["opened"]) == 4
    raised_again = _alerts(engine)
    assert set(raised_again) == set(alerts) and all(a.state == "firing" for a in raised_again.values())
    assert all(raised_again[k].id != resolved[k].id for k in alerts)
    with Session(engine) as session:
        states = session.execute(select(Alert.state).where(Alert.kind == KIND)).scalars().all()
    assert sorted(states) == ["firing"] * 4 + ["resolved"] * 4


def test_a_warehouse_without_usage_raises_nothing(
    monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.duckdb"
    with WarehouseWriter(WarehouseLayout(empty)).open():
        pass  # the schema, published, and no Mux data yet
    settings = _settings(monkeypatch, db_url, empty, 0.5)
    assert _run(settings, engine) == {"opened": [], "fired": [], "resolved": []}
    assert _alerts(engine) == {}
    assert _published_state(settings) == "ok"


def test_sync_once_runs_it_after_delivery_usage(
    monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine, warehouse: Path
) -> None:
    assert JOBS.index("alerts") == JOBS.index("delivery_usage") + 1
    settings = _settings(monkeypatch, db_url, warehouse, 0.5)
    env = {
        "DATABASE_URL": db_url,
        "LECTERN_WAREHOUSE_PATH": str(settings.warehouse_path),
        "LECTERN_MONTHLY_BUDGET_USD": "0.5",
        "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "",
    }
    result = CliRunner().invoke(sync_app, ["--once", "--job", "alerts"], env=env)
    assert result.exit_code == 0, result.output
    assert "alerts" in result.output and "ok" in result.output
    # Run on today's date: whatever the demo's dates mean then, the job ran and wrote its state.
    assert _published_state(settings) == "ok"


def test_the_cli_help_names_every_job() -> None:
    from lectern.commands.sync import JOB_HELP
    from sync.runner import JOBS

    assert all(job in JOB_HELP for job in JOBS)


def test_costs_forecast_alert_evaluates_the_same_rule_by_hand(
    monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine, warehouse: Path
) -> None:
    from lectern.cli import app

    settings = _settings(monkeypatch, db_url, warehouse, 0.5)
    env = {"DATABASE_URL": db_url, "LECTERN_WAREHOUSE_PATH": str(settings.warehouse_path)}
    result = CliRunner().invoke(app, ["costs", "forecast", "--alert"], env={**env, "LECTERN_MONTHLY_BUDGET_USD": "0.5"})
    assert result.exit_code == 0, result.output
    # Run on today's date: whichever months the demo's usage puts over $0.50, each is one firing alert.
    assert "alerts opened:" in result.output
    again = CliRunner().invoke(app, ["costs", "forecast", "--alert"], env={**env, "LECTERN_MONTHLY_BUDGET_USD": "0.5"})
    assert "none new (already recorded)" in again.output
    assert all(a.state == "firing" for a in _alerts(engine).values())

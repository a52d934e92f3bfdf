"""The `cost_alerts` sync job: budget alerts from the working warehouse, once per month, without a human.

A real warehouse (the costs demo: 120 days of usage) and the platform database on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

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


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return write_warehouse(tmp_path / "warehouse.duckdb", build_demo(TODAY))


def _settings(monkeypatch: pytest.MonkeyPatch, db_url: str, warehouse: Path, budget: float | None) -> Settings:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LECTERN_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("MUX_TOKEN_ID", "")
    monkeypatch.setenv("MUX_TOKEN_SECRET", "")
    monkeypatch.delenv("LECTERN_PRICE_OVERRIDES", raising=False)
    if budget is None:
        monkeypatch.delenv("LECTERN_MONTHLY_BUDGET_USD", raising=False)
    else:
        monkeypatch.setenv("LECTERN_MONTHLY_BUDGET_USD", str(budget))
    return load_settings()


def _run(settings: Settings, engine: Engine) -> dict[str, object]:
    ctx = SyncContext(
        settings=settings, writer=WarehouseWriter.from_settings(settings), engine=engine, clock=lambda: NOW
    )
    [result] = run_jobs(ctx, ["cost_alerts"])
    assert result.status == "ok", result.error
    return {"rows": result.rows, "new": result.new_rows, **result.details}


def _alerts(engine: Engine) -> dict[str, Alert]:
    """The latest alert of each key."""
    with Session(engine) as session:
        rows = session.execute(select(Alert).where(Alert.kind == KIND).order_by(Alert.id)).scalars()
        return {a.key: a for a in rows}


def _published_state(settings: Settings) -> tuple[str, int]:
    con = open_analyst_connection(settings.warehouse_path)
    try:
        row = con.execute("SELECT status, rows FROM sync_state WHERE job = 'cost_alerts'").fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0]), int(row[1])


def test_no_budget_is_a_recorded_no_op(
    monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine, warehouse: Path
) -> None:
    settings = _settings(monkeypatch, db_url, warehouse, None)
    outcome = _run(settings, engine)
    assert "no budget" in str(outcome["skipped"])
    assert _alerts(engine) == {}
    assert _published_state(settings) == ("ok", 0)


def test_alerts_are_raised_once_per_month_resolved_and_raised_anew(
    monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine, warehouse: Path
) -> None:
    # The demo costs a few dollars a month: $0.50 is crossed by this month and every projected one.
    tight = _settings(monkeypatch, db_url, warehouse, 0.5)
    first = _run(tight, engine)
    months = ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert first["months_over_budget"] == months
    assert first["new"] == 4 and first["alerts_created"] == [budget_key(m) for m in months]
    alerts = _alerts(engine)
    assert set(alerts) == {budget_key(m) for m in months}
    current = alerts[budget_key("2026-11")]
    assert current.resolved_at is None and "over the $0.50 monthly budget" in current.message
    assert current.context is not None and current.context["as_of"] == "2026-11-25"
    assert _published_state(tight) == ("ok", 4)

    # Every run refreshes the same rows: nothing new, nothing duplicated.
    again = _run(tight, engine)
    assert again["new"] == 0 and again["alerts_created"] == []
    assert set(_alerts(engine)) == set(alerts)

    # A budget no month reaches resolves them all; crossing again opens new alerts and keeps the resolved ones.
    roomy = _settings(monkeypatch, db_url, warehouse, 1_000_000.0)
    assert _run(roomy, engine)["months_over_budget"] == []
    resolved = _alerts(engine)
    assert all(a.resolved_at is not None for a in resolved.values())
    tight = _settings(monkeypatch, db_url, warehouse, 0.5)
    assert _run(tight, engine)["new"] == 4
    raised_again = _alerts(engine)
    assert set(raised_again) == set(alerts) and all(a.resolved_at is None for a in raised_again.values())
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
    outcome = _run(settings, engine)
    assert outcome["months_over_budget"] == [] and _alerts(engine) == {}
    assert _published_state(settings) == ("ok", 0)


def test_sync_once_runs_it_after_delivery_usage(
    monkeypatch: pytest.MonkeyPatch, db_url: str, engine: Engine, warehouse: Path
) -> None:
    assert JOBS.index("cost_alerts") == JOBS.index("delivery_usage") + 1
    settings = _settings(monkeypatch, db_url, warehouse, 0.5)
    env = {
        "DATABASE_URL": db_url,
        "LECTERN_WAREHOUSE_PATH": str(settings.warehouse_path),
        "LECTERN_MONTHLY_BUDGET_USD": "0.5",
        "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "",
    }
    result = CliRunner().invoke(sync_app, ["--once", "--job", "cost_alerts"], env=env)
    assert result.exit_code == 0, result.output
    assert "cost_alerts" in result.output and "ok" in result.output
    # Run on today's date: whatever the demo's dates mean then, the job ran and wrote its state.
    assert _published_state(settings)[0] == "ok"


def test_the_cli_help_names_every_job() -> None:
    from lectern.commands.sync import JOB_HELP
    from sync.runner import JOBS

    assert all(job in JOB_HELP for job in JOBS)

"""`lectern costs report|prices` against a published warehouse."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from lectern.cli import app as lectern_app
from tests.costs.demo import build_demo, write_warehouse

runner = CliRunner()


def invoke(args: list[str]) -> Result:
    return runner.invoke(lectern_app, ["costs", *args])


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = write_warehouse(tmp_path / "warehouse.duckdb", build_demo(datetime.now(UTC).date()))
    monkeypatch.setenv("LECTERN_WAREHOUSE_PATH", str(path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'platform.db'}")
    monkeypatch.delenv("LECTERN_PRICE_OVERRIDES", raising=False)
    return path


def test_report_formats_agree(env: Path) -> None:
    today = datetime.now(UTC).date()
    args = ["report", "--from", (today - timedelta(days=30)).isoformat(), "--to", today.isoformat()]
    as_json = invoke([*args, "--group-by", "teacher", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    as_csv = invoke([*args, "--group-by", "teacher", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert sum(Decimal(r["net_usd"]) for r in rows) == Decimal(body["totals"]["net_usd"])
    table = invoke([*args, "--group-by", "month"])
    assert table.exit_code == 0 and "total $" in table.output


def test_bad_group_and_prices(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = invoke(["report", "--group-by", "planet"])
    assert bad.exit_code == 65 and "group_by" in bad.output  # invalid
    monkeypatch.setenv("LECTERN_PRICE_OVERRIDES", '{"delivery.plus.1080p": 0.0007}')
    prices = invoke(["prices"])
    assert prices.exit_code == 0 and "override" in prices.output and "0.0007" in prices.output
    monkeypatch.setenv("LECTERN_PRICE_OVERRIDES", '{"delivery.plus.108": 1}')
    wrong = invoke(["prices"])
    assert wrong.exit_code == 78 and "unknown price key" in wrong.output  # misconfigured: a setting names it

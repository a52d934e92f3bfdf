"""`lectern sync` and `lectern warehouse` commands, through typer's runner with real settings from env."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from core.db.engine import make_engine
from core.db.migrate import upgrade
from core.settings import load_settings
from lectern.cli import app as lectern_app
from lectern.commands.sync import app as sync_app
from lectern.commands.warehouse import app as warehouse_app
from lectern.sample_data import SamplePlatform
from lectern.seed import write_platform
from warehouse.schema import TABLES, VIEWS
from warehouse.store import WarehouseWriter

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, sample_platform: SamplePlatform) -> dict[str, str]:
    db_url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    write_platform(engine, sample_platform)
    engine.dispose()
    return {
        "DATABASE_URL": db_url,
        "LECTERN_WAREHOUSE_PATH": str(tmp_path / "var" / "warehouse.duckdb"),
        "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "",
        "LECTERN_PSEUDONYM_KEY": "sync-cli-test-pseudonym-key-0123456789",
    }


def test_once_in_both_spellings_then_status(env: dict[str, str]) -> None:
    result = runner.invoke(sync_app, ["--once", "--job", "platform"], env=env)
    assert result.exit_code == 0, result.output
    assert "platform" in result.output and "ok" in result.output
    result = runner.invoke(sync_app, ["once", "-j", "platform"], env=env)
    assert result.exit_code == 0, result.output
    status = runner.invoke(sync_app, ["status"], env=env)
    assert status.exit_code == 0 and "platform" in status.output


def test_failing_job_exits_1_and_unknown_job_is_invalid(env: dict[str, str]) -> None:
    result = runner.invoke(sync_app, ["--once", "--job", "views"], env=env)
    assert result.exit_code == 1
    assert "MUX_TOKEN_ID" in result.output
    unknown = runner.invoke(lectern_app, ["sync", "once", "--job", "nope"], env=env)
    assert unknown.exit_code == 65 and unknown.stderr.startswith("error: unknown job 'nope'; choose from platform")
    assert runner.invoke(sync_app, [], env=env).exit_code == 2


def test_status_before_anything_was_published(env: dict[str, str]) -> None:
    result = runner.invoke(lectern_app, ["sync", "status"], env=env)
    assert result.exit_code == 69 and "lectern sync --once" in result.output  # unavailable


def test_export_reads_the_published_snapshot_while_a_sync_holds_the_writer(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(sync_app, ["--once", "--job", "platform"], env=env).exit_code == 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "export"
    with WarehouseWriter.from_settings(load_settings()).open(publish=False):
        result = runner.invoke(warehouse_app, ["export", "--format", "parquet", str(out)], env=env)
        assert result.exit_code == 0, result.output
        csv = runner.invoke(warehouse_app, ["export", "-f", "csv", str(tmp_path / "csv")], env=env)
        assert csv.exit_code == 0, csv.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.parquet" for n in (*TABLES, *VIEWS))
    assert pq.read_table(out / "users.parquet").num_rows > 0
    assert "password_hash" not in pq.read_table(out / "users.parquet").column_names
    assert (tmp_path / "csv" / "lessons.csv").read_text().startswith("id,course_id,position")
    xml = runner.invoke(lectern_app, ["warehouse", "export", "--format", "xml", str(out)], env=env)
    assert xml.exit_code == 65 and xml.stderr == "error: --format must be one of parquet, csv\n"  # invalid
    info = runner.invoke(warehouse_app, ["info"], env=env)
    assert info.exit_code == 0 and "mux_views" in info.output


def test_both_spellings_work_when_mounted_under_lectern(env: dict[str, str]) -> None:
    # lectern/cli.py mounts `app` with add_typer(name="sync"); the callback option must survive that.
    import typer

    root = typer.Typer()
    root.add_typer(sync_app, name="sync")
    root.add_typer(warehouse_app, name="warehouse")
    assert runner.invoke(root, ["sync", "--once", "--job", "platform"], env=env).exit_code == 0
    assert runner.invoke(root, ["sync", "once", "--job", "platform"], env=env).exit_code == 0
    assert runner.invoke(root, ["warehouse", "info"], env=env).exit_code == 0

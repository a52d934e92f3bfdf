"""`lectern assets orphans` and `lectern assets delete`: the operator's view and action, end to end on SQLite.

The service under them is tested on both databases (tests/core/test_orphans.py); here the command line: the
table and its total, JSON, the confirmation, the audit actor, and errors as exit codes by kind.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from core.db.engine import make_engine, make_session_factory
from core.db.models import OperatorAction
from emulator.testing import EmulatorServer
from lectern.cli import app
from tests.assets_world import NOW, ORPHANS, World, aid, build_world, emulator_with, on_mux, settings_for, sync
from tests.conftest import migrated_database

runner = CliRunner()
Cli = Callable[..., str]


@pytest.fixture
def env(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, EmulatorServer, str]]:
    db_url = migrated_database("sqlite", tmp_path_factory)
    engine = make_engine(db_url)
    world = build_world(make_session_factory(engine))
    engine.dispose()
    with emulator_with(tmp_path, world.assets) as emu:
        sync(settings_for(db_url, emu, tmp_path / "var" / "warehouse.duckdb"), NOW, ("assets",))
        yield world, emu, db_url


@pytest.fixture
def cli(env: tuple[World, EmulatorServer, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    _, emu, db_url = env
    for name, value in {
        "DATABASE_URL": db_url,
        "LECTERN_WAREHOUSE_PATH": str(tmp_path / "var" / "warehouse.duckdb"),
        "MUX_API_URL": emu.url,
        "MUX_TOKEN_ID": emu.token_id,
        "MUX_TOKEN_SECRET": emu.token_secret,
        "COLUMNS": "400",  # table cells unwrapped
    }.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str, code: int = 0, stdin: str | None = None, raw: bool = False) -> str:
        result = runner.invoke(app, ["assets", *args], input=stdin)
        assert result.exit_code == code, (result.output, result.exception)
        return result.output if raw else " ".join(result.output.split())

    return invoke


def audit(db_url: str) -> list[tuple[str, str, str]]:
    engine = make_engine(db_url)
    factory: sessionmaker[Session] = make_session_factory(engine)
    with factory() as s:
        rows = s.execute(
            select(OperatorAction.actor, OperatorAction.target, OperatorAction.outcome).order_by(OperatorAction.id)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_orphans_lists_why_lesson_since_duration_and_cost_with_a_total(
    cli: Cli, env: tuple[World, EmulatorServer, str]
) -> None:
    world, _, _ = env
    out = cli("orphans")
    assert all(aid(name) in out for name in ORPHANS) and aid("rep_new") not in out
    assert f"replaced upload of lesson {world.lessons['replaced']}" in out
    assert "unknown passthrough '99999'" in out and "no passthrough" in out
    assert "10:00" in out and "20:00" in out  # durations
    assert "9 orphaned assets, $0.11 a month of storage" in out  # $0.1128 in all
    assert "LECTERN_DELETE_REPLACED_ASSETS_AFTER_DAYS" in out

    body = json.loads(cli("orphans", "--format", "json", raw=True))
    assert body["total_monthly_micros"] == 112_800 and len(body["orphans"]) == len(ORPHANS)
    first = body["orphans"][0]
    assert (first["asset_id"], first["why"], first["monthly_micros"]) == (aid("nopass"), "no passthrough", 24_000)
    assert "format" in cli("orphans", "--format", "xml", code=65)  # invalid


def test_delete_asks_first_then_deletes_and_audits_as_the_os_user(
    cli: Cli, env: tuple[World, EmulatorServer, str]
) -> None:
    world, emu, db_url = env
    old = aid("rep_old")
    out = cli("delete", old, stdin="n\n", code=1)
    assert f"replaced upload of lesson {world.lessons['replaced']}, $0.01 a month" in out and "Aborted" in out
    assert on_mux(emu, old) and audit(db_url) == []

    assert f"deleted Mux asset {old}" in cli("delete", old, stdin="y\n")
    assert not on_mux(emu, old)
    assert "already gone" in cli("delete", old, "--yes")
    actor = f"cli:{getpass.getuser()}"
    assert audit(db_url) == [(actor, f"asset:{old}", "deleted"), (actor, f"asset:{old}", "already_gone")]
    assert aid("rep_old") not in cli("orphans")  # gone from the list before the next sync


def test_delete_refuses_an_asset_in_use_and_an_unknown_id_by_exit_code(
    cli: Cli, env: tuple[World, EmulatorServer, str]
) -> None:
    _, emu, _ = env
    out = cli("delete", aid("rep_new"), "--yes", code=73)  # conflict
    assert out.startswith("error:") and "plays it" in out and on_mux(emu, aid("rep_new"))
    assert "never saw it" in cli("delete", "assetNoSuchThingzzzzzzzzzzzz", "--yes", code=66)  # not found

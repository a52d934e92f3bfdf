"""`lectern migrate ...` end to end: plan, start --run, status, pause/resume, cancel, retry, cleanup, rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lectern.cli import app
from tests.migration.helpers import MigrationEnv, settings_env

runner = CliRunner()


@pytest.fixture
def env(sqlite_env: MigrationEnv) -> MigrationEnv:
    """The CLI is a thin layer over MigrationService (tested on both databases): SQLite is enough here."""
    return sqlite_env


@pytest.fixture
def cli(env: MigrationEnv, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name, value in settings_env(env.settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "400")  # table cells (errors) unwrapped

    def invoke(*args: str, code: int = 0, stdin: str | None = None, raw: bool = False) -> str:
        result = runner.invoke(app, ["migrate", *args], input=stdin)
        assert result.exit_code == code, (result.output, result.exception)
        # rich wraps lines at the terminal width; compare words, not layout.
        return result.output if raw else " ".join(result.output.split())

    return invoke


def test_the_whole_migration_from_the_command_line(cli, env: MigrationEnv, clips: list[Path], corrupt: Path) -> None:  # type: ignore[no-untyped-def]
    good = [env.add_lesson(c) for c in clips[:2]]
    bad = env.add_lesson(corrupt)

    out = cli("plan", "--probe")
    assert "3 of 3 lessons can move" in out and "cost: encoding" in out
    rows = json.loads(cli("plan", "--format", "json", raw=True))
    assert sorted(r["lesson_id"] for r in rows) == sorted([*good, bad])

    cli("pause", "--reason", "not yet")
    assert "PAUSED: not yet" in cli("status")
    cli("resume")
    out = cli("start", "--run", "--probe")
    assert "queued 3 new" in out and "2 done, 1 failed" in out
    assert "0 bytes read from S3 by Lectern" in out
    out = cli("status")
    assert "done 2" in out and "failed 1" in out and "Failed jobs" in out and "Mux could not process" in out

    assert "queued 1 jobs again" in cli("retry", "--lesson", str(bad))
    assert "cancelled 1 jobs" in cli("cancel", "--all")
    assert "say which" in cli("cancel", code=65)  # invalid

    out = cli("cleanup", "--dry-run")
    assert out.count("would delete") == 2
    assert "Aborted" in cli("cleanup", stdin="n\n", code=1)
    assert env.lesson(good[0]).video_url is not None
    out = cli("cleanup", "--lesson", str(good[0]), "--yes")
    assert "deleted s3://" in out
    out = cli("rollback", "--lesson", str(good[0]), code=1)
    assert "deleted by cleanup" in out
    out = cli("rollback", "--lesson", str(good[1]))
    assert "plays from S3 again" in out and env.lesson(good[1]).video_provider == "s3"


def test_a_bad_setting_is_named(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LECTERN_MIGRATION_STALE_AFTER_S", "0.01")
    assert "LECTERN_MIGRATION_STALE_AFTER_S" in cli("status", code=78)  # misconfigured

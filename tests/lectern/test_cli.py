"""The CLI: a real subprocess where the process is the point (exit code, what reaches stderr), typer's
CliRunner in-process for the rest (each subprocess imports Lectern again, which costs seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from lectern.cli import app

LECTERN = [sys.executable, "-m", "lectern"]
runner = CliRunner()


def _clean_environ() -> dict[str, str]:
    """The environment without Lectern's settings, so only what a test passes is configured."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MUX_", "LECTERN_", "S3_", "AWS_"))}
    clean.pop("DATABASE_URL", None)
    return clean


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LECTERN, *args], cwd=tmp_path, env={**_clean_environ(), **env}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def clean_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """In-process runs: no settings from the environment and no .env from the checkout."""
    for name in set(os.environ) - set(_clean_environ()):
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_malformed_database_url_stops_with_one_line(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path, DATABASE_URL="nonsense")
    assert result.returncode == 78  # misconfigured
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0]


def test_config_check_masks_secrets(clean_cwd: Path) -> None:
    env = {
        "MUX_TOKEN_SECRET": "tok-secret-123",
        "LECTERN_PLATFORM_JWT_SECRET": "jwt-456-a-long-enough-platform-secret",
        "MUX_WEBHOOK_SECRET": "whsec-789-a-long-enough-secret",
        "LECTERN_PSEUDONYM_KEY": "pseudo-012-a-long-enough-secret",
        "COLUMNS": "200",
    }
    result = runner.invoke(app, ["config", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert "MUX_TOKEN_SECRET" in result.stdout and "pseudo-012" not in result.stdout
    assert "tok-secret-123" not in result.stdout and "jwt-456" not in result.stdout and "whsec-789" not in result.stdout


def test_upgrade_seed_downgrade_round_trip(clean_cwd: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{clean_cwd / 'p.db'}", "COLUMNS": "200"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    seeded = runner.invoke(app, ["seed", "--students", "50", "--no-media"], env=env)
    assert seeded.exit_code == 0, seeded.output
    assert "admin@lectern.test" in seeded.stdout
    again = runner.invoke(app, ["seed", "--no-media"], env=env)
    assert again.exit_code == 73  # conflict
    assert again.stderr.splitlines() == ["error: the platform database already has users; use `lectern seed --reset`"]
    assert runner.invoke(app, ["seed", "--no-media", "--if-empty"], env=env).exit_code == 0
    down = runner.invoke(app, ["db", "downgrade", "--revision", "0001"], env=env)
    assert down.exit_code == 0 and "0001" in down.stdout


def _command_paths() -> list[list[str]]:
    """Every command and group of `lectern`, as the words a user types (subcommands are loaded on demand)."""
    root = get_command(app)
    paths: list[list[str]] = []

    def walk(group: object, prefix: list[str]) -> None:
        ctx = root.make_context("lectern", [], resilient_parsing=True)
        for name in group.list_commands(ctx):  # type: ignore[attr-defined]
            command = group.get_command(ctx, name)  # type: ignore[attr-defined]
            paths.append([*prefix, name])
            if hasattr(command, "list_commands"):
                walk(command, [*prefix, name])

    walk(root, [])
    return paths


def test_every_command_has_help(clean_cwd: Path) -> None:
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert top.exit_code == 0 and "Usage" in top.stdout
    paths = _command_paths()
    assert {"config", "db", "seed", "emulator", "costs", "sync", "migrate", "upload"} <= {p[0] for p in paths}
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0 and "Usage" in result.stdout, (path, result.output)

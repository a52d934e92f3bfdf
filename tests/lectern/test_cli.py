"""The CLI as a user runs it: a real subprocess with a real environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LECTERN = [sys.executable, "-m", "lectern"]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MUX_", "LECTERN_", "S3_", "AWS_"))}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [*LECTERN, *args], cwd=tmp_path, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_malformed_database_url_stops_with_one_line(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path, DATABASE_URL="nonsense")
    assert result.returncode == 78  # misconfigured
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0]


def test_config_check_masks_secrets(tmp_path: Path) -> None:
    result = run(
        ["config", "check"],
        tmp_path,
        MUX_TOKEN_SECRET="tok-secret-123",
        LECTERN_PLATFORM_JWT_SECRET="jwt-456-a-long-enough-platform-secret",
        MUX_WEBHOOK_SECRET="whsec-789-a-long-enough-secret",
        LECTERN_PSEUDONYM_KEY="pseudo-012-a-long-enough-secret",
        COLUMNS="200",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MUX_TOKEN_SECRET" in result.stdout and "pseudo-012" not in result.stdout
    assert "tok-secret-123" not in result.stdout and "jwt-456" not in result.stdout and "whsec-789" not in result.stdout


def test_upgrade_seed_downgrade_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert run(["db", "upgrade"], tmp_path, DATABASE_URL=url).returncode == 0
    seeded = run(["seed", "--students", "50", "--no-media"], tmp_path, DATABASE_URL=url, COLUMNS="200")
    assert seeded.returncode == 0, seeded.stderr
    assert "admin@lectern.test" in seeded.stdout
    again = run(["seed", "--no-media"], tmp_path, DATABASE_URL=url)
    assert again.returncode == 73  # conflict
    assert again.stderr.splitlines() == ["error: the platform database already has users; use `lectern seed --reset`"]
    assert run(["seed", "--no-media", "--if-empty"], tmp_path, DATABASE_URL=url).returncode == 0
    down = run(["db", "downgrade", "--revision", "0001"], tmp_path, DATABASE_URL=url)
    assert down.returncode == 0 and "0001" in down.stdout


def test_every_command_has_help(tmp_path: Path) -> None:
    top = run(["--help"], tmp_path)
    assert top.returncode == 0
    for command in (["config", "check"], ["db", "upgrade"], ["db", "downgrade"], ["seed"]):
        result = run([*command, "--help"], tmp_path)
        assert result.returncode == 0 and "Usage" in result.stdout, command

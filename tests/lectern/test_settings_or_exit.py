"""lectern/commands/_settings.py: every command loads settings one way, so a bad setting reads the same everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lectern.cli import app

ROOT = Path(__file__).resolve().parents[2]

COMMANDS = [
    ["config", "check"],
    ["token", "--user", "1"],
    ["mux", "signing-key", "create"],
    ["sync", "status"],
    ["warehouse", "info"],
    ["costs", "prices"],
    ["migrate", "plan"],
    ["emulator", "simulate"],
    ["upload", "1", "video.mp4"],
    ["dashboard"],
    ["api"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_bad_setting_is_one_line_and_exit_code_78(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    (tmp_path / "video.mp4").write_bytes(b"\0")
    monkeypatch.setenv("LECTERN_TRUSTED_PROXIES", "not-an-address")
    monkeypatch.setenv("COLUMNS", "400")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 78, (result.stdout, result.stderr, result.exception)  # misconfigured
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "LECTERN_TRUSTED_PROXIES" in lines[0] and not result.stdout


def test_only_the_helper_loads_settings() -> None:
    callers = []
    for path in sorted((ROOT / "lectern").rglob("*.py")):
        if path.name == "_settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name | ast.Attribute) and "load_settings" in (
                getattr(node, "id", None),
                getattr(node, "attr", None),
            ):
                callers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not callers, "use lectern.commands._settings.settings_or_exit: " + ", ".join(callers)

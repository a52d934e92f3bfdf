"""`lectern emulator` option and environment handling (the server itself is stubbed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from emulator.config import EmulatorConfig
from lectern.commands import emulator as command


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[EmulatorConfig]:
    seen: list[EmulatorConfig] = []
    monkeypatch.setattr(command, "serve", seen.append)
    return seen


def test_options(served: list[EmulatorConfig], tmp_path: Path) -> None:
    state = tmp_path / "emu.json"
    args = ["--port", "9001", "--token-id", "id", "--token-secret", "sekrit", "--webhook-url", "http://a/h"]
    args += ["--webhook-url", "http://b/h", "--processing-delay", "2.5", "--state", str(state)]
    result = CliRunner().invoke(command.app, args)
    assert result.exit_code == 0, result.output
    (config,) = served
    assert (config.port, config.token_id, config.token_secret) == (9001, "id", "sekrit")
    assert config.webhook_urls == ["http://a/h", "http://b/h"]
    assert config.processing_delay == 2.5 and config.state_file == state
    assert config.data_dir == tmp_path / "emu-media"
    assert "sekrit" not in result.output


def test_environment(served: list[EmulatorConfig], tmp_path: Path) -> None:
    env = {
        "MUX_TOKEN_ID": "env-id",
        "MUX_TOKEN_SECRET": "env-secret",
        "MUX_WEBHOOK_SECRET": "env-whsec",
        "LECTERN_EMULATOR_WEBHOOK_URLS": "http://a/h,http://b/h",
        "LECTERN_EMULATOR_PROCESSING_DELAY": "1.5",
        "LECTERN_EMULATOR_STATE": str(tmp_path / "s.json"),
    }
    result = CliRunner().invoke(command.app, [], env=env)
    assert result.exit_code == 0, result.output
    (config,) = served
    assert (config.token_id, config.token_secret, config.webhook_secret) == ("env-id", "env-secret", "env-whsec")
    assert config.webhook_urls == ["http://a/h", "http://b/h"]
    assert config.processing_delay == 1.5 and config.state_file == tmp_path / "s.json"


def test_max_page_limit_option(served: list[EmulatorConfig]) -> None:
    assert CliRunner().invoke(command.app, []).exit_code == 0
    assert served[-1].max_page_limit == 100  # the default: the most any list answers with
    result = CliRunner().invoke(command.app, ["--max-page-limit", "7"])
    assert result.exit_code == 0, result.output
    assert served[-1].max_page_limit == 7
    result = CliRunner().invoke(command.app, [], env={"LECTERN_EMULATOR_MAX_PAGE_LIMIT": "9"})
    assert result.exit_code == 0 and served[-1].max_page_limit == 9
    assert CliRunner().invoke(command.app, ["--max-page-limit", "101"]).exit_code != 0
    assert CliRunner().invoke(command.app, ["--max-page-limit", "0"]).exit_code != 0

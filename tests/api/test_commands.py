"""`lectern token`, `lectern mux signing-key create` and `lectern api --help` through the real CLI."""

from __future__ import annotations

import base64

import pytest
from typer.testing import CliRunner

from core.auth import decode_token
from core.db.engine import make_engine, make_session_factory, transaction
from emulator.testing import EmulatorServer
from lectern.cli import app
from tests.api.conftest import JWT_SECRET
from tests.factories import make_user

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env
    return {"DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "LECTERN_PLATFORM_JWT_SECRET": JWT_SECRET}


def test_token_prints_a_valid_token_on_its_last_line(db_url: str, env: dict[str, str]) -> None:
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as s:
        user_id = make_user(s, "teacher").id
    engine.dispose()
    result = runner.invoke(app, ["token", "--user", str(user_id)], env=env | {"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert decode_token(JWT_SECRET, token) == user_id
    missing = runner.invoke(app, ["token", "--user", "999999"], env=env | {"DATABASE_URL": db_url})
    assert missing.exit_code == 1


def test_signing_key_create_prints_both_settings(fresh_emu: EmulatorServer, env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        ["mux", "signing-key", "create"],
        env=env
        | {
            "MUX_API_URL": fresh_emu.url,
            "MUX_TOKEN_ID": fresh_emu.token_id,
            "MUX_TOKEN_SECRET": fresh_emu.token_secret,
        },
    )
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.output.splitlines() if not line.startswith("#"))
    assert fresh_emu.stats()["signing_keys"] == 1
    assert base64.b64decode(lines["MUX_SIGNING_PRIVATE_KEY"]).startswith(b"-----BEGIN")
    assert lines["MUX_SIGNING_KEY_ID"]


def test_signing_key_create_without_credentials_says_what_to_set(env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["mux", "signing-key", "create"], env=env | {"MUX_TOKEN_ID": "", "MUX_TOKEN_SECRET": ""}
    )
    assert result.exit_code == 2
    assert "MUX_TOKEN_ID" in result.output


def test_api_command_is_mounted() -> None:
    result = runner.invoke(app, ["api", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--workers" in result.output

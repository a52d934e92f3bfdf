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
    assert missing.exit_code == 66  # not found
    assert missing.stderr == "error: no user with id 999999\n"


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
    assert result.exit_code == 78  # misconfigured
    assert "MUX_TOKEN_ID" in result.output


def test_api_command_is_mounted() -> None:
    result = runner.invoke(app, ["api", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--workers" in result.output


def test_api_refuses_to_start_with_the_published_default_secret(env: dict[str, str]) -> None:
    published = "dev-only-secret-change-me-in-production-0001"
    result = runner.invoke(app, ["api", "--port", "1"], env=env | {"LECTERN_PLATFORM_JWT_SECRET": published})
    assert result.exit_code == 78  # misconfigured
    assert "LECTERN_PLATFORM_JWT_SECRET is Lectern's published default" in result.output
    assert "(the API will not start)" in result.output
    assert published not in result.output
    unset = runner.invoke(app, ["api", "--port", "1"], env=env | {"LECTERN_PLATFORM_JWT_SECRET": ""})
    assert unset.exit_code == 78 and "LECTERN_PLATFORM_JWT_SECRET is not set" in unset.output
    token = runner.invoke(app, ["token", "--user", "1"], env=env | {"LECTERN_PLATFORM_JWT_SECRET": "short"})
    assert token.exit_code == 78 and "shorter than 32 bytes" in token.output


def test_config_check_flags_published_and_weak_secrets(env: dict[str, str]) -> None:
    weak = env | {
        "LECTERN_PLATFORM_JWT_SECRET": "dev-only-secret-change-me-in-production-0001",
        "MUX_WEBHOOK_SECRET": "abc",
        "COLUMNS": "250",
    }
    result = runner.invoke(app, ["config", "check"], env=weak)
    assert result.exit_code == 1
    assert "LECTERN_PLATFORM_JWT_SECRET is Lectern's published default" in result.output
    assert "MUX_WEBHOOK_SECRET is weak" in result.output
    assert "LECTERN_PSEUDONYM_KEY is not set" in result.output
    strong = env | {"MUX_WEBHOOK_SECRET": "w" * 32, "LECTERN_PSEUDONYM_KEY": "p" * 32, "COLUMNS": "250"}
    ok = runner.invoke(app, ["config", "check"], env=strong)
    assert ok.exit_code == 0 and "problem" not in ok.output

from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    for name in Settings.model_fields.values():
        if name.alias:
            monkeypatch.delenv(name.alias, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_embedded_files_under_var() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///var/lectern.db"
    assert str(s.warehouse_path) == "var/warehouse.duckdb"
    assert s.is_sqlite
    assert str(s.mux_stream_base_url).rstrip("/") == "https://stream.mux.com"
    assert not s.mux_configured


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("MUX_TOKEN_ID=from-dotenv\nS3_BUCKET=dotenv-bucket\n")
    monkeypatch.setenv("S3_BUCKET", "env-bucket")
    s = load_settings()
    assert s.mux_token_id == "from-dotenv"
    assert s.s3_bucket == "env-bucket"  # the environment wins over .env


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("MUX_API_URL", "not a url"),
        ("LECTERN_PLAYBACK_TOKEN_TTL_S", "soon"),
        ("LECTERN_UPLOAD_TIMEOUT_S", "10"),
    ],
)
def test_malformed_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert variable in message
    assert "\n" not in message


def test_masked_hides_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUX_TOKEN_SECRET", "super-secret-token")
    monkeypatch.setenv("MUX_WEBHOOK_SECRET", "whsec-abc")
    monkeypatch.setenv("LECTERN_PLATFORM_JWT_SECRET", "jwt-secret-xyz")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pg-password@db.internal/lectern")
    shown = load_settings().masked()
    text = "\n".join(f"{k}={v}" for k, v in shown.items())
    for secret in ("super-secret-token", "whsec-abc", "jwt-secret-xyz", "pg-password"):
        assert secret not in text
    assert shown["MUX_TOKEN_SECRET"] == "********"
    assert shown["MUX_SIGNING_PRIVATE_KEY"] == "(unset)"
    assert "db.internal" in shown["DATABASE_URL"]

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


PUBLISHED_DEFAULT = "dev-only-secret-change-me-in-production-0001"  # shipped in core/settings.py until issue 15


def test_there_is_no_default_jwt_secret_and_the_api_refuses_to_run_without_one() -> None:
    settings = load_settings()
    assert settings.platform_jwt_secret.get_secret_value() == ""
    with pytest.raises(SettingsError, match="LECTERN_PLATFORM_JWT_SECRET is not set"):
        settings.require_api_secrets()


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (PUBLISHED_DEFAULT, "published default"),  # 44 bytes: a length rule alone would pass it
        ("x" * 31, "shorter than 32 bytes"),
        ("é" * 15, "shorter than 32 bytes"),  # 30 bytes, 15 characters: bytes are what is counted
    ],
)
def test_published_or_short_jwt_secrets_are_refused(monkeypatch: pytest.MonkeyPatch, secret: str, problem: str) -> None:
    monkeypatch.setenv("LECTERN_PLATFORM_JWT_SECRET", secret)
    with pytest.raises(SettingsError, match=problem) as info:
        load_settings().require_api_secrets()
    assert "LECTERN_PLATFORM_JWT_SECRET" in str(info.value) and secret not in str(info.value)
    # The development flag accepts them (a developer's own machine), but never a missing secret.
    monkeypatch.setenv("LECTERN_DEV_MODE", "true")
    load_settings().require_api_secrets()
    monkeypatch.setenv("LECTERN_PLATFORM_JWT_SECRET", "")
    with pytest.raises(SettingsError, match="not set"):
        load_settings().require_api_secrets()


def test_a_32_byte_secret_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LECTERN_PLATFORM_JWT_SECRET", "k" * 32)
    load_settings().require_api_secrets()


def test_secret_problems_cover_the_jwt_webhook_and_pseudonym_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = load_settings().secret_problems()
    names = ["LECTERN_PLATFORM_JWT_SECRET", "MUX_WEBHOOK_SECRET", "LECTERN_PSEUDONYM_KEY"]
    assert [p.split(" ")[0] for p in problems] == names
    monkeypatch.setenv("LECTERN_PSEUDONYM_KEY", "short")
    assert "LECTERN_PSEUDONYM_KEY is weak" in load_settings().secret_problems()[-1]
    monkeypatch.setenv("LECTERN_PSEUDONYM_KEY", "k" * 32)
    monkeypatch.setenv("LECTERN_PLATFORM_JWT_SECRET", PUBLISHED_DEFAULT)
    monkeypatch.setenv("MUX_WEBHOOK_SECRET", "short")
    problems = load_settings().secret_problems()
    assert "published default" in problems[0] and "MUX_WEBHOOK_SECRET is weak" in problems[1]
    monkeypatch.setenv("LECTERN_PLATFORM_JWT_SECRET", "p" * 40)
    monkeypatch.setenv("MUX_WEBHOOK_SECRET", "w" * 32)
    assert load_settings().secret_problems() == []


def test_hardening_defaults_and_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.api_max_body_bytes, s.api_max_header_bytes, s.api_max_headers) == (65536, 16384, 100)
    assert (s.api_docs, s.api_hsts, s.dev_mode) == (False, False, False)
    assert (s.metrics_allow, s.api_cors_origins, s.api_frame_ancestors) == ([], [], [])
    monkeypatch.setenv("LECTERN_METRICS_ALLOW", "10.0.0.0/8, 127.0.0.1")
    monkeypatch.setenv("LECTERN_API_CORS_ORIGINS", "https://courses.example/,https://b.example:8443")
    s = load_settings()
    assert [str(n) for n in s.metrics_allow] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert s.api_cors_origins == ["https://courses.example", "https://b.example:8443"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LECTERN_METRICS_ALLOW", "10.0.0.0/33"),
        ("LECTERN_API_CORS_ORIGINS", "courses.example"),
        ("LECTERN_API_FRAME_ANCESTORS", "https://courses.example/player"),
        ("LECTERN_API_MAX_BODY_BYTES", "10"),
    ],
)
def test_malformed_hardening_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()

"""LECTERN_CORS_ORIGIN: the origins browsers open the dashboard at (the demo: localhost and 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LECTERN_CORS_ORIGIN", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_both_names_of_this_machine_by_default() -> None:
    assert load_settings().cors_origins == ["http://localhost:8501", "http://127.0.0.1:8501"]


def test_a_comma_separated_list_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LECTERN_CORS_ORIGIN", " https://courses.example/ ,http://localhost:8501,")
    settings = load_settings()
    assert settings.cors_origins == ["https://courses.example", "http://localhost:8501"]
    assert settings.cors_origin == "https://courses.example,http://localhost:8501"
    monkeypatch.setenv("LECTERN_CORS_ORIGIN", "https://one.example")
    assert load_settings().cors_origins == ["https://one.example"]


@pytest.mark.parametrize("value", ["courses.example", "https://courses.example/dashboard", " , "])
def test_anything_but_origins_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LECTERN_CORS_ORIGIN", value)
    with pytest.raises(SettingsError, match="LECTERN_CORS_ORIGIN"):
        load_settings()

"""The one way every command loads settings, so a bad setting reads the same everywhere."""

from __future__ import annotations

from core.settings import Settings, load_settings


def settings_or_exit() -> Settings:
    """Settings, or a SettingsError naming the bad variable in one line (never a secret, never pydantic's dump).

    `lectern/cli.py` prints it as `error: ...` and exits 78 (kind misconfigured).
    """
    return load_settings()

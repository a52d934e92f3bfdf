"""The one way every command loads settings: a bad or missing variable is one line on stderr and exit code 2."""

from __future__ import annotations

import typer
from rich.console import Console

from core.settings import Settings, SettingsError, load_settings

_err = Console(stderr=True)


def settings_or_exit() -> Settings:
    """Settings, or one line naming the bad variable and exit code 2 (never a traceback, never a secret)."""
    try:
        return load_settings()
    except SettingsError as exc:
        _err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None

"""`lectern dashboard`: the Streamlit app (reads settings from the environment like every process)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import typer

from core.client_address import Network
from lectern.commands._settings import settings_or_exit

ROOT = Path(__file__).resolve().parents[2]


def dashboard_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboard" / "app.py"),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]


def dashboard_env(base: dict[str, str], trusted_proxies: Sequence[Network]) -> dict[str, str]:
    """The environment for the Streamlit process: uvicorn (Streamlit's server) believes X-Forwarded-For only
    from LECTERN_TRUSTED_PROXIES, like the dashboard itself (its default trusts any local process)."""
    return {**base, "FORWARDED_ALLOW_IPS": ",".join(map(str, trusted_proxies))}


def command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8501, help="Port to listen on."),
) -> None:
    """Run the Streamlit dashboard."""
    trusted_proxies = settings_or_exit().trusted_proxies
    # Streamlit finds .streamlit/config.toml in the working directory: run from the project root.
    raise typer.Exit(
        subprocess.call(dashboard_argv(host, port), cwd=ROOT, env=dashboard_env(os.environ.copy(), trusted_proxies))
    )

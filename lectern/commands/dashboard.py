"""`lectern dashboard`: the Streamlit app (reads settings from the environment like every process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

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


def command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8501, help="Port to listen on."),
) -> None:
    """Run the Streamlit dashboard."""
    # Streamlit finds .streamlit/config.toml in the working directory: run from the project root.
    raise typer.Exit(subprocess.call(dashboard_argv(host, port), cwd=ROOT, env=os.environ.copy()))

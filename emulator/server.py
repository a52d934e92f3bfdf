"""Run the emulator under uvicorn (used by `lectern emulator`)."""

from __future__ import annotations

import socket

import uvicorn

from emulator.app import create_app
from emulator.config import EmulatorConfig


def build_server(config: EmulatorConfig) -> uvicorn.Server:
    app = create_app(config)
    return uvicorn.Server(
        uvicorn.Config(app, host=config.host, port=config.port, log_level=config.log_level, lifespan="on")
    )


def serve(config: EmulatorConfig, sock: socket.socket | None = None) -> None:
    """Block serving until interrupted; `sock` lets callers bind first (port 0 -> a free port)."""
    server = build_server(config)
    server.run(sockets=[sock] if sock is not None else None)

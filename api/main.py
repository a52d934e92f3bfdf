"""The app factory: settings in, FastAPI app out (nothing is built at import time).

`create_app(settings)` for code and tests; `app_from_env()` for `uvicorn --factory api.main:app_from_env`.
Services are built in `api/services.py`; this module only wires them, the routers and the middleware.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mux_python
from fastapi import FastAPI

from api.errors import install_error_handlers
from api.metrics import MetricsMiddleware
from api.routes import costs, health, lessons, playback, uploads, webhooks
from api.services import build_services
from core.logging import register_secrets, settings_secrets
from core.memory import keep_freed_memory
from core.mux.service import MuxService
from core.settings import Settings, load_settings

ROUTERS = (uploads.router, webhooks.router, playback.router, lessons.router, health.router, costs.router)


def create_app(
    settings: Settings, *, mux_client: mux_python.ApiClient | MuxService | None = None, s3_client: Any | None = None
) -> FastAPI:
    register_secrets(settings_secrets(settings))
    services = build_services(settings, mux_client=mux_client, s3_client=s3_client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(
        title="Lectern API",
        version="0.1.0",
        lifespan=lifespan,
        summary="Lesson videos on Mux: upload URLs, webhooks, playback, status.",
    )
    app.state.services = services
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    return app


def app_from_env() -> FastAPI:
    keep_freed_memory()  # a worker process of `serve`
    return create_app(load_settings())

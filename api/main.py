"""The app factory: settings in, FastAPI app out (nothing is built at import time).

`create_app(settings)` for code and tests; `app_from_env()` for `uvicorn --factory api.main:app_from_env`.
Services come from the container (core/container.py, `api/services.py` adds the metrics); this module only
wires them, the routers and the middleware.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mux_python
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from api.docs_ui import install_docs
from api.errors import install_error_handlers, responses
from api.metrics import MetricsMiddleware
from api.middleware import AuthBeforeBodyMiddleware, BodyLimitMiddleware, SecurityHeadersMiddleware
from api.routes import admin_webhooks, costs, health, lessons, playback, progress, tickets, uploads, webhooks
from api.services import Services
from core.logging import register_secrets, settings_secrets
from core.memory import keep_freed_memory
from core.mux.service import MuxService
from core.settings import Settings, load_settings

ROUTERS = (
    progress.router,
    uploads.router,
    webhooks.router,
    playback.router,
    lessons.router,
    health.router,
    costs.router,
    admin_webhooks.router,
    tickets.router,
)
# Reads its raw body itself, streaming, under LECTERN_WEBHOOK_MAX_BODY_BYTES, and is signed, not authenticated.
WEBHOOK_PATH = "/api/videos/mux/webhook"
# Authenticates itself (bearer, or a ticket in the URL or a beacon's body) under its own small body limit.
PROGRESS_PATH = re.compile(r"/api/lessons/[0-9]+/progress")


def create_app(
    settings: Settings, *, mux_client: mux_python.ApiClient | MuxService | None = None, s3_client: Any | None = None
) -> FastAPI:
    settings.require_api_secrets()  # never serve tokens signed with a missing, published or weak secret
    register_secrets(settings_secrets(settings))
    services = Services.from_settings(settings, kind="api", mux_client=mux_client, s3_client=s3_client)
    try:
        services.start()
    except BaseException:
        services.close()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(
        title="Lectern API",
        version="0.1.0",
        lifespan=lifespan,
        summary="Lesson videos on Mux: upload URLs, webhooks, playback, status.",
        # A map of every route is for developers (LECTERN_API_DOCS=true), not for whoever probes production.
        docs_url=None,  # api/docs_ui.py: the same page from vendored files, no CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs else None,
        # Any request may meet these before a route runs: the body limit (middleware), the head limit (server).
        responses=responses(413, 431),
    )
    app.state.services = services
    install_error_handlers(app)
    if settings.api_docs:
        install_docs(app, openapi_url="/openapi.json")
    # Progress reports are served by a plain route matched before every router: the same endpoint as the
    # documented one in `progress.router`, without FastAPI's per-request wrapper (dependencies, exit stack).
    app.router.routes.append(progress.report_route())
    for router in ROUTERS:
        app.include_router(router)
    # Added innermost first: a request meets metrics, headers, CORS, the body limit, then authentication.
    app.add_middleware(
        AuthBeforeBodyMiddleware,
        verify=services.tokens.user_id,
        public=frozenset({WEBHOOK_PATH}),
        self_authenticating=PROGRESS_PATH,
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.api_max_body_bytes, per_path={WEBHOOK_PATH: None})
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(
        SecurityHeadersMiddleware,
        frame_ancestors=settings.api_frame_ancestors,
        hsts_always=settings.api_hsts,
        hsts_max_age_s=settings.api_hsts_max_age_s,
    )
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    return app


def app_from_env() -> FastAPI:
    keep_freed_memory()  # a worker process of `serve`
    return create_app(load_settings())

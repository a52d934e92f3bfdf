"""FastAPI application factory for the Mux emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from emulator.config import EmulatorConfig
from emulator.data import routes as data_routes
from emulator.errors import HostError, MuxError, invalid, is_api_path, not_found
from emulator.middleware import EmulatorMiddleware
from emulator.routes import assets, control, hosts, playback_ids, signing_keys, upload_url, uploads
from emulator.runtime import Emulator

HOST_PREFIXES = ("/stream/", "/image/")


def _validation_messages(exc: RequestValidationError) -> list[str]:
    messages = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body"))
        messages.append(f"{location or 'request'}: {error.get('msg', 'invalid value')}")
    return messages or ["Invalid request"]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MuxError)
    async def mux_error(request: Request, exc: MuxError) -> Response:
        return exc.response()

    @app.exception_handler(HostError)
    async def host_error(request: Request, exc: HostError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status, headers={"Access-Control-Allow-Origin": "*"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith(HOST_PREFIXES):
            return await host_error(request, HostError(400, "Invalid parameter"))
        return invalid(*_validation_messages(exc)).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        if is_api_path(path) and exc.status_code in (404, 405):
            return not_found().response()
        if path.startswith(HOST_PREFIXES) and exc.status_code in (404, 405):
            return await host_error(request, HostError(404, "Not Found"))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    config = config or EmulatorConfig()
    emulator = Emulator(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        emulator.start()
        try:
            yield
        finally:
            emulator.stop()

    app = FastAPI(
        title="Lectern Mux emulator",
        lifespan=lifespan,
        docs_url="/_emulator/docs",
        openapi_url="/_emulator/openapi.json",
        redoc_url=None,
    )
    app.state.emulator = emulator
    app.state.upload_locks = {}
    app.add_middleware(EmulatorMiddleware)
    _install_error_handlers(app)
    modules = (assets, uploads, signing_keys, playback_ids, upload_url, hosts, control, data_routes)
    for module in modules:
        app.include_router(module.router)
    # Our own table of (regex, template, methods), in inclusion order, so the middleware can name the
    # route a request will hit without depending on FastAPI's internal router structures.
    app.state.route_table = [
        (route.path_regex, route.path, route.methods or set())
        for module in modules
        for route in module.router.routes
        if isinstance(route, APIRoute)
    ]
    return app

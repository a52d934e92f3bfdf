"""The API's /docs page (Swagger UI) from files vendored at install time, so it works with no CDN.

FastAPI's own /docs and /redoc load their scripts, styles and fonts from cdn.jsdelivr.net, fastapi.tiangolo.com
and Google Fonts: blank on a machine without internet (the demo's), and a request to third parties from a
developer's browser. `scripts/install_web_components.sh` copies swagger-ui-dist's bundle into
dashboard/static/vendor/swagger-ui/ beside the Mux components (one place for vendored browser code).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

ASSETS = Path(__file__).resolve().parents[1] / "dashboard" / "static" / "vendor" / "swagger-ui"
ASSETS_PATH = "/docs/assets"
# The only files served, by name: no path from the request ever reaches the file system.
FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
MISSING = (
    "<!doctype html><title>Lectern API docs</title><p>Swagger UI is not installed here: run "
    "<code>make web-components</code>. The OpenAPI document is at <a href='/openapi.json'>/openapi.json</a>.</p>"
)


def install_docs(app: FastAPI, *, openapi_url: str) -> None:
    """GET /docs, its assets under /docs/assets (nothing else: /redoc needs Google Fonts)."""

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        media_type = FILES.get(name)
        if media_type is None or not (ASSETS / name).is_file():
            return Response(status_code=404)
        return FileResponse(ASSETS / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if not (ASSETS / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(MISSING, status_code=503)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - docs",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )

"""Lectern errors -> HTTP answers, by kind, with one JSON shape:
{"error": {"type", "kind", "message", "reason"?, "context"?}}.

`HTTP_STATUS_BY_KIND` is the only place an error becomes a status: routes raise, the handler answers; the
middleware (413, 401 before any route) and the server (431 before the app) build the same answer here.
"""

from __future__ import annotations

import math
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from api.schemas import ErrorBody
from core.errors import (
    Conflict,
    DatabaseUnavailable,
    ErrorKind,
    LecternError,
    RequestRejected,
    Unauthenticated,
    WebhookSignatureInvalid,
)
from core.logging import get_logger

log = get_logger(__name__)

HTTP_STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RETRYABLE: 429,
    ErrorKind.HEADERS_TOO_LARGE: 431,
    ErrorKind.INTERNAL: 500,
    ErrorKind.UPSTREAM: 502,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.MISCONFIGURED: 503,
}


def status_for(exc: LecternError) -> int:
    return HTTP_STATUS_BY_KIND[exc.kind]


def error_body(exc: LecternError) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": type(exc).__name__, "kind": exc.kind.value, "message": exc.user_message}
    if isinstance(exc, Unauthenticated | WebhookSignatureInvalid):
        detail["reason"] = exc.reason
    if isinstance(exc, Conflict) and exc.context:
        detail["context"] = exc.context
    return {"error": detail}


def error_headers(exc: LecternError) -> dict[str, str]:
    headers = {"Cache-Control": "no-store"}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(math.ceil(retry_after))
    return headers


def error_response(exc: LecternError) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=status_for(exc), headers=error_headers(exc))


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LecternError)
    status = status_for(exc)
    if status >= 500:
        log.error("api.error", path=request.url.path, status=status, error=type(exc).__name__, message=exc.message)
    return error_response(exc)


async def _handle_http(request: Request, exc: Exception) -> Response:
    """FastAPI's own 400 (a body it cannot decode, e.g. not UTF-8) in the API's error shape; others as FastAPI."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        return error_response(RequestRejected("the request body could not be read as JSON"))
    return await http_exception_handler(request, exc)


async def _handle_database(request: Request, exc: Exception) -> JSONResponse:
    """The platform database down, restarting or too busy: 503, so clients (and Mux) try again later.

    SQLAlchemy's OperationalError, and psycopg's own from the hot-path reads on the bare cursor (core/db/fast_read.py).
    """
    log.warning("api.database_unavailable", path=request.url.path, error=str(exc).strip().splitlines()[0][:300])
    return error_response(DatabaseUnavailable("the platform database is unavailable; try again shortly"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LecternError, _handle)
    app.add_exception_handler(HTTPException, _handle_http)
    app.add_exception_handler(OperationalError, _handle_database)
    app.add_exception_handler(psycopg.OperationalError, _handle_database)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each listed error status documented with the error model."""
    text = {
        400: "Malformed request or payload.",
        401: "Missing, invalid or expired token (or webhook signature).",
        403: "Authenticated but not allowed.",
        404: "Unknown lesson.",
        409: "The lesson has no playable video yet; `context.status` says where it is.",
        413: "Body larger than LECTERN_API_MAX_BODY_BYTES (the webhook: LECTERN_WEBHOOK_MAX_BODY_BYTES).",
        422: "A path or query parameter out of range (e.g. an id over 2^31 - 1).",
        431: "Request line and headers over LECTERN_API_MAX_HEADER_BYTES, or more than LECTERN_API_MAX_HEADERS lines.",
        429: "Busy right now; try again after Retry-After seconds.",
        502: "Mux or S3 refused the request.",
        503: "Mux/S3 unavailable or not configured (or S3 credentials missing/expired); retry later.",
    }
    return {s: {"model": ErrorBody, "description": text.get(s, "Error.")} for s in statuses}

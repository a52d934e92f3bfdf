"""Lectern errors -> HTTP answers with one JSON shape: {"error": {"type", "message", "reason"?, "context"?}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.schemas import ErrorBody
from core.errors import (
    Conflict,
    Forbidden,
    LecternError,
    MuxError,
    NotConfigured,
    NotFound,
    RequestRejected,
    StorageCredentialsInvalid,
    StorageError,
    TransientError,
    Unauthenticated,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from core.logging import get_logger

log = get_logger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[LecternError], int], ...] = (
    (Unauthenticated, 401),
    (WebhookSignatureInvalid, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (WebhookPayloadInvalid, 400),
    (NotConfigured, 503),
    (StorageCredentialsInvalid, 503),
    (TransientError, 503),
    (MuxError, 502),
    (StorageError, 502),
)


# What a caller is told instead of the internal message (bucket, key, variable names stay in the log).
PUBLIC_MESSAGES: dict[type[LecternError], str] = {
    StorageCredentialsInvalid: "video storage is unavailable: the server's S3 credentials need an operator; "
    "try again later",
}


def status_for(exc: LecternError) -> int:
    if isinstance(exc, RequestRejected):
        return exc.status
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(exc, cls)), 500)


def error_body(exc: LecternError) -> dict[str, Any]:
    message = PUBLIC_MESSAGES.get(type(exc), exc.message)
    detail: dict[str, Any] = {"type": type(exc).__name__, "message": message}
    if isinstance(exc, Unauthenticated | WebhookSignatureInvalid):
        detail["reason"] = exc.reason
    if isinstance(exc, Conflict) and exc.context:
        detail["context"] = exc.context
    return {"error": detail}


def error_response(exc: LecternError, status: int | None = None) -> JSONResponse:
    status = status or status_for(exc)
    headers = {"Cache-Control": "no-store"}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LecternError)
    status = status_for(exc)
    if status >= 500:
        log.error("api.error", path=request.url.path, status=status, error=type(exc).__name__, message=exc.message)
    return error_response(exc, status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LecternError, _handle)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each listed error status documented with the error model."""
    text = {
        400: "Malformed request or payload.",
        401: "Missing, invalid or expired token (or webhook signature).",
        403: "Authenticated but not allowed.",
        404: "Unknown lesson.",
        409: "The lesson has no playable video yet; `context.status` says where it is.",
        413: "Body larger than LECTERN_API_MAX_BODY_BYTES (the webhook: LECTERN_WEBHOOK_MAX_BODY_BYTES).",
        502: "Mux or S3 refused the request.",
        422: "A path or query parameter out of range (e.g. an id over 2^31 - 1).",
        503: "Mux/S3 unavailable or not configured (or S3 credentials missing/expired); retry later.",
    }
    return {s: {"model": ErrorBody, "description": text.get(s, "Error.")} for s in statuses}

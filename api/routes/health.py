"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.errors import error_response
from api.schemas import HealthResponse
from core.auth import bearer_token
from core.errors import Forbidden, LecternError, NotFound, Unauthenticated
from core.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, summary="The process is up")
def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The platform database is unreachable."}},
    summary="Ready to serve: the platform database answers",
)
async def readyz(services: ServicesDep) -> JSONResponse:
    def ping() -> None:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "detail": f"database: {type(exc).__name__}"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        401: {"description": "LECTERN_METRICS_TOKEN is set and the request did not present it."},
        403: {"description": "The client address is outside LECTERN_METRICS_ALLOW."},
        404: {"description": "Metrics are off: neither LECTERN_METRICS_TOKEN nor LECTERN_METRICS_ALLOW is set."},
    },
    summary="Prometheus metrics of every API worker, and of the sync scheduler and migration workers sharing "
    "LECTERN_METRICS_DIR, for a scraper with the token or an allowed address",
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    refused = metrics_refusal(services.settings, request.headers.get("authorization"), request.client)
    if refused is not None:
        return error_response(refused)
    body = await run_in_threadpool(services.metrics.exposition)  # reads the metrics directory's files
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def metrics_refusal(settings: Settings, authorization: str | None, client: object) -> LecternError | None:
    """None when this scraper may read /metrics: it presents LECTERN_METRICS_TOKEN, or its address is
    inside LECTERN_METRICS_ALLOW. Off (404) when neither is set: counters per route are reconnaissance."""
    token = settings.metrics_token.get_secret_value()
    if not token and not settings.metrics_allow:
        return NotFound("metrics are off (set LECTERN_METRICS_TOKEN or LECTERN_METRICS_ALLOW)")
    if token and authorization:
        try:
            presented = bearer_token(authorization)
        except Unauthenticated:
            presented = ""
        if presented and hmac.compare_digest(presented.encode(), token.encode()):
            return None
    host = getattr(client, "host", None)
    try:
        address = ipaddress.ip_address(host) if host else None
    except ValueError:
        address = None
    if address is not None and any(address in network for network in settings.metrics_allow):
        return None
    if token:
        return Unauthenticated("metrics need the scrape token (Authorization: Bearer <LECTERN_METRICS_TOKEN>)")
    return Forbidden("this address may not read metrics (LECTERN_METRICS_ALLOW)")

"""The Mux webhook receiver: raw body (size-limited) -> signature -> stored once -> applied.

A delivery answered but not stored (too large, a signature that does not verify, a body that is no event, a
duplicate) is counted per hour and reason in `webhook_rejections` (core/webhooks.py `Rejection`).
"""

from __future__ import annotations

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.errors import error_response, responses
from api.middleware import declared_over
from api.schemas import WebhookResponse
from api.services import WEBHOOK_THREADS, Services
from core.errors import BodyTooLarge, WebhookPayloadInvalid, WebhookSignatureInvalid
from core.logging import get_logger
from core.webhooks import SIGNATURE_HEADER, Outcome, Rejection, parse_event, signature_rejection, verify_signature

router = APIRouter(prefix="/api/videos/mux", tags=["webhooks"])
log = get_logger(__name__)


def webhook_limiter(request: Request) -> CapacityLimiter:
    # Created lazily: a CapacityLimiter belongs to the event loop that first uses it.
    state = request.app.state
    if getattr(state, "webhook_limiter", None) is None:
        state.webhook_limiter = CapacityLimiter(WEBHOOK_THREADS)
    return state.webhook_limiter  # type: ignore[no-any-return]


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared_over(declared, limit):
        raise BodyTooLarge(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def count_rejection(request: Request, services: Services, reason: Rejection) -> None:
    """One upsert of the hour's counter for `reason`, on a webhook thread (it never raises)."""
    await to_thread.run_sync(services.webhooks.count_rejection, reason, limiter=webhook_limiter(request))


@router.post(
    "/webhook",
    response_model=WebhookResponse,
    responses=responses(400, 401, 413),
    summary="Receive a signed Mux webhook event",
    description="Verifies `Mux-Signature` against the raw body, stores the event once by id and applies "
    "it to its lesson. Duplicates answer 200 with outcome `duplicate`; events for unknown lessons answer "
    "200 with outcome `unmatched` (so Mux stops retrying), as do signed events Lectern cannot use (a `created_at` "
    "that is no time or in the future, an id it cannot store: outcome `ignored` with the reason). A body that is not "
    "a strict-JSON event (NaN/Infinity, deeper than 32 levels, no usable id or type) is 400.",
)
async def receive_webhook(request: Request, services: ServicesDep) -> JSONResponse:
    settings, metrics = services.settings, services.metrics
    try:
        body = await read_limited(request, settings.webhook_max_body_bytes)
    except BodyTooLarge as exc:
        metrics.webhooks.labels("unknown", "too_large").inc()
        log.warning("webhook.rejected", reason="body too large", limit=settings.webhook_max_body_bytes)
        await count_rejection(request, services, Rejection.too_large)
        return error_response(exc)
    try:
        verify_signature(
            body,
            request.headers.get(SIGNATURE_HEADER),
            settings.mux_webhook_secret.get_secret_value(),
            tolerance_s=settings.webhook_tolerance_s,
        )
        event = parse_event(body, max_future_s=settings.webhook_tolerance_s)
    except WebhookSignatureInvalid as exc:
        metrics.webhooks.labels("unknown", "bad_signature").inc()
        log.warning("webhook.rejected", reason=exc.reason, bytes=len(body))
        await count_rejection(request, services, signature_rejection(exc))
        return error_response(exc)
    except WebhookPayloadInvalid as exc:
        metrics.webhooks.labels("unknown", "malformed").inc()
        log.warning("webhook.rejected", reason=exc.message, bytes=len(body))
        await count_rejection(request, services, Rejection.invalid_payload)
        return error_response(exc)
    # A few threads per process, not the whole pool: the work is short and CPU-bound, and 30+ threads
    # fighting over the GIL cost more than they overlapped (lock waits still don't block the event loop).
    try:
        result = await to_thread.run_sync(services.webhooks.handle, event, limiter=webhook_limiter(request))
    except Exception:
        # Recorded as `failed` by the processor; the 500 makes Mux deliver it again later.
        metrics.webhooks.labels(event.type, Outcome.failed).inc()
        raise
    metrics.webhooks.labels(event.type, result.outcome).inc()
    return JSONResponse(
        {"event_id": result.event_id, "outcome": result.outcome, "lesson_id": result.lesson_id, "reason": result.reason}
    )

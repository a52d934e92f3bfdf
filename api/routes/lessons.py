"""Lesson video status, as a snapshot and as server-sent-events streams of changes (one lesson or many).

A stream is re-authorised while it is open (every LECTERN_LESSON_EVENTS_RECHECK_S: a removed enrolment or
a deleted user ends it with a final `end` event), never outlives its token or ticket (it ends at its `exp`),
and each user and each process may hold only so many at once (429 with Retry-After beyond that).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api.deps import LessonIdPath, ServicesDep, StreamAuth, StreamAuthDep, UserIdDep
from api.errors import responses
from api.schemas import LessonStatusResponse
from api.services import Services
from core.auth import MAX_ID
from core.errors import Forbidden, LessonIdsInvalid, NotFound, Unauthenticated
from core.lessons import LessonStatus
from core.settings import Settings
from core.streams import StreamSlot, StreamSlots

router = APIRouter(prefix="/api/lessons", tags=["lessons"])
KEEPALIVE_S = 15.0
_IDS = re.compile(r"[0-9]{1,10}(,[0-9]{1,10})*")


def _out(status: LessonStatus) -> LessonStatusResponse:
    return LessonStatusResponse.model_validate(status.as_dict())


@router.get(
    "/{lesson_id}/status",
    response_model=LessonStatusResponse,
    responses=responses(401, 403, 404),
    summary="A lesson's video status (enrolled students, its teacher, admins)",
)
async def get_status(lesson_id: LessonIdPath, user_id: UserIdDep, services: ServicesDep) -> LessonStatusResponse:
    # One indexed read: cheaper on the loop than a thread hop (see routes/playback.py).
    return _out(services.lessons.status(user_id, lesson_id))


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def stream_slots(request: Request, settings: Settings) -> StreamSlots:
    state = request.app.state
    if getattr(state, "stream_slots", None) is None:
        state.stream_slots = StreamSlots(
            per_user=settings.lesson_events_max_per_user, total=settings.lesson_events_max_streams
        )
    return state.stream_slots  # type: ignore[no-any-return]


class SlotStreamingResponse(StreamingResponse):
    """Gives the stream's slot back however the response ends (even if its body never started)."""

    def __init__(self, content: AsyncIterator[bytes], slot: StreamSlot, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


# Why a lesson leaves a stream, by the error its access re-check raised.
# A lesson one may no longer see answers 404 like a deleted one (ids must not tell which exist), so both
# end a stream as `access_revoked`.
_LOST = {Forbidden: "access_revoked", NotFound: "access_revoked", Unauthenticated: "unauthenticated"}


async def _events(
    request: Request,
    services: Services,
    auth: StreamAuth,
    first: list[LessonStatus],
    *,
    once: bool,
    limit_s: float,
    slot: StreamSlot,
    many: bool,
) -> AsyncIterator[bytes]:
    """`status` events for each lesson, each change after, and one `end` event with the reason.

    With several lessons (`many`), a lesson the user may no longer see (or that was deleted) leaves with a
    `removed` event, and the stream ends when none is left or all are final.
    """
    settings = services.settings
    current = {s.lesson_id: s for s in first}
    try:
        for initial in first:
            yield sse("status", initial.as_dict())
        token_left = auth.expires_at - time.time()
        deadline = min(limit_s, token_left)
        started = last_sent = last_check = time.monotonic()
        reason: str | None = "once" if once else "final" if all(s.is_final for s in first) else None
        while reason is None:
            elapsed = time.monotonic() - started
            if elapsed >= deadline:
                reason = "token_expired" if token_left <= limit_s else "timeout"
                break
            await asyncio.sleep(min(settings.lesson_events_poll_s, max(0.0, deadline - elapsed)))
            if await request.is_disconnected():
                return
            if time.monotonic() - last_check >= settings.lesson_events_recheck_s:
                last_check = time.monotonic()
                for lesson_id in list(current):
                    try:
                        await run_in_threadpool(services.lessons.status, auth.user_id, lesson_id)
                    except (Forbidden, NotFound, Unauthenticated) as exc:
                        lost = _LOST.get(type(exc), "access_revoked")
                        if isinstance(exc, Unauthenticated):  # the user is gone: every lesson goes
                            current.clear()
                        current.pop(lesson_id, None)
                        if many:
                            yield sse("removed", {"lesson_id": lesson_id, "reason": lost})
                        if not current:
                            reason = lost
                            break
                if reason is not None:
                    break
            latest = await run_in_threadpool(services.lessons.read_statuses, list(current))
            for lesson_id, known in list(current.items()):
                status = latest.get(lesson_id)
                if status is None:
                    current.pop(lesson_id)
                    if many:
                        yield sse("removed", {"lesson_id": lesson_id, "reason": "deleted"})
                elif status != known:
                    current[lesson_id] = status
                    last_sent = time.monotonic()
                    yield sse("status", status.as_dict())
            if not current:
                reason = "deleted"
            elif all(s.is_final for s in current.values()):
                reason = "final"
            elif time.monotonic() - last_sent >= KEEPALIVE_S:
                last_sent = time.monotonic()
                yield b": keepalive\n\n"
        yield sse("end", {"reason": reason})
    finally:
        slot.release()


_STREAM_DOC = (
    "Sends the current status at once, then each change (polled server-side every LECTERN_LESSON_EVENTS_POLL_S). "
    "Ends with an `end` event when the status is ready/errored, after `timeout` seconds (at most "
    "LECTERN_LESSON_EVENTS_MAX_S), when the token expires (`token_expired`), when access is gone (re-checked "
    "every LECTERN_LESSON_EVENTS_RECHECK_S: `access_revoked`, also for a deleted lesson, or `unauthenticated`), "
    "or at once with `once=1`. At most LECTERN_LESSON_EVENTS_MAX_PER_USER streams per user and "
    "LECTERN_LESSON_EVENTS_MAX_STREAMS per process: 429 with Retry-After beyond that. "
    "Authenticate with the bearer header or, from an EventSource, `?ticket=` (purpose `events`, covering "
    "every lesson of the stream; a ticket for another lesson is 401)."
)
_STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def _open_stream(
    request: Request,
    services: Services,
    auth: StreamAuth,
    lesson_ids: list[int],
    *,
    once: bool,
    timeout: float | None,
    many: bool,
) -> Response:
    settings = services.settings
    auth.require(lesson_ids)  # a ticket is for its own lessons only
    # Access is checked for every lesson before a slot is taken (403/404/401 as for /status).
    first = [await run_in_threadpool(services.lessons.status, auth.user_id, lesson_id) for lesson_id in lesson_ids]
    slot = stream_slots(request, settings).acquire(auth.user_id)  # TooManyStreams: 429 with Retry-After
    limit = min(timeout or settings.lesson_events_max_s, settings.lesson_events_max_s)
    events = _events(request, services, auth, first, once=once, limit_s=limit, slot=slot, many=many)
    return SlotStreamingResponse(events, slot, media_type="text/event-stream", headers=_STREAM_HEADERS)


_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "`status` events, then `end`."},
    **responses(400, 401, 403, 404),
    429: {"description": "Too many open streams for this user or process; see Retry-After."},
}


@router.get(
    "/events",
    responses=_STREAM_RESPONSES,
    response_class=StreamingResponse,
    summary="Server-sent events: the video status of several lessons (a lesson list), whenever one changes",
    description="`ids=1,2,3` (at most LECTERN_LESSON_EVENTS_MAX_IDS; each checked as for /status). "
    "`status` events carry `lesson_id`; a lesson the user may no longer see leaves with a `removed` event. "
    + _STREAM_DOC,
)
async def stream_many(
    request: Request,
    auth: StreamAuthDep,
    services: ServicesDep,
    ids: Annotated[str, Query(description="Comma-separated lesson ids.", max_length=6000)],
    once: Annotated[bool, Query(description="Send the current statuses and end.")] = False,
    timeout: Annotated[float | None, Query(gt=0, description="End after this many seconds.")] = None,
) -> Response:
    lesson_ids = parse_lesson_ids(ids, services.settings.lesson_events_max_ids)
    return await _open_stream(request, services, auth, lesson_ids, once=once, timeout=timeout, many=True)


def parse_lesson_ids(text: str, limit: int) -> list[int]:
    """Distinct lesson ids in order from `1,2,3`; `LessonIdsInvalid` when malformed, out of range or too many."""
    if not _IDS.fullmatch(text):
        raise LessonIdsInvalid("ids must be lesson ids separated by commas, e.g. ids=1,2,3")
    lesson_ids = list(dict.fromkeys(int(part) for part in text.split(",")))
    if any(not 0 < lesson_id <= MAX_ID for lesson_id in lesson_ids):
        raise LessonIdsInvalid(f"lesson ids are between 1 and {MAX_ID}")
    if len(lesson_ids) > limit:
        raise LessonIdsInvalid(f"at most {limit} lesson ids per stream (LECTERN_LESSON_EVENTS_MAX_IDS)")
    return lesson_ids


@router.get(
    "/{lesson_id}/events",
    responses=_STREAM_RESPONSES,
    response_class=StreamingResponse,
    summary="Server-sent events: the lesson's video status whenever it changes",
    description=_STREAM_DOC,
)
async def stream_status(
    lesson_id: LessonIdPath,
    request: Request,
    auth: StreamAuthDep,
    services: ServicesDep,
    once: Annotated[bool, Query(description="Send the current status and end.")] = False,
    timeout: Annotated[float | None, Query(gt=0, description="End after this many seconds.")] = None,
) -> Response:
    return await _open_stream(request, services, auth, [lesson_id], once=once, timeout=timeout, many=False)

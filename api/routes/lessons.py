"""Lesson video status, as a snapshot and as a server-sent-events stream of changes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import LessonIdPath, ServicesDep, StreamUserIdDep, UserIdDep
from api.errors import responses
from api.schemas import LessonStatusResponse
from core.lessons import LessonStatus

router = APIRouter(prefix="/api/lessons", tags=["lessons"])
KEEPALIVE_S = 15.0


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


def sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


@router.get(
    "/{lesson_id}/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`status` events, then `end`."},
        **responses(401, 403, 404),
    },
    response_class=StreamingResponse,
    summary="Server-sent events: the lesson's video status whenever it changes",
    description="Sends the current status at once, then each change (polled server-side every "
    "LECTERN_LESSON_EVENTS_POLL_S). Ends with an `end` event when the status is ready/errored, after "
    "`timeout` seconds (at most LECTERN_LESSON_EVENTS_MAX_S), or at once with `once=1`.",
)
async def stream_status(
    lesson_id: LessonIdPath,
    request: Request,
    user_id: StreamUserIdDep,
    services: ServicesDep,
    once: Annotated[bool, Query(description="Send the current status and end.")] = False,
    timeout: Annotated[float | None, Query(gt=0, description="End after this many seconds.")] = None,
) -> StreamingResponse:
    settings = services.settings
    first = await run_in_threadpool(services.lessons.status, user_id, lesson_id)  # access checked here
    limit = min(timeout or settings.lesson_events_max_s, settings.lesson_events_max_s)

    async def events() -> AsyncIterator[bytes]:
        current = first
        yield sse("status", json.dumps(current.as_dict()))
        started = last_sent = time.monotonic()
        reason = "once" if once else "final" if current.is_final else None
        while reason is None:
            if time.monotonic() - started >= limit:
                reason = "timeout"
                break
            await asyncio.sleep(min(settings.lesson_events_poll_s, max(0.0, limit - (time.monotonic() - started))))
            if await request.is_disconnected():
                return
            latest = await run_in_threadpool(services.lessons.read_status, lesson_id)
            if latest is None:
                reason = "deleted"
            elif latest != current:
                current = latest
                last_sent = time.monotonic()
                yield sse("status", json.dumps(current.as_dict()))
                if current.is_final:
                    reason = "final"
            elif time.monotonic() - last_sent >= KEEPALIVE_S:
                last_sent = time.monotonic()
                yield b": keepalive\n\n"
        yield sse("end", json.dumps({"reason": reason}))

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

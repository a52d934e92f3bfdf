"""Short-lived tickets (core/tickets.py): what a player puts where a bearer header cannot go."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import LessonIdPath, ServicesDep, UserIdDep
from api.errors import responses
from api.routes.lessons import parse_lesson_ids
from api.schemas import TicketResponse
from core.tickets import IssuedTicket

router = APIRouter(prefix="/api/lessons", tags=["tickets"])
_NO_STORE = {"Cache-Control": "no-store"}


def _out(issued: IssuedTicket) -> Response:
    body = TicketResponse(
        ticket=issued.ticket,
        lesson_ids=list(issued.lesson_ids),
        purposes=[p.value for p in issued.purposes],
        expires_at=issued.expires_at,
    )
    return Response(body.model_dump_json(), media_type="application/json", headers=_NO_STORE)


@router.post(
    "/{lesson_id}/ticket",
    response_model=TicketResponse,
    responses=responses(401, 404),
    summary="A short-lived ticket for one lesson (progress reports and its event stream)",
    description="For the player, which cannot send the bearer header on `sendBeacon` or `EventSource`. Access as "
    "for playback (enrolled students, the course's teacher, admins; anyone else 404). The ticket authenticates "
    "this user for this lesson only, until `expires_at` (LECTERN_TICKET_TTL_S, at most 2 h); access is "
    "checked again on every use.",
)
async def lesson_ticket(lesson_id: LessonIdPath, user_id: UserIdDep, services: ServicesDep) -> Response:
    return _out(await run_in_threadpool(services.tickets.issue, user_id, [lesson_id]))


@router.post(
    "/ticket",
    response_model=TicketResponse,
    responses=responses(400, 401, 404),
    summary="A short-lived ticket for a list stream of several lessons (events only)",
    description="`ids=1,2,3` (at most LECTERN_LESSON_EVENTS_MAX_IDS), each checked as for playback; for "
    "`GET /api/lessons/events?ids=...&ticket=...` from an EventSource.",
)
async def lessons_ticket(
    user_id: UserIdDep,
    services: ServicesDep,
    ids: Annotated[str, Query(description="Comma-separated lesson ids.", max_length=6000)],
) -> Response:
    lesson_ids = parse_lesson_ids(ids, services.settings.lesson_events_max_ids)
    return _out(await run_in_threadpool(services.tickets.issue, user_id, lesson_ids))

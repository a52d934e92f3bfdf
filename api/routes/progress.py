"""Progress from the player: `POST /api/lessons/{id}/progress` (reports) and `GET` (the student's progress).

A report authenticates with the bearer header, or a `progress` ticket in `?ticket=` or in the body's
`ticket` (sendBeacon sends no headers; it sends a string as `text/plain`, which needs no CORS preflight, so
any content type is read as JSON). The body is read under LECTERN_PROGRESS_MAX_BODY_BYTES (413), parsed
strictly (no NaN or Infinity) and checked (422, FastAPI's validation shape, also for a value the lesson
itself rules out such as a position past its end). The report then waits for its batch's commit
(core/progress/batch.py) and is answered with the student's progress as committed.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.routing import Match, Route
from starlette.types import Scope

from api.deps import LessonIdPath, ServicesDep, TicketQuery, bearer_or_ticket
from api.errors import responses
from api.routes.webhooks import read_limited
from api.schemas import ProgressOut, ProgressReportIn, ProgressResponse
from api.services import Services
from core.auth import MAX_ID
from core.errors import Unauthenticated
from core.progress import ProgressEvent, Report, ReportInvalid
from core.tickets import MAX_TICKET_CHARS, TicketPurpose

router = APIRouter(prefix="/api/lessons", tags=["progress"])
REPORT_PATH = "/api/lessons/{lesson_id}/progress"


class PlainRoute(Route):
    """A Starlette route that names itself in the scope as FastAPI's do (the metrics label by `route.path`)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match != Match.NONE:
            child["route"] = self
        return match, child


_NO_STORE = {"Cache-Control": "no-store"}


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _invalid(loc: tuple[str | int, ...], message: str, kind: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body", *loc), "msg": message}])


def parse_body(raw: bytes) -> dict[str, Any]:
    """The report's JSON object (strict: NaN, Infinity and huge integers are refused), or a 422."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limits
        raise _invalid((), f"not a JSON report: {str(exc)[:200]}", "json_invalid") from None
    if not isinstance(data, dict):
        raise _invalid((), "a report is a JSON object", "model_attributes_type")
    return data


def validated(data: dict[str, Any]) -> ProgressReportIn:
    try:
        return ProgressReportIn.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([e | {"loc": ("body", *e["loc"])} for e in errors]) from None


def _lesson_id(request: Request) -> int:
    raw = request.path_params["lesson_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) <= MAX_ID):
        raise RequestValidationError(
            [{"type": "int_parsing", "loc": ("path", "lesson_id"), "msg": f"a lesson id is 1 to {MAX_ID}"}]
        )
    return int(raw)


_PARAMETERS = [
    {
        "name": "lesson_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    },
    {
        "name": "ticket",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": MAX_TICKET_CHARS},
        "description": "A `progress` ticket (sendBeacon sends no headers).",
    },
]


# The hottest route there is (every player, every few seconds): it takes the bare Request and reads and
# checks its parameters itself (`openapi_extra` documents them), so api/main.py can serve it as a plain
# route, matched first, without FastAPI's per-request wrapper; this declaration documents it.
@router.post(
    "/{lesson_id}/progress",
    response_model=ProgressResponse,
    responses={
        **responses(401, 403, 404, 413, 429, 503),
        # Raised as RequestValidationError, so it answers in FastAPI's validation shape like every route's 422.
        422: {
            "description": "Values that cannot be true of the lesson, or a body that is not a report.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
        },
    },
    summary="Report playback progress (the enrolled student's player)",
    description="Every few seconds while playing and on pause, ended and page hide (sendBeacon). Idempotent "
    "and monotonic: a late or repeated report never moves progress back. Bearer header, or a `progress` "
    "ticket in `?ticket=` or the body. 403 for a teacher or admin who is not enrolled (nothing to record), "
    "404 for a lesson the user may not view, 422 for values that cannot be true of the lesson, 429 past "
    "LECTERN_PROGRESS_RATE_PER_MIN. Answered once the report is committed.",
    openapi_extra={
        "parameters": _PARAMETERS,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ProgressReportIn.model_json_schema()},
                "text/plain": {"schema": {"type": "string", "description": "The same JSON (sendBeacon)."}},
            },
        },
    },
)
async def report_progress(request: Request) -> Response:
    services: Services = request.app.state.services
    lesson_id = _lesson_id(request)
    ticket = request.query_params.get("ticket")
    settings = services.settings
    authorization = request.headers.get("authorization")
    user_id: int | None = None
    if authorization is not None or ticket:
        # Credentials outside the body are checked before a byte of it is read.
        user_id = bearer_or_ticket(services, authorization, ticket, purpose=TicketPurpose.progress, lesson_id=lesson_id)
    data = parse_body(await read_limited(request, settings.progress_max_body_bytes))
    if user_id is None:
        in_body = data.get("ticket")
        if not isinstance(in_body, str) or not in_body:
            raise Unauthenticated("missing credentials (Authorization: Bearer <token>, ?ticket= or a `ticket` field)")
        user_id = bearer_or_ticket(services, None, in_body, purpose=TicketPurpose.progress, lesson_id=lesson_id)
    body = validated(data)
    report = Report(
        user_id=user_id,
        lesson_id=lesson_id,
        session_id=str(body.session_id),
        seq=body.seq,
        position_s=body.position_s,
        duration_s=body.duration_s,
        ranges=tuple(body.ranges),
        event=ProgressEvent(body.event),
        received_at=datetime.fromtimestamp(time.time(), UTC),
    )
    try:
        applied = await services.progress.report(report)
    except ReportInvalid as exc:
        raise _invalid((exc.field,), exc.message) from None
    out = ProgressResponse(
        lesson_id=applied.lesson_id,
        session_id=applied.session_id,
        seq=applied.seq,
        resume_position_s=applied.resume_position_s,
        furthest_position_s=applied.furthest_position_s,
        seconds_watched=applied.seconds_watched,
        covered_s=applied.covered_s,
        completed=applied.completed_at is not None,
        completed_at=applied.completed_at,
    )
    return Response(out.model_dump_json(), media_type="application/json", headers=_NO_STORE)


@router.get(
    "/{lesson_id}/progress",
    response_model=ProgressOut,
    responses=responses(401, 404),
    summary="The user's own progress through a lesson (where to resume)",
    description="Bearer header, or a `progress` ticket in `?ticket=`. Zeros before the first report.",
)
async def get_progress(
    lesson_id: LessonIdPath, request: Request, services: ServicesDep, ticket: TicketQuery = None
) -> Response:
    user_id = bearer_or_ticket(
        services, request.headers.get("authorization"), ticket, purpose=TicketPurpose.progress, lesson_id=lesson_id
    )
    view = services.progress.progress(user_id, lesson_id)  # two indexed reads: on the loop, as /status
    out = ProgressOut(
        lesson_id=view.lesson_id,
        resume_position_s=view.resume_position_s,
        furthest_position_s=view.furthest_position_s,
        seconds_watched=view.seconds_watched,
        covered_s=view.covered_s,
        completed=view.completed_at is not None,
        completed_at=view.completed_at,
        updated_at=view.updated_at,
    )
    return Response(out.model_dump_json(), media_type="application/json", headers=_NO_STORE)


def report_route() -> PlainRoute:
    """`report_progress` as a plain route, for api/main.py to put before every router."""
    return PlainRoute(REPORT_PATH, report_progress, methods=["POST"], include_in_schema=False)

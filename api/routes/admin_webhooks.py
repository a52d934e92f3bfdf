"""Admin webhook log and repairs: search and show stored events, replay one or a filtered set, repair a lesson.

Admins only, checked on the server for every route before anything else runs (403 for anyone else, and
nothing changes). Each replay and repair is recorded in `operator_actions` under the admin's email
(core/webhook_ops.py). Lists answer like Mux's own (`data` + `next_cursor`), so a client walks them with
the same cursor paginator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import LessonIdPath, ServicesDep, UserIdDep
from api.errors import responses
from api.schemas import RowId
from core.webhook_log import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, EventFilter, event_detail, search_events
from core.webhook_ops import REPLAY_MAX_EVENTS

router = APIRouter(prefix="/api/admin", tags=["admin"])
NO_STORE = {"Cache-Control": "no-store"}


def require_admin(user_id: UserIdDep, services: ServicesDep) -> str:
    """The admin's audit name; 403 for anyone else (a primary-key read, before the route does anything)."""
    return services.webhook_ops.admin_actor(user_id)


AdminDep = Annotated[str, Depends(require_admin)]
EventIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$", description="Mux event id.")]


class ReplayFilter(BaseModel):
    """Which stored events to replay (at least one field); `applied` ones are skipped (nothing to change)."""

    type: list[str] = Field(default_factory=list, max_length=20, description="Event types, e.g. video.asset.ready.")
    outcome: list[str] = Field(default_factory=list, max_length=6, description="failed, unmatched, stale ...")
    lesson_id: RowId | None = None
    asset_id: str | None = Field(default=None, max_length=64)
    upload_id: str | None = Field(default=None, max_length=64)
    since: datetime | None = Field(default=None, description="Received at or after (ISO-8601; UTC if no zone).")
    until: datetime | None = Field(default=None, description="Received before.")
    max_events: int = Field(default=100, ge=1, le=REPLAY_MAX_EVENTS)

    def event_filter(self) -> EventFilter:
        return EventFilter(
            types=tuple(self.type),
            outcomes=tuple(self.outcome),
            lesson_id=self.lesson_id,
            asset_id=self.asset_id,
            upload_id=self.upload_id,
            since=self.since,
            until=self.until,
        )


def _json(content: Any) -> JSONResponse:
    return JSONResponse(content, headers=NO_STORE)


@router.get(
    "/webhooks",
    responses=responses(400, 401, 403),
    summary="Search stored webhook events, newest first (admins only)",
    description="Filters combine; `type` and `outcome` repeat. Answers `{data: [...], next_cursor}`: pass "
    "`cursor=<next_cursor>` for the next page (absent at the end).",
)
def list_events(
    actor: AdminDep,
    services: ServicesDep,
    types: Annotated[list[str] | None, Query(alias="type", max_length=20)] = None,
    outcomes: Annotated[list[str] | None, Query(alias="outcome", max_length=6)] = None,
    lesson_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    asset_id: Annotated[str | None, Query(max_length=64)] = None,
    upload_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    where = EventFilter(
        types=tuple(types or ()),
        outcomes=tuple(outcomes or ()),
        lesson_id=lesson_id,
        asset_id=asset_id,
        upload_id=upload_id,
        since=since,
        until=until,
    )
    with services.session_factory() as session:
        page = search_events(session, where, limit=limit, cursor=cursor)
    return _json({"data": [row.as_dict() for row in page.items], "next_cursor": page.next_cursor})


@router.get(
    "/webhooks/{event_id}",
    responses=responses(401, 403, 404),
    summary="One stored webhook event with its payload, secrets redacted (admins only)",
)
def show_event(event_id: EventIdPath, actor: AdminDep, services: ServicesDep) -> JSONResponse:
    with services.session_factory() as session:
        return _json(event_detail(session, event_id).as_dict())


@router.post(
    "/webhooks/replay",
    responses=responses(400, 401, 403),
    summary="Replay every stored event matching a filter, oldest first (admins only)",
    description="Each event goes through the receiver's handler again and applies only where it is still news "
    "(a failed event whose cause is fixed, an unmatched one whose lesson now exists); `truncated` says more "
    "matched than `max_events`.",
)
def replay_events(body: ReplayFilter, actor: AdminDep, services: ServicesDep) -> JSONResponse:
    batch = services.webhook_ops.replay_matching(body.event_filter(), actor=actor, max_events=body.max_events)
    return _json(batch.as_dict())


@router.post(
    "/webhooks/{event_id}/replay",
    responses=responses(401, 403, 404),
    summary="Replay one stored webhook event (admins only)",
    description="`before`/`after` are the event's outcomes; an applied event changes nothing.",
)
def replay_event(event_id: EventIdPath, actor: AdminDep, services: ServicesDep) -> JSONResponse:
    return _json(services.webhook_ops.replay(event_id, actor=actor).as_dict())


@router.post(
    "/lessons/{lesson_id}/repair",
    responses=responses(401, 403, 404, 502, 503),
    summary="Repair a lesson from Mux's current asset state (admins only)",
    description="For an event that never arrived: fetches the lesson's asset from Mux and heals the lesson the "
    "way the assets sync does (ready or errored, playback id, duration).",
)
def repair_lesson(lesson_id: LessonIdPath, actor: AdminDep, services: ServicesDep) -> JSONResponse:
    return _json(services.webhook_ops.repair_lesson(lesson_id, actor=actor).as_dict())

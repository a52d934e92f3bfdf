"""Dependencies, declared once as `Annotated` aliases.

They are `async def` on purpose: they do no I/O, and FastAPI runs every sync dependency in the
threadpool — a thread hop per dependency per request, which cost more than the endpoints themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from core.auth import MAX_ID, bearer_token, verify_token
from core.errors import Unauthenticated
from core.settings import Settings
from core.tickets import MAX_TICKET_CHARS, TicketPurpose

bearer_scheme = HTTPBearer(
    auto_error=False, description="The platform's JWT (HS256, `sub` = user id). `lectern token --user ID` mints one."
)


async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_user_id(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> int:
    """The user id in a valid bearer token (the user row is checked with the lesson, in one query)."""
    if credentials is None:
        raise Unauthenticated("missing or malformed Authorization header (expected: Bearer <token>)")
    # Straight from app state rather than via ServicesDep: each dependency level costs on every request.
    return request.app.state.services.tokens.user_id(credentials.credentials)  # type: ignore[no-any-return]


UserIdDep = Annotated[int, Depends(get_user_id)]


@dataclass(frozen=True)
class StreamAuth:
    user_id: int
    expires_at: float  # the token's or ticket's exp (unix seconds): an event stream ends then
    lesson_ids: frozenset[int] | None = None  # a ticket's lessons; None: a bearer token, any lesson

    def require(self, lesson_ids: list[int]) -> None:
        """A ticket authenticates only for its own lessons (a bearer token for any: access decides)."""
        if self.lesson_ids is None:
            return
        for lesson_id in lesson_ids:
            if lesson_id not in self.lesson_ids:
                raise Unauthenticated(f"ticket is not for lesson {lesson_id}")


TicketQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_TICKET_CHARS,
        description="For EventSource and sendBeacon, which cannot send headers: a ticket from "
        "`POST /api/lessons/{id}/ticket` (never the bearer token: URLs end up in logs).",
    ),
]


async def get_stream_auth(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ticket: TicketQuery = None,
) -> StreamAuth:
    if credentials is not None:
        token = credentials.credentials
        user_id = services.tokens.user_id(token)  # the usual check (and its cache)
        _, expires_at = verify_token(
            services.settings.platform_jwt_secret.get_secret_value(), token, now=services.tokens.clock()
        )
        return StreamAuth(user_id, expires_at)
    if not ticket:
        raise Unauthenticated("missing credentials (Authorization: Bearer <token>, or ?ticket=)")
    found = services.tickets.signer.verify(ticket, purpose=TicketPurpose.events)
    return StreamAuth(found.user_id, found.expires_at, found.lesson_ids)


def bearer_or_ticket(
    services: Services, authorization: str | None, ticket: str | None, *, purpose: TicketPurpose, lesson_id: int
) -> int:
    """The user a request authenticates as: its bearer header if it has one, else a ticket for this lesson."""
    if authorization is not None:
        return services.tokens.user_id(bearer_token(authorization))
    if not ticket:
        raise Unauthenticated("missing credentials (Authorization: Bearer <token>, or a ticket)")
    return services.tickets.signer.verify(ticket, purpose=purpose, lesson_ids=(lesson_id,)).user_id


StreamAuthDep = Annotated[StreamAuth, Depends(get_stream_auth)]


# Every id in a path: a number no row can have (over 2^31 - 1, or not positive) is a 422, never a 500 from
# the database driver. Body fields use `api.schemas.RowId`.
LessonIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The lesson's id.")]

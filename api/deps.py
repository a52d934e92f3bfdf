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
from core.auth import MAX_ID, verify_token
from core.errors import Unauthenticated
from core.settings import Settings

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
    expires_at: float  # the token's exp (unix seconds): an event stream ends then


async def get_stream_auth(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    access_token: Annotated[
        str | None, Query(description="For EventSource, which cannot send headers: the bearer token.")
    ] = None,
) -> StreamAuth:
    token = credentials.credentials if credentials is not None else access_token
    if not token:
        raise Unauthenticated("missing token (Authorization: Bearer <token>, or ?access_token=)")
    user_id = services.tokens.user_id(token)  # the usual check (and its cache)
    _, expires_at = verify_token(
        services.settings.platform_jwt_secret.get_secret_value(), token, now=services.tokens.clock()
    )
    return StreamAuth(user_id, expires_at)


StreamAuthDep = Annotated[StreamAuth, Depends(get_stream_auth)]


# Every id in a path: a number no row can have (over 2^31 - 1, or not positive) is a 422, never a 500 from
# the database driver. Body fields use `api.schemas.RowId`.
LessonIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The lesson's id.")]

"""Direct-upload URLs for lesson videos."""

from __future__ import annotations

from fastapi import APIRouter, Header

from api.deps import ServicesDep, UserIdDep
from api.errors import responses
from api.schemas import UploadUrlRequest, UploadUrlResponse

router = APIRouter(prefix="/api/videos/mux", tags=["uploads"])


@router.post(
    "/upload-url",
    response_model=UploadUrlResponse,
    responses=responses(400, 401, 403, 404, 502, 503),
    summary="Get a Mux direct-upload URL for a lesson (its teacher or an admin)",
)
def create_upload_url(
    body: UploadUrlRequest,
    user_id: UserIdDep,
    services: ServicesDep,
    origin: str | None = Header(default=None, include_in_schema=False),
) -> UploadUrlResponse:
    # A browser calling from one of LECTERN_CORS_ORIGIN's origins gets an upload URL that accepts the file from
    # that origin (the page will send it from there); any other caller gets the first of them.
    ticket = services.lessons.request_upload(user_id, body.lesson_id, origin=origin)
    return UploadUrlResponse(
        upload_id=ticket.upload_id,
        url=ticket.url,
        expires_at=ticket.expires_at,
        lesson_id=ticket.lesson_id,
        reused=ticket.reused,
    )

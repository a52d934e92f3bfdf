"""Direct-upload URLs for lesson videos."""

from __future__ import annotations

from fastapi import APIRouter

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
def create_upload_url(body: UploadUrlRequest, user_id: UserIdDep, services: ServicesDep) -> UploadUrlResponse:
    ticket = services.lessons.request_upload(user_id, body.lesson_id)
    return UploadUrlResponse(
        upload_id=ticket.upload_id,
        url=ticket.url,
        expires_at=ticket.expires_at,
        lesson_id=ticket.lesson_id,
        reused=ticket.reused,
    )

"""Request and response bodies of the Lectern API (what /docs shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from core.auth import MAX_ID
from core.errors import ErrorKind

# An id from a request body: bounded like a path id (`api.deps.LessonIdPath`), so no driver overflows.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


class ErrorDetail(BaseModel):
    type: str = Field(description="Error class, e.g. `Forbidden`, `NotFound`, `WebhookSignatureInvalid`.")
    kind: ErrorKind = Field(description="What the caller can do about it; the HTTP status follows from it.")
    message: str
    reason: str | None = Field(default=None, description="Why a token or signature was rejected.")
    context: dict[str, Any] | None = Field(default=None, description="e.g. the lesson's video status on 409.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class UploadUrlRequest(BaseModel):
    lesson_id: RowId


class UploadUrlResponse(BaseModel):
    upload_id: str
    url: str = Field(description="PUT the file here (chunked with Content-Range, or in one request).")
    expires_at: datetime
    lesson_id: int
    reused: bool = Field(description="True when a still-pending upload was returned instead of a new one.")


class WebhookResponse(BaseModel):
    event_id: str
    outcome: Literal["applied", "stale", "unmatched", "ignored", "duplicate"]
    lesson_id: int | None = None
    reason: str | None = None


class PlaybackUrlsOut(BaseModel):
    hls: str | None = None
    mp4: str | None = None
    thumbnail: str | None = None
    storyboard: str | None = Field(default=None, description="WebVTT storyboard (timeline hover previews).")
    storyboard_image: str | None = None
    poster: str | None = None


class PlaybackResponse(BaseModel):
    lesson_id: int
    provider: Literal["mux", "s3"]
    policy: str = Field(description="public | signed (Mux) or presigned (S3).")
    playback_id: str | None = None
    urls: PlaybackUrlsOut
    tokens: dict[str, str] = Field(description="Signed lessons: JWT per audience (video, thumbnail, storyboard).")
    duration_s: float | None = None
    expires_at: datetime | None = Field(description="When the first URL/token stops working; null = never.")
    viewer_user_id: str | None = Field(
        default=None,
        description="Send this to Mux Data as `viewer_user_id` (metadata-viewer-user-id): the viewer's "
        "pseudonymous key, never the platform user id.",
    )


class LessonStatusResponse(BaseModel):
    lesson_id: int
    status: Literal["none", "waiting_upload", "processing", "ready", "errored"]
    provider: Literal["mux", "s3"] | None
    playback_policy: str
    asset_id: str | None
    playback_id: str | None
    upload_id: str | None
    duration_s: float | None
    error: str | None
    updated_at: datetime | None


class HealthResponse(BaseModel):
    status: str
    detail: str | None = None

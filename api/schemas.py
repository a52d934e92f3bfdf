"""Request and response bodies of the Lectern API (what /docs shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from core.auth import MAX_ID
from core.errors import ErrorKind
from core.progress.plan import MAX_SECONDS

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


class TicketResponse(BaseModel):
    ticket: str = Field(description="Put it in `?ticket=` (EventSource, sendBeacon) or a beacon body's `ticket`.")
    lesson_ids: list[int]
    purposes: list[Literal["events", "progress"]] = Field(
        description="`events` always; `progress` for one lesson the user is enrolled in (a teacher's or admin's "
        "preview writes no progress)."
    )
    expires_at: datetime = Field(description="At most LECTERN_TICKET_TTL_S from now; ask for a new one before.")


# A number of seconds in a report: finite, not negative, and no lesson is 48 hours long.
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]


class ProgressReportIn(BaseModel):
    """One report from the player (JSON, also in a `text/plain` body: what sendBeacon sends)."""

    model_config = {"extra": "forbid"}

    session_id: UUID = Field(description="A new uuid per page view of the player (one play session).")
    seq: int = Field(ge=0, le=MAX_ID, description="Counts the session's reports from 0; the highest wins.")
    position_s: Seconds = Field(description="Where the player is now.")
    duration_s: Seconds | None = Field(default=None, description="The media's duration as the player knows it.")
    ranges: list[tuple[Seconds, Seconds]] = Field(
        default_factory=list,
        max_length=10_000,
        description="Watched [start, end] ranges since the session began (sending them all again is fine: they "
        "are merged by union; at most LECTERN_PROGRESS_MAX_RANGES).",
    )
    event: Literal["heartbeat", "pause", "ended", "hidden"] = "heartbeat"
    ticket: str | None = Field(default=None, max_length=1024, description="A `progress` ticket, when not in the URL.")

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, ranges: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for start, end in ranges:
            if end < start:
                raise ValueError("each range is [start, end] with start <= end")
        return ranges


class ProgressResponse(BaseModel):
    lesson_id: int
    session_id: str
    seq: int
    resume_position_s: float = Field(description="Where to resume: the newest session's newest position.")
    furthest_position_s: float
    seconds_watched: float = Field(description="Seconds watched, summed over sessions (the platform's measure).")
    covered_s: float = Field(description="Distinct seconds of the lesson ever watched (what completion counts).")
    completed: bool
    completed_at: datetime | None


class ProgressOut(BaseModel):
    lesson_id: int
    resume_position_s: float
    furthest_position_s: float
    seconds_watched: float
    covered_s: float
    completed: bool
    completed_at: datetime | None
    updated_at: datetime | None

"""One real Lectern error per kind, with what a user should be told: shared by the API, CLI and page tests."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import (
    BodyTooLarge,
    Conflict,
    ErrorKind,
    Forbidden,
    HeadersTooLarge,
    LecternError,
    LessonIdsInvalid,
    MuxInvalidRequest,
    NotFound,
    StorageCredentialsInvalid,
    TooManyStreams,
    Unauthenticated,
)
from warehouse.store import WarehouseNotReady

# An internal detail that an error's message carries but a user must never see.
INTERNAL_DETAIL = "bucket lectern-private-videos"


@dataclass(frozen=True)
class Sample:
    error: LecternError
    shown: str  # the message a user is shown


def sample(kind: ErrorKind) -> Sample:
    """A fresh error of `kind` (errors carry tracebacks: never raise one instance twice)."""
    match kind:
        case ErrorKind.INVALID:
            error: LecternError = LessonIdsInvalid("ids must be lesson ids separated by commas, e.g. ids=1,2,3")
        case ErrorKind.UNAUTHENTICATED:
            error = Unauthenticated("token expired")
        case ErrorKind.FORBIDDEN:
            error = Forbidden("cost reports are for admins")
        case ErrorKind.NOT_FOUND:
            error = NotFound("lesson 7 not found")
        case ErrorKind.CONFLICT:
            error = Conflict("lesson 7 has no playable video yet", context={"status": "waiting_upload"})
        case ErrorKind.TOO_LARGE:
            error = BodyTooLarge(1024)
        case ErrorKind.HEADERS_TOO_LARGE:
            error = HeadersTooLarge("request line and headers over 16384 bytes")
        case ErrorKind.RETRYABLE:
            error = TooManyStreams("too many open event streams for this user; close one", retry_after=5)
        case ErrorKind.UNAVAILABLE:
            error = WarehouseNotReady("no warehouse published yet; run `lectern sync --once`")
        case ErrorKind.UPSTREAM:
            error = MuxInvalidRequest("Mux refused the request: invalid_parameters", status=400)
        case ErrorKind.MISCONFIGURED:
            error = StorageCredentialsInvalid(f"{INTERNAL_DETAIL}: InvalidAccessKeyId")
        case ErrorKind.INTERNAL:
            error = LecternError("an invariant broke")
    assert error.kind is kind
    shown = error.user_message
    assert INTERNAL_DETAIL not in shown
    return Sample(error, shown)

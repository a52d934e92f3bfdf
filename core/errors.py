"""Lectern's error hierarchy: catch by category, read the context off the instance.

Every error Lectern raises on purpose derives from `LecternError`, whatever the layer (core, warehouse,
sync, api, dashboard, lectern). Each class has a `kind` (an `ErrorKind`: what the caller can do about it)
and a `user_message` (safe to show: the message, or a public one when the message carries internals such
as bucket names). The edges map kinds once each: `api/errors.py` to HTTP statuses, `lectern/cli.py` to exit
codes, `dashboard/error_boundary.py` to `st.error`.

```
LecternError                         base of everything Lectern raises on purpose          kind
├── TransientError                   the same call may succeed later: retry with backoff
│   ├── MuxRateLimited               Mux answered 429 (.retry_after seconds, when sent)     unavailable
│   ├── MuxUnavailable               Mux answered 5xx, timed out or could not be reached    unavailable
│   ├── StorageUnavailable           S3 answered 5xx/throttled or could not be reached      unavailable
│   ├── TooManyStreams               a user or process holds its cap of event streams      retryable
│   ├── HashingBusy (core.passwords) every password-check slot stayed taken                 retryable
│   ├── WarehouseBusy (warehouse.store)  another process holds the warehouse writer lock   retryable
│   ├── TooManyReports, WriterBusy (core.progress)  progress reports past the rate limit / queue  retryable
│   ├── ProgressUnavailable (core.progress.store)  the DB failed a batch of progress reports  unavailable
│   ├── WarehouseStorageFull, WarehouseReadOnly (warehouse.store)  its disk refuses writes   unavailable
│   ├── DatabaseUnavailable          the platform database cannot be reached or is busy    unavailable
│   └── ApiUnreachable (lectern.errors)  the Lectern API in LECTERN_API_URL does not answer  unavailable
└── PermanentError                   retrying the same call will fail the same way: fix the input/config
    ├── MuxInvalidRequest            Mux answered 400/409/422 (Mux's own messages kept)     upstream
    ├── MuxAuthError                 Mux answered 401/403: wrong token or missing permission upstream
    ├── MuxNotFound                  Mux answered 404: the asset/upload/key does not exist  upstream
    ├── MuxResponseInvalid           Mux answered 2xx but the SDK could not read the body   upstream
    │   └── MuxPageLimitExceeded     a list walk passed its page cap or looped              upstream
    ├── StorageError                 S3 refused the request (4xx other than not-found)      upstream
    │   └── StorageCredentialsInvalid  S3 credentials missing, expired or rejected          misconfigured
    ├── WebhookSignatureInvalid      a webhook's Mux-Signature did not verify (.reason)     unauthenticated
    ├── WebhookPayloadInvalid        a verified webhook body is not a Mux event             invalid
    ├── Unauthenticated              no, malformed or expired platform token (.reason)      unauthenticated
    ├── Forbidden                    authenticated, but not allowed to do this              forbidden
    ├── NotFound                     a Lectern object (lesson, user, S3 key) does not exist not_found
    ├── Conflict                     the object's state does not allow this (.context)      conflict
    ├── NotConfigured                a feature needs settings that are not set              misconfigured
    ├── LessonIdsInvalid             a list of lesson ids (`?ids=1,2,3`) is malformed       invalid
    └── RequestRejected              the HTTP request is refused before any route runs      invalid
        ├── BodyTooLarge             body over the route's limit (.limit)                   too_large
        └── HeadersTooLarge          request line + headers over the limit, or too many     headers_too_large
```

Elsewhere, on the same classes:

```
PermanentError
├── SettingsError (core.settings)            a setting is missing or malformed              misconfigured
├── CostError (core.costs.errors)            cost inputs and price book                     invalid
├── VerificationFailed, IngestFailed, LessonChanged, LeaseLost (core.migration.errors)
├── SchemaError (warehouse.schema)           the warehouse file is newer than this Lectern  misconfigured
├── WarehouseNotReady (warehouse.store)      nothing published yet                          unavailable
│   └── NoWarehouse (dashboard.analytics)    the same, worded for the dashboard
├── MissingColumns (warehouse.view_exports)  an export file lacks warehouse columns         invalid
├── QueryRefused, QueryFailed, QueryTimedOut (warehouse.sql.errors)  a SQL workbench query   invalid
├── SavedQueryInvalid (core.saved_queries)   a saved query's name or SQL is empty or long    invalid
├── ReportInvalid (core.progress.plan)       a progress report that cannot be true of its lesson  invalid
├── NotEnrolled (core.progress.store)        a Forbidden: a teacher's or admin's preview has no progress  forbidden
├── ViewExportsUnavailable (sync.sources), RefusedUrl (sync.view_exports)                   upstream
├── SyncConfigError (sync.runner)            a NotConfigured for sync jobs                  misconfigured
├── SignInError (dashboard.auth)             sign-in refused                                unauthenticated
└── UploadFailed, SimulationFailed, DatabaseNotEmpty, InvalidArgument, DatabaseNotMigrated (lectern)
```

Every Mux error also derives from `MuxError`, which carries the HTTP `status`, Mux's error `type` and
its `messages` (parsed from `{"error": {"type", "messages"}}`, or the 429 shape `{"errors": [...]}`), so
`except MuxError` catches all of them and `except TransientError` catches only those worth retrying.
`core/retry.py` retries `TransientError` and nothing else.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorKind(StrEnum):
    """What the caller can do about an error; each edge (HTTP, CLI, dashboard) maps these once."""

    INVALID = "invalid"  # the input is wrong: fix it
    UNAUTHENTICATED = "unauthenticated"  # who is asking is unknown: sign in again
    FORBIDDEN = "forbidden"  # known, but not allowed
    NOT_FOUND = "not_found"  # the object does not exist (or may not be seen)
    CONFLICT = "conflict"  # the object's state does not allow this now
    TOO_LARGE = "too_large"  # the request body is over its limit
    HEADERS_TOO_LARGE = "headers_too_large"  # the request head is over its limit
    RETRYABLE = "retryable"  # Lectern is busy: the same request may succeed in a moment
    UNAVAILABLE = "unavailable"  # a dependency (Mux, S3, the warehouse) is down or not ready
    UPSTREAM = "upstream"  # Mux, S3 or the emulator refused the request
    MISCONFIGURED = "misconfigured"  # a setting is missing or wrong: an operator must fix it
    INTERNAL = "internal"  # none of the above: a bug


class LecternError(Exception):
    """Base class: every error Lectern raises on purpose."""

    kind: ClassVar[ErrorKind] = ErrorKind.INTERNAL
    # Shown instead of the message when the message carries internals (bucket, key, variable names).
    public_message: ClassVar[str | None] = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def user_message(self) -> str:
        """The message safe to show a user (the internal one stays in the log)."""
        return self.public_message or self.message


class TransientError(LecternError):
    """The same call may succeed later; safe to retry with backoff."""

    kind = ErrorKind.UNAVAILABLE


class DatabaseUnavailable(TransientError):
    """The platform database in DATABASE_URL cannot be reached (down, restarting, refused) or is too busy to answer."""


class PermanentError(LecternError):
    """Retrying the same call will fail the same way."""


class MuxError(LecternError):
    """A Mux API call failed. `status` is 0 when no HTTP answer arrived."""

    kind = ErrorKind.UPSTREAM

    def __init__(
        self, message: str, *, status: int = 0, type: str | None = None, messages: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.messages = messages


class MuxRateLimited(MuxError, TransientError):
    kind = ErrorKind.UNAVAILABLE

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class MuxUnavailable(MuxError, TransientError):
    kind = ErrorKind.UNAVAILABLE


class MuxInvalidRequest(MuxError, PermanentError):
    pass


class MuxAuthError(MuxError, PermanentError):
    pass


class MuxNotFound(MuxError, PermanentError):
    pass


class MuxResponseInvalid(MuxError, PermanentError):
    pass


class MuxPageLimitExceeded(MuxResponseInvalid):
    """A list walk went past its page cap, or Mux handed back a cursor it had given before."""


class StorageUnavailable(TransientError):
    pass


class StorageError(PermanentError):
    kind = ErrorKind.UPSTREAM


class StorageCredentialsInvalid(StorageError):
    """S3 credentials are missing, expired or rejected; retrying will not help until an operator fixes them."""

    kind = ErrorKind.MISCONFIGURED
    public_message = "video storage is unavailable: the server's S3 credentials need an operator; try again later"


class WebhookSignatureInvalid(PermanentError):
    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook signature rejected: {reason}")
        self.reason = reason


class WebhookPayloadInvalid(PermanentError):
    kind = ErrorKind.INVALID


class Unauthenticated(PermanentError):
    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(PermanentError):
    kind = ErrorKind.FORBIDDEN


class NotFound(PermanentError):
    kind = ErrorKind.NOT_FOUND


class Conflict(PermanentError):
    kind = ErrorKind.CONFLICT

    def __init__(self, message: str, *, context: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.context = context or {}


class NotConfigured(PermanentError):
    kind = ErrorKind.MISCONFIGURED


class TooManyStreams(TransientError):
    """A user (or this API process) holds as many event streams as allowed; try again after `retry_after` s."""

    kind = ErrorKind.RETRYABLE

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LessonIdsInvalid(PermanentError):
    """A list of lesson ids (`?ids=1,2,3`) is malformed or longer than allowed."""

    kind = ErrorKind.INVALID


class RequestRejected(PermanentError):
    """The HTTP request itself is refused before any route runs."""

    kind = ErrorKind.INVALID


class BodyTooLarge(RequestRejected):
    kind = ErrorKind.TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


class HeadersTooLarge(RequestRejected):
    kind = ErrorKind.HEADERS_TOO_LARGE

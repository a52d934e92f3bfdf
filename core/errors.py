"""Lectern's error hierarchy: catch by category, read the context off the instance.

```
LecternError                      base of everything Lectern raises on purpose
├── TransientError                the same call may succeed later: retry with backoff
│   ├── MuxRateLimited            Mux answered 429 (.retry_after seconds, when Mux sent one)
│   ├── MuxUnavailable            Mux answered 5xx, timed out or could not be reached
│   └── StorageUnavailable        S3 answered 5xx/throttled or could not be reached
└── PermanentError                retrying the same call will fail the same way: fix the input/config
    ├── MuxInvalidRequest         Mux answered 400/409/422 (Mux's own messages kept)
    ├── MuxAuthError              Mux answered 401/403: wrong token, or token lacks a permission
    ├── MuxNotFound               Mux answered 404: the asset/upload/key does not exist
    ├── MuxResponseInvalid        Mux answered 2xx but the SDK could not read the body
    │   └── MuxPageLimitExceeded  a list walk passed its page cap (MUX_LIST_MAX_PAGES) or looped
    ├── StorageError              S3 refused the request (4xx other than not-found)
    │   └── StorageCredentialsInvalid  S3 credentials missing, expired or rejected (an operator must fix)
    ├── WebhookSignatureInvalid   a webhook's Mux-Signature did not verify (.reason)
    ├── WebhookPayloadInvalid     a verified webhook body is not a Mux event
    ├── Unauthenticated           no, malformed or expired platform token (HTTP 401)
    ├── Forbidden                 authenticated, but not allowed to do this (HTTP 403)
    ├── NotFound                  a Lectern object (lesson, user, S3 key) does not exist (HTTP 404)
    ├── Conflict                  the object is not in a state that allows this (HTTP 409)
    ├── NotConfigured             a feature needs settings that are not set (names the variables)
    └── RequestRejected           the HTTP request itself is refused before any route runs (.status)
        ├── BodyTooLarge          body over the route's limit (HTTP 413)
        └── HeadersTooLarge       request line + headers over the limit, or too many headers (HTTP 431)
```

Every Mux error also derives from `MuxError`, which carries the HTTP `status`, Mux's error `type` and
its `messages` (parsed from `{"error": {"type", "messages"}}`, or the 429 shape `{"errors": [...]}`), so
`except MuxError` catches all of them and `except TransientError` catches only those worth retrying.
`core/retry.py` retries `TransientError` and nothing else.
"""

from __future__ import annotations

from typing import Any


class LecternError(Exception):
    """Base class: every error Lectern raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(LecternError):
    """The same call may succeed later; safe to retry with backoff."""


class PermanentError(LecternError):
    """Retrying the same call will fail the same way."""


class MuxError(LecternError):
    """A Mux API call failed. `status` is 0 when no HTTP answer arrived."""

    def __init__(
        self, message: str, *, status: int = 0, type: str | None = None, messages: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.messages = messages


class MuxRateLimited(MuxError, TransientError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class MuxUnavailable(MuxError, TransientError):
    pass


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
    pass


class WebhookSignatureInvalid(PermanentError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook signature rejected: {reason}")
        self.reason = reason


class WebhookPayloadInvalid(PermanentError):
    pass


class Unauthenticated(PermanentError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(PermanentError):
    pass


class NotFound(PermanentError):
    pass


class Conflict(PermanentError):
    def __init__(self, message: str, *, context: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.context = context or {}


class NotConfigured(PermanentError):
    pass


# Event streams (issue 15 item 10): a user or process over its cap, a malformed list of lesson ids.


class TooManyStreams(TransientError):
    """A user (or this API process) holds as many event streams as allowed; try again after `retry_after` s."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LessonIdsInvalid(PermanentError):
    """A list of lesson ids (`?ids=1,2,3`) is malformed or longer than allowed (HTTP 400)."""


# Request hardening (issue 15): storage credentials and requests refused before any route runs.


class StorageCredentialsInvalid(StorageError):
    """S3 credentials are missing, expired or rejected; retrying will not help until an operator fixes them."""


class RequestRejected(PermanentError):
    status = 400


class BodyTooLarge(RequestRejected):
    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


class HeadersTooLarge(RequestRejected):
    status = 431

"""Migration errors, on top of `core.errors` (see its docstring for the whole hierarchy).

```
PermanentError                                                                       kind
├── VerificationFailed   the asset exists but is not fit to replace the S3 video (.reason)  upstream
├── IngestFailed         Mux could not make an asset from the source (Mux's own message)   upstream
├── LessonChanged        the lesson moved on during the migration (a new upload, S3 key)   conflict
└── LeaseLost            this worker no longer owns the job (cancelled, or reclaimed after  conflict
                         its heartbeat went stale); the worker drops the job and touches nothing
```
"""

from __future__ import annotations

from core.errors import ErrorKind, PermanentError


class VerificationFailed(PermanentError):
    kind = ErrorKind.UPSTREAM

    def __init__(self, reason: str) -> None:
        super().__init__(f"verification failed: {reason}")
        self.reason = reason


class IngestFailed(PermanentError):
    kind = ErrorKind.UPSTREAM


class LessonChanged(PermanentError):
    kind = ErrorKind.CONFLICT


class LeaseLost(PermanentError):
    """The job was cancelled or taken over; whatever this worker was doing with it must stop."""

    kind = ErrorKind.CONFLICT

    def __init__(self, job_id: int, lease: str) -> None:
        super().__init__(f"job {job_id}: lease {lease} lost (cancelled, or reclaimed after a stale heartbeat)")
        self.job_id = job_id
        self.lease = lease

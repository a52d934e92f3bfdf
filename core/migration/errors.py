"""Migration errors, on top of `core.errors` (see its docstring for the whole hierarchy).

```
PermanentError
├── VerificationFailed   the asset exists but is not fit to replace the S3 video (.reason)
├── IngestFailed         Mux could not make an asset from the source (Mux's own message)
└── LessonChanged        the lesson moved on during the migration (a new upload, another S3 key)
LeaseLost                not a LecternError: this worker no longer owns the job (cancelled, or reclaimed
                         after its heartbeat went stale); the worker drops the job and touches nothing
```
"""

from __future__ import annotations

from core.errors import PermanentError


class VerificationFailed(PermanentError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"verification failed: {reason}")
        self.reason = reason


class IngestFailed(PermanentError):
    pass


class LessonChanged(PermanentError):
    pass


class LeaseLost(Exception):
    """The job was cancelled or taken over; whatever this worker was doing with it must stop."""

    def __init__(self, job_id: int, lease: str) -> None:
        super().__init__(f"job {job_id}: lease {lease} lost (cancelled, or reclaimed after a stale heartbeat)")
        self.job_id = job_id
        self.lease = lease

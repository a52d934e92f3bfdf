"""The CLI's own errors, and the one place a driver's exception becomes a `LecternError`.

`lectern/cli.py` prints every `LecternError` as one line with the exit code of its kind. The database
driver's errors are not ours, so `as_lectern_error` translates the ones a user can act on: an unreachable
DATABASE_URL (kind unavailable) and a database without Lectern's tables (kind misconfigured). Commands
therefore let SQLAlchemy's errors through instead of catching them one by one.
"""

from __future__ import annotations

import sys

from core.errors import DatabaseUnavailable, ErrorKind, LecternError, PermanentError, TransientError


class InvalidArgument(PermanentError):
    """A value the command checks itself (click checks types and ranges) is malformed or does not fit."""

    kind = ErrorKind.INVALID


class ApiUnreachable(TransientError):
    """The Lectern API in LECTERN_API_URL does not answer."""


class DatabaseNotMigrated(PermanentError):
    """The platform database answers but has no Lectern tables: `lectern db upgrade` creates them."""

    kind = ErrorKind.MISCONFIGURED


# PostgreSQL's SQLSTATE for "relation does not exist"; SQLite says "no such table".
_UNDEFINED_TABLE = "42P01"


def as_lectern_error(exc: BaseException) -> LecternError | None:
    """`exc` itself when it is a LecternError, its translation when the CLI knows it, else None."""
    if isinstance(exc, LecternError):
        return exc
    # Without sqlalchemy imported, `exc` cannot be one of its errors: `lectern --help` never imports it.
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.DBAPIError):
        return None
    cause = exc.orig if exc.orig is not None else exc
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0].strip()
    if getattr(cause, "sqlstate", None) == _UNDEFINED_TABLE or reason.startswith("no such table"):
        return DatabaseNotMigrated(f"the platform database has no Lectern tables ({reason}); run `lectern db upgrade`")
    if isinstance(exc, sa_exc.OperationalError):
        return DatabaseUnavailable(f"cannot reach the platform database in DATABASE_URL: {reason}")
    return None

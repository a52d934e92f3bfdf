"""What the SQL workbench says when it will not, or could not, run a query (all kind `invalid`: fix the query)."""

from __future__ import annotations

from core.errors import ErrorKind, PermanentError


class QueryRefused(PermanentError):
    """Not a single SELECT/EXPLAIN, or it reaches outside the snapshot (files, network, settings)."""

    kind = ErrorKind.INVALID


class QueryFailed(PermanentError):
    """DuckDB could not run the query: a syntax error, an unknown table or column, over the memory limit."""

    kind = ErrorKind.INVALID


class QueryTimedOut(PermanentError):
    """The query ran past the time limit and was interrupted."""

    kind = ErrorKind.INVALID

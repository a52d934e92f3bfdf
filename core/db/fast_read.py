"""One SELECT compiled once, run on the bare DB-API cursor: for the few reads on a request's hot path.

SQLAlchemy's Core execution costs more than the query itself on the playback route (measured on
PostgreSQL: 349 us of CPU per call through `Connection.execute`, 135 us on the raw psycopg cursor): it
builds an execution context and reads `cursor.description`, which makes psycopg create a Column object per
selected column. `FastRead` compiles the statement once per dialect and applies the columns' own result processors (e.g.
`UTCDateTime` on SQLite, which stores naive strings), so rows come back exactly as `Connection.execute`
would return them, for a fraction of the cost. The processors depend on the driver's type codes
(PostgreSQL numerics), so they are built from `cursor.description` on the first execution. Statements
with a bind processor (a parameter type that converts on the way in) are refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect

Processor = Callable[[Any], Any] | None


@dataclass
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order, for qmark/numeric paramstyles
    defaults: dict[str, Any]  # values bound in the statement itself (literals, bindparam(value=...))
    processors: tuple[Processor, ...] | None = None  # from the first execution's cursor.description


class FastRead:
    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if any(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in compiled.binds.values()):
            raise TypeError("FastRead supports parameters of plain types only (no bind processors)")
        positional = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        defaults = {name: value for name, value in compiled.params.items() if value is not None}
        return _Compiled(compiled.string, positional, defaults)

    def _processors(self, dialect: Dialect, description: Any) -> tuple[Processor, ...]:
        return tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(self.statement.selected_columns, description, strict=True)
        )

    def compiled_for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            with self._lock:
                found = self._compiled.setdefault(dialect.name, self._compile(dialect))
        return found

    def one_or_none(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        compiled = self.compiled_for(conn.dialect)
        values = {**compiled.defaults, **params} if compiled.defaults else params
        args: Any = tuple(values[name] for name in compiled.positional) if compiled.positional else dict(values)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, args)
            if compiled.processors is None:
                compiled.processors = self._processors(conn.dialect, cursor.description)
            row = cursor.fetchone()
            if row is not None and cursor.fetchone() is not None:
                raise ValueError("FastRead.one_or_none: the query returned more than one row")
        finally:
            cursor.close()
        if row is None:
            return None
        processors = compiled.processors or ()
        return tuple(value if p is None else p(value) for p, value in zip(processors, row, strict=True))

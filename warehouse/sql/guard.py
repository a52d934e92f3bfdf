"""The workbench's guards: which statements run, and the locked-down DuckDB instance they run in.

Two layers, each enough on its own for what it covers:

1. **DuckDB's own parser types the text** (`extract_statements`): exactly one statement, of type SELECT, or
   EXPLAIN of a SELECT (EXPLAIN ANALYZE runs what it explains). Everything else — CREATE (temporary tables
   and views too: a read-only database allows them, and they cost memory), INSERT, UPDATE, DELETE, DROP,
   COPY, EXPORT, ATTACH, DETACH, INSTALL/LOAD, SET/PRAGMA/RESET, CALL, transactions — is refused before
   anything runs.
2. **The engine's own settings, locked before the query runs.** Each query gets a fresh in-memory DuckDB
   instance (settings are per instance, so one analyst's query never shares state, memory or a lock with
   another's, nor with the sync, which writes a different file). Set at start: no extension auto-install or
   auto-load, no Python replacement scans (a default connection can `SELECT` any DataFrame in the caller's
   scope), `threads`, `memory_limit`, `max_temp_directory_size` (spill files in a directory of its own).
   Then the published snapshot is attached READ_ONLY, `allowed_paths` is limited to that file,
   `enable_external_access=false` (no files, URLs, extensions or environment), and `lock_configuration=true`
   (no SET can undo any of it).

Why an in-memory instance that ATTACHes the snapshot rather than `duckdb.connect(snapshot, config=...)`:
DuckDB's Python client keeps one instance per file per process and refuses a second with other settings
("Can't open a connection to same database file with a different configuration"), and the dashboard's
`WarehouseReader` already holds the snapshot; and `allowed_paths` can only be set once an instance runs.
Nothing of the user's runs before the lock, so the order is not visible to a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.sql.errors import QueryFailed, QueryRefused

ALIAS = "warehouse"
# What each refused statement type would do; the refusal names it.
_WHY = {
    "CREATE": "creates a table, view, macro or secret (temporary ones too)",
    "CREATE_FUNC": "creates a function",
    "INSERT": "changes rows",
    "UPDATE": "changes rows",
    "DELETE": "deletes rows",
    "MERGE_INTO": "changes rows",
    "DROP": "drops objects",
    "ALTER": "changes the schema",
    "COPY": "reads or writes files",
    "COPY_DATABASE": "copies a database",
    "EXPORT": "writes files",
    "ATTACH": "opens another database",
    "DETACH": "closes a database",
    "LOAD": "installs or loads an extension",
    "SET": "changes settings",
    "VARIABLE_SET": "sets a variable",
    "PRAGMA": "runs a pragma",
    "CALL": "calls a procedure",
    "TRANSACTION": "controls transactions",
    "VACUUM": "rewrites storage",
    "ANALYZE": "rewrites statistics",
    "PREPARE": "prepares a statement",
    "EXECUTE": "executes a prepared statement",
    "MULTI": "runs several statements (PIVOT without an IN list creates types first)",
}
RULE = "The workbench runs one SELECT (or EXPLAIN of a SELECT) at a time, on a read-only snapshot of the warehouse."
_EXPLAIN = re.compile(
    r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^()]*\)\s*)?", re.I | re.S
)
_EXTENSION = re.compile(r"exists in the (\w+) extension")


@dataclass(frozen=True)
class EngineLimits:
    """Per-instance resources: DuckDB threads, memory, and how much may spill to disk."""

    threads: int = 1
    memory_limit: str = "1GB"
    max_temp_size: str = "2GB"


def statement_to_run(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one statement in `sql` that may run, as DuckDB's parser split it; else QueryRefused/QueryFailed."""
    statements = _parse(con, sql)
    if not statements:
        raise QueryRefused(f"There is no statement to run. {RULE}")
    if len(statements) > 1:
        raise QueryRefused(f"This text holds {len(statements)} statements. {RULE}")
    kind, query = statements[0]
    if kind == "EXPLAIN":
        explained = _EXPLAIN.match(query)
        inner = _parse(con, query[explained.end() :]) if explained else []
        if len(inner) != 1 or inner[0][0] != "SELECT":
            what = f"a {inner[0][0]} statement" if len(inner) == 1 else "something that is not one SELECT"
            raise QueryRefused(f"This EXPLAINs {what}, and EXPLAIN ANALYZE would run it. {RULE}")
    elif kind != "SELECT":
        raise QueryRefused(f"This is a {kind} statement, which {_WHY.get(kind, 'is not a query')}. {RULE}")
    return query


def _parse(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    """(statement type, its text) for each statement DuckDB's parser finds in `sql`."""
    try:
        return [(statement.type.name, str(statement.query)) for statement in con.extract_statements(sql)]
    except duckdb.ParserException as exc:
        raise QueryFailed(_first_lines(exc)) from None
    except ValueError:
        # A statement type this DuckDB client cannot even name (e.g. UPDATE EXTENSIONS): never a query.
        raise QueryRefused(f"This statement is not a query. {RULE}") from None


def translate(exc: duckdb.Error, limits: EngineLimits) -> QueryRefused | QueryFailed:
    """DuckDB's error as the workbench's: what the guards stopped is a refusal, the rest a failure."""
    message = _first_lines(exc)
    if isinstance(exc, duckdb.PermissionException):
        return QueryRefused(
            "The query reaches outside the warehouse (a file, URL, extension or the environment), which the "
            f"workbench does not allow: only the warehouse's tables and views can be queried. DuckDB: {message}"
        )
    extension = _EXTENSION.search(message)
    if extension:
        return QueryRefused(
            f"The query needs DuckDB's {extension.group(1)} extension, which the workbench never installs or loads: "
            "only the warehouse's tables and views can be queried (the platform database is not among them)."
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return QueryFailed(
            f"The query needs more memory than the workbench allows ({limits.memory_limit} per query, "
            f"{limits.max_temp_size} spilled to disk): aggregate more, or read a rollup instead of mux_views."
        )
    return QueryFailed(message)


def _first_lines(exc: BaseException) -> str:
    # DuckDB appends the statement with a caret under it; the first lines say what is wrong.
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2]).strip() or type(exc).__name__


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def start_instance(limits: EngineLimits, spill_dir: Path) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory instance with the guards DuckDB takes at start (nothing attached, nothing locked)."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "python_enable_replacements": False,
        "threads": limits.threads,
        "memory_limit": limits.memory_limit,
        "max_temp_directory_size": limits.max_temp_size,
        "temp_directory": str(spill_dir),
    }
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def attach_snapshot(con: duckdb.DuckDBPyConnection, snapshot: Path, alias: str = ALIAS) -> None:
    con.execute(f"ATTACH {_quote(str(snapshot))} AS {alias} (READ_ONLY)")


def lock(con: duckdb.DuckDBPyConnection, allowed_paths: list[Path]) -> None:
    """Only these files, no other file, URL, extension or setting change, from now on."""
    con.execute(f"SET allowed_paths = [{', '.join(_quote(str(p)) for p in allowed_paths)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def open_snapshot(snapshot: Path, limits: EngineLimits, spill_dir: Path) -> duckdb.DuckDBPyConnection:
    """The published snapshot, read-only, in an instance of its own with every guard set and locked."""
    con = start_instance(limits, spill_dir)
    try:
        attach_snapshot(con, snapshot)
        con.execute(f"USE {ALIAS}")
        lock(con, [snapshot])
    except BaseException:
        con.close()
        raise
    return con

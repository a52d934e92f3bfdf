"""Export every table and view of the published warehouse, one Parquet or CSV file per name."""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.schema import TABLES, VIEWS

FORMATS = ("parquet", "csv")


def export_all(con: duckdb.DuckDBPyConnection, directory: Path, fmt: str = "parquet") -> dict[str, Path]:
    """Write `<name>.<fmt>` for every table and view; returns the files by name.

    `con` should be a read-only connection to a published snapshot (`open_analyst_connection`), so an
    export is one consistent moment and never waits on, or blocks, a running sync.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose parquet or csv")
    directory.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    written: dict[str, Path] = {}
    for name in (*TABLES, *VIEWS):
        path = directory / f"{name}.{fmt}"
        # COPY takes no bound parameter for its target; the path is quoted as an SQL string literal.
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"COPY (SELECT * FROM {name}) TO {literal} ({options})").fetchall()
        written[name] = path
    return written

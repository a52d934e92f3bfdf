"""`lectern warehouse`: the published DuckDB warehouse — where it is, its tables, exports, guarded SQL."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from lectern.commands._settings import settings_or_exit

app = typer.Typer(
    help="The analytics warehouse (DuckDB): info, exports, SQL.", no_args_is_help=True, add_completion=False
)
console = Console()


@app.command("init")
def init() -> None:
    """Create (or migrate) the warehouse and publish it, without syncing anything."""
    from warehouse.store import WarehouseWriter

    settings = settings_or_exit()
    with WarehouseWriter.from_settings(settings).open():
        pass
    console.print(f"warehouse published at {settings.warehouse_path}")


@app.command("info")
def info() -> None:
    """The published snapshot, its schema version and row counts per table."""
    from warehouse.reader import open_analyst_connection
    from warehouse.schema import TABLES, current_version
    from warehouse.store import WarehouseLayout

    settings = settings_or_exit()
    layout = WarehouseLayout(settings.warehouse_path)
    with open_analyst_connection(settings.warehouse_path) as con:
        console.print(f"entry point: {layout.pointer} -> {layout.published()}")
        console.print(f"schema version: {current_version(con)}; snapshots kept: {len(layout.snapshot_files())}")
        table = Table("table", "rows", title="Tables")
        for name in TABLES:
            table.add_row(name, f"{con.execute(f'SELECT count(*) FROM {name}').fetchall()[0][0]:,}")
        console.print(table)


@app.command("export")
def export(
    directory: Path = typer.Argument(..., help="Directory to write one file per table and view into."),
    fmt: str = typer.Option("parquet", "--format", "-f", help="parquet or csv."),
) -> None:
    """Export every table and view of the published snapshot (never the sync's working file)."""
    from lectern.errors import InvalidArgument
    from warehouse.export import FORMATS, export_all
    from warehouse.reader import open_analyst_connection

    if fmt not in FORMATS:
        raise InvalidArgument(f"--format must be one of {', '.join(FORMATS)}")
    settings = settings_or_exit()
    with open_analyst_connection(settings.warehouse_path) as con:
        written = export_all(con, directory, fmt)
    console.print(f"wrote {len(written)} files to {directory}")


SQL_FORMATS = ("table", "csv", "json", "parquet")


@app.command("sql")
def sql(
    query: str = typer.Argument(..., help='One SELECT (or EXPLAIN of one), or "-" to read it from standard input.'),
    fmt: str = typer.Option(
        "table", "--format", "-f", help="table (at most LECTERN_SQL_MAX_ROWS), csv, json, parquet."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write csv/json/parquet to FILE (else stdout)."),
) -> None:
    """Run a read-only query on the published snapshot, with the dashboard workbench's guards and time limit.

    table prints at most LECTERN_SQL_MAX_ROWS rows and says when it cut; csv, json (one object per line) and
    parquet stream every row. A refused or failed query is one error line and exit code 65.
    """
    from lectern.errors import InvalidArgument
    from warehouse.sql.workbench import SqlWorkbench

    if fmt not in SQL_FORMATS:
        raise InvalidArgument(f"--format must be one of {', '.join(SQL_FORMATS)}")
    if fmt == "table" and output is not None:
        raise InvalidArgument("--output takes csv, json or parquet: choose one with --format")
    if fmt == "parquet" and output is None and sys.stdout.isatty():
        raise InvalidArgument("parquet is binary: give --output FILE (or redirect standard output)")
    text = sys.stdin.read() if query == "-" else query
    workbench = SqlWorkbench.from_settings(settings_or_exit())
    err = Console(stderr=True)
    if fmt == "table":
        result = workbench.run(text)
        table = Table(*[str(c) for c in result.frame.columns])
        for row in result.frame.astype("string").fillna("").itertuples(index=False):
            table.add_row(*row)
        console.print(table)
        cut = f"; truncated at {result.limit:,} rows (csv, json or parquet give every row)" if result.truncated else ""
        err.print(f"{result.rows:,} rows in {result.elapsed_s:.3f} s{cut}", highlight=False)
        return
    if output is None:
        done = workbench.export(text, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        # Written beside the target and renamed, so a refused or interrupted query leaves no partial file.
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("wb") as fh:
                done = workbench.export(text, fmt, fh)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    err.print(f"{done.rows:,} rows in {done.elapsed_s:.3f} s" + (f" to {output}" if output else ""), highlight=False)

"""`lectern warehouse`: the published DuckDB warehouse — where it is, its tables, exports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from lectern.commands._settings import settings_or_exit

app = typer.Typer(help="The analytics warehouse (DuckDB): info, exports.", no_args_is_help=True, add_completion=False)
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

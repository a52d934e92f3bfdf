"""Read-only access to the published warehouse, for dashboards, the API and analysts.

`WarehouseReader` keeps one read-only DuckDB connection per snapshot in the process and hands out a
cursor per use. Before each use it re-reads the pointer (one readlink); when the sync has published a
newer snapshot, new uses go to it while uses still running on the old one finish there — the old
connection closes when its last cursor is released. Readers never touch the writer's working file, so
they never meet its lock and never see a half-loaded sync.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from warehouse.store import WarehouseLayout, WarehouseNotReady


@dataclass
class _Generation:
    path: Path
    con: duckdb.DuckDBPyConnection
    refs: int = 0
    retired: bool = False


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con


def open_analyst_connection(warehouse_path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the snapshot published now (it never changes under the caller)."""
    published = WarehouseLayout(Path(warehouse_path)).published()
    if published is None:
        raise WarehouseNotReady(f"no warehouse published at {warehouse_path}; run `lectern sync --once`")
    return connect_read_only(published)


class WarehouseReader:
    def __init__(self, warehouse_path: Path) -> None:
        self.layout = WarehouseLayout(Path(warehouse_path))
        self._lock = threading.Lock()
        self._current: _Generation | None = None

    @property
    def snapshot(self) -> Path | None:
        """The snapshot new queries go to (None before the first publish)."""
        return self.layout.published()

    def _acquire(self) -> _Generation:
        for _ in range(3):
            target = self.layout.published()
            if target is None:
                raise WarehouseNotReady(f"no warehouse published at {self.layout.pointer}; run `lectern sync --once`")
            with self._lock:
                current = self._current
                if current is None or current.path != target:
                    try:
                        con = connect_read_only(target)
                    except (duckdb.IOException, FileNotFoundError):
                        # The writer's GC removed it between readlink and open: resolve again.
                        continue
                    if current is not None:
                        current.retired = True
                        if current.refs == 0:
                            current.con.close()
                    current = self._current = _Generation(target, con)
                current.refs += 1
                return current
        raise WarehouseNotReady(f"could not open the published snapshot behind {self.layout.pointer}")

    def _release(self, gen: _Generation) -> None:
        with self._lock:
            gen.refs -= 1
            if gen.retired and gen.refs == 0:
                gen.con.close()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the current snapshot; it stays on that snapshot until the block ends."""
        gen = self._acquire()
        try:
            cursor = gen.con.cursor()
            try:
                cursor.execute("SET TimeZone = 'UTC'")
                yield cursor
            finally:
                cursor.close()
        finally:
            self._release(gen)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute(sql, params or []).df()

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current.retired = True
                if self._current.refs == 0:
                    self._current.con.close()
                self._current = None


_readers: dict[Path, WarehouseReader] = {}
_readers_lock = threading.Lock()


def reader_for(warehouse_path: Path) -> WarehouseReader:
    """The process-wide reader for a warehouse path (dashboards call this on every page run)."""
    key = Path(warehouse_path).absolute()
    with _readers_lock:
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = WarehouseReader(key)
        return reader

"""Publishing snapshots and reading them: atomic swaps, readers never disturbed, one writer at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from warehouse.reader import WarehouseReader, open_analyst_connection, reader_for
from warehouse.store import WarehouseBusy, WarehouseLayout, WarehouseNotReady, WarehouseWriter

ROOT = Path(__file__).resolve().parents[2]


def _writer(tmp_path: Path, **kwargs: object) -> WarehouseWriter:
    return WarehouseWriter(WarehouseLayout(tmp_path / "warehouse.duckdb"), **kwargs)  # type: ignore[arg-type]


def _add_state(writer: WarehouseWriter, job: str, rows: int) -> None:
    with writer.open() as con:
        con.execute(
            "INSERT OR REPLACE INTO sync_state (job, last_run_at, rows, status) VALUES (?, now(), ?, 'ok')", [job, rows]
        )


def test_publish_points_the_entry_point_at_a_new_snapshot(tmp_path: Path) -> None:
    writer = _writer(tmp_path, keep_snapshots=2)
    layout = writer.layout
    with pytest.raises(WarehouseNotReady):
        open_analyst_connection(layout.pointer)
    _add_state(writer, "a", 1)
    first = layout.published()
    assert layout.pointer.is_symlink() and first is not None and first.parent == layout.snapshots.resolve()
    # The entry point is a relative symlink: `duckdb -readonly var/warehouse.duckdb` works from anywhere.
    assert not os.readlink(layout.pointer).startswith("/")
    _add_state(writer, "b", 2)
    _add_state(writer, "c", 3)
    assert layout.published() != first
    assert len(layout.snapshot_files()) == 2  # older ones collected
    assert not first.exists()
    con = open_analyst_connection(layout.pointer)
    assert con.execute("SELECT job FROM sync_state ORDER BY job").fetchall() == [("a",), ("b",), ("c",)]
    with pytest.raises(duckdb.Error):
        con.execute("DELETE FROM sync_state")  # read-only
    con.close()


def test_reader_keeps_its_snapshot_until_released_then_follows(tmp_path: Path) -> None:
    writer = _writer(tmp_path, keep_snapshots=1)
    _add_state(writer, "a", 1)
    reader = WarehouseReader(writer.layout.pointer)
    with reader.connect() as old:
        assert old.execute("SELECT count(*) FROM sync_state").fetchall() == [(1,)]
        _add_state(writer, "b", 2)
        _add_state(writer, "c", 3)  # the snapshot `old` reads has been deleted from the directory by now
        with reader.connect() as new:
            assert new.execute("SELECT count(*) FROM sync_state").fetchall() == [(3,)]
        assert old.execute("SELECT count(*) FROM sync_state").fetchall() == [(1,)]
    assert reader.query("SELECT count(*) AS n FROM sync_state")["n"].tolist() == [3]
    reader.close()
    assert reader_for(writer.layout.pointer) is reader_for(writer.layout.pointer)


def test_second_writer_waits_then_gives_up(tmp_path: Path) -> None:
    first = _writer(tmp_path)
    second = _writer(tmp_path, lock_timeout_s=0.2)
    with first.open(), pytest.raises(WarehouseBusy), second.open():
        pass


def test_lost_working_file_restarts_from_the_last_snapshot(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    _add_state(writer, "a", 1)
    writer.layout.work.unlink()
    _add_state(writer, "b", 2)
    con = open_analyst_connection(writer.layout.pointer)
    assert con.execute("SELECT job FROM sync_state ORDER BY 1").fetchall() == [("a",), ("b",)]
    con.close()


def test_plain_file_at_the_entry_point_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE keepme (x INTEGER)")
    con.execute("INSERT INTO keepme VALUES (42)")
    con.close()
    writer = _writer(tmp_path)
    with writer.open():
        pass
    assert path.is_symlink()
    reader = open_analyst_connection(path)
    assert reader.execute("SELECT x FROM keepme").fetchall() == [(42,)]
    reader.close()


def test_crash_leftovers_are_collected(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    _add_state(writer, "a", 1)
    stray = writer.layout.snapshots / ".20990101T000000000000Z.duckdb.tmp"
    stray.write_bytes(b"half a copy")
    _add_state(writer, "b", 2)
    assert not stray.exists()


READER_LOOP = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from warehouse.reader import WarehouseReader
    reader = WarehouseReader(Path(sys.argv[1]))
    seen, errors, deadline = [], [], time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        try:
            with reader.connect() as con:
                # Both numbers come from one publish: every job row carries rows == its position.
                rows = con.execute("SELECT count(*), coalesce(sum(rows), 0) FROM sync_state").fetchall()[0]
            seen.append(list(rows))
        except Exception as exc:  # the test wants every error reported, whatever its type
            errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"seen": seen, "errors": errors}))
    """
)


def test_reader_process_keeps_working_across_publishes(tmp_path: Path) -> None:
    writer = _writer(tmp_path, keep_snapshots=2)
    _add_state(writer, "job000", 0)
    proc = subprocess.Popen(
        [sys.executable, "-c", READER_LOOP, str(writer.layout.pointer), "2.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    published = 1
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        _add_state(writer, f"job{published:03d}", published)
        published += 1
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["errors"] == []
    assert len(result["seen"]) > 10
    counts = [n for n, _ in result["seen"]]
    assert counts == sorted(counts) and counts[-1] > 1  # it followed the publishes, never went back
    for n, total in result["seen"]:
        assert total == n * (n - 1) // 2  # a whole publish, never a mix

"""The warehouse's disk full, then read-only, under the sync (a small tmpfs the test mounts; tests run as root).

The sync's `platform` job copies the platform DB into the warehouse and publishes a snapshot. With the disk
full (a filler file takes every free byte) and then remounted read-only, the run must fail with a clear error
(`WarehouseStorageFull` / `WarehouseReadOnly`, saying where and what to do), leave the published snapshot
serving what it served and no half-written file behind, and the next run after space (or write access) is
back must complete and publish the new rows. Quick: the cycle once; `make soak`: five times, the platform
growing each time.
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from core.db.engine import make_engine
from core.db.migrate import upgrade
from core.db.models import Course, Lesson, User
from core.settings import Settings, load_settings
from lectern.cli import app
from sync.runner import SyncContext, run_jobs
from warehouse.reader import open_analyst_connection
from warehouse.store import WarehouseLayout, WarehouseReadOnly, WarehouseStorageFull

MOUNT_MB = 48
PSEUDONYM_KEY = "reliability-pseudonym-key-0123456789abcdef"


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 48 MB tmpfs of its own, unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = Path(tempfile.mkdtemp(prefix="lectern-small-disk-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={MOUNT_MB}m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def fill(disk: Path) -> Path:
    """Take every free byte of `disk` with one file; returns it (delete it to give the space back)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def add_platform(db_url: str, lessons: int) -> int:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        teacher = conn.execute(
            insert(User).values(email=f"t{os.urandom(4).hex()}@x.test", name="T", role="teacher", password_hash="!")
        ).inserted_primary_key[0]
        course = conn.execute(insert(Course).values(teacher_id=teacher, title="C")).inserted_primary_key[0]
        conn.execute(
            insert(Lesson), [{"course_id": course, "title": f"L{i}", "position": i + 1} for i in range(lessons)]
        )
        total = conn.execute(select(func.count()).select_from(Lesson)).scalar_one()
    engine.dispose()
    return total


def served_lessons(warehouse: Path) -> int:
    con = open_analyst_connection(warehouse)
    try:
        return int(con.execute("SELECT count(*) FROM lessons").fetchone()[0])
    finally:
        con.close()


def sync_platform(settings: Settings) -> None:
    ctx = SyncContext.from_settings(settings)
    try:
        results = run_jobs(ctx, ("platform",))
    finally:
        ctx.close()
    assert [r.status for r in results] == ["ok"], results


def leftovers(warehouse: Path) -> list[str]:
    layout = WarehouseLayout(warehouse)
    return sorted(p.name for p in layout.snapshots.glob(".*"))


def cycle(small_disk: Path, tmp_path: Path, rounds: int) -> None:
    db_url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(db_url)
    warehouse = small_disk / "warehouse.duckdb"
    settings = load_settings(database_url=db_url, warehouse_path=warehouse, pseudonym_key=PSEUDONYM_KEY)
    expected = add_platform(db_url, 20)
    sync_platform(settings)
    assert served_lessons(warehouse) == expected

    for n in range(rounds):
        # Full: the run fails saying so; what was published still serves; nothing half-written is left.
        expected_next = add_platform(db_url, 20 + n)
        filler = fill(small_disk)
        published = WarehouseLayout(warehouse).published()
        with pytest.raises(WarehouseStorageFull) as full:
            sync_platform(settings)
        assert "no space left" in full.value.user_message and str(small_disk) in full.value.user_message
        assert WarehouseLayout(warehouse).published() == published and served_lessons(warehouse) == expected
        assert leftovers(warehouse) == []
        # The CLI says the same in one line, with the exit code of its kind (unavailable: 69).
        env = {"DATABASE_URL": db_url, "LECTERN_WAREHOUSE_PATH": str(warehouse), "LECTERN_PSEUDONYM_KEY": PSEUDONYM_KEY}
        cli = CliRunner().invoke(app, ["sync", "--once", "--job", "platform"], env=env)
        assert cli.exit_code == 69, cli.output[-2000:]
        assert cli.stderr.strip().splitlines()[-1].startswith("error: the warehouse disk is full"), cli.stderr

        # Space back: the next run completes and serves the new rows.
        filler.unlink()
        sync_platform(settings)
        expected = expected_next
        assert served_lessons(warehouse) == expected

        # Read-only: the same, with its own message.
        expected_next = add_platform(db_url, 3)
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        try:
            with pytest.raises(WarehouseReadOnly) as read_only:
                sync_platform(settings)
            assert "read-only" in read_only.value.user_message
            assert served_lessons(warehouse) == expected
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        assert leftovers(warehouse) == []
        sync_platform(settings)
        expected = expected_next
        assert served_lessons(warehouse) == expected


def test_warehouse_disk_full_and_read_only_quick(small_disk: Path, tmp_path: Path) -> None:
    cycle(small_disk, tmp_path, rounds=1)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_warehouse_disk_full_and_read_only_soak(small_disk: Path, tmp_path: Path) -> None:
    cycle(small_disk, tmp_path, rounds=5)

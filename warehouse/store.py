"""The warehouse on disk: one private working file for the single writer, immutable published snapshots.

    var/warehouse.duckdb  -> warehouse/snapshots/20250101T120000123456Z.duckdb   (symlink: the entry point)
    var/warehouse/work.duckdb          the sync's working copy (only the writer ever opens it)
    var/warehouse/snapshots/*.duckdb   published copies, newest N kept
    var/warehouse/writer.lock          flock: one writer at a time, across processes

DuckDB locks a file against every other process while one holds it read-write, so readers never open
the working file. After each job the writer checkpoints and closes it, copies it to a new snapshot
(under a temporary name, then renamed), and swaps the symlink with `os.replace` — atomic, so a reader
resolves either the old snapshot or the new one, never a half-written file. See README.md for why.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from core.errors import ErrorKind, PermanentError, TransientError
from core.logging import get_logger
from warehouse.schema import migrate

if TYPE_CHECKING:
    from core.settings import Settings

log = get_logger(__name__)


class WarehouseBusy(TransientError):
    """Another process holds the writer lock (a sync is running); try again when it finishes."""

    kind = ErrorKind.RETRYABLE


class WarehouseNotReady(PermanentError):
    """Nothing has been published yet: run `lectern sync --once` (or `lectern warehouse init`)."""

    kind = ErrorKind.UNAVAILABLE
    # The message names the warehouse's path on the server.
    public_message = "No warehouse yet: run `lectern sync --once` (it publishes the first snapshot)."


class WarehouseStorageError(TransientError):
    """The warehouse's disk refused a write (full, or read-only): nothing was published, the last snapshot still
    serves, and the next run completes once the disk takes writes again."""

    kind = ErrorKind.UNAVAILABLE


class WarehouseStorageFull(WarehouseStorageError):
    """No space left (or the quota is used up) on the warehouse's disk."""


class WarehouseReadOnly(WarehouseStorageError):
    """The warehouse's disk is mounted read-only."""


_FULL = {errno.ENOSPC, errno.EDQUOT}


def storage_error(exc: BaseException, root: Path) -> WarehouseStorageError | None:
    """What a failed write under `root` means for the operator, when it is the disk's doing; else None.

    OSError carries an errno; DuckDB's IOException only the system's text.
    """
    code, text = getattr(exc, "errno", None), str(exc)
    after = "then run the sync again; the last published snapshot still serves"
    if code in _FULL or "No space left on device" in text or "Disk quota exceeded" in text:
        return WarehouseStorageFull(
            f"the warehouse disk is full: no space left on device under {root} (free space, {after})"
        )
    if code == errno.EROFS or "Read-only file system" in text:
        return WarehouseReadOnly(
            f"the warehouse disk is read-only: cannot write under {root} (mount it read-write, {after})"
        )
    return None


@dataclass(frozen=True)
class WarehouseLayout:
    pointer: Path

    @property
    def root(self) -> Path:
        return self.pointer.parent / self.pointer.stem

    @property
    def work(self) -> Path:
        return self.root / "work.duckdb"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def lock(self) -> Path:
        return self.root / "writer.lock"

    def published(self) -> Path | None:
        """The snapshot the pointer names now, or None before the first publish."""
        if not self.pointer.is_symlink():
            return None
        target = self.pointer.parent / os.readlink(self.pointer)
        return target.resolve() if target.exists() else None

    def snapshot_files(self) -> list[Path]:
        if not self.snapshots.is_dir():
            return []
        return sorted(p for p in self.snapshots.glob("*.duckdb") if not p.name.startswith("."))


def copy_file(src: Path, dst: Path) -> None:
    """Copy with copy_file_range (a reflink on btrfs/XFS, an in-kernel copy elsewhere), fsynced."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        try:
            copied = 0
            while copied < size:
                n = os.copy_file_range(fin.fileno(), fout.fileno(), size - copied)
                if n == 0:
                    break
                copied += n
        except OSError:
            fin.seek(0)
            fout.seek(0)
            fout.truncate()
            shutil.copyfileobj(fin, fout, 16 * 1024 * 1024)
        fout.flush()
        os.fsync(fout.fileno())


class WarehouseWriter:
    """Opens the working file for one job at a time and publishes a snapshot after it."""

    def __init__(
        self,
        layout: WarehouseLayout,
        *,
        keep_snapshots: int = 3,
        memory_limit: str = "512MB",
        threads: int = 1,
        lock_timeout_s: float = 600.0,
    ) -> None:
        self.layout = layout
        self.keep_snapshots = max(1, keep_snapshots)
        self.memory_limit = memory_limit
        self.threads = max(1, threads)
        self.lock_timeout_s = lock_timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseWriter:
        """The one way product code gets a writer (the sync, `lectern warehouse init`, `lectern privacy forget`)."""
        return cls(
            WarehouseLayout(settings.warehouse_path),
            keep_snapshots=settings.warehouse_keep_snapshots,
            memory_limit=settings.warehouse_memory_limit,
            threads=settings.warehouse_writer_threads,
            lock_timeout_s=settings.sync_lock_timeout_s,
        )

    @contextmanager
    def _storage_errors(self) -> Iterator[None]:
        try:
            yield
        except (OSError, duckdb.IOException) as exc:
            translated = storage_error(exc, self.layout.root)
            if translated is None:
                raise
            log.error("warehouse.storage_error", error=translated.message)
            raise translated from exc

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with self.layout.lock.open("a+") as fh:
            deadline = time.monotonic() + self.lock_timeout_s
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise WarehouseBusy(
                            f"another sync holds {self.layout.lock} (waited {self.lock_timeout_s:.0f} s)"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def open(self, *, publish: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """The working file, migrated, under the writer lock; published when the block ends.

        A block that raises is still published: every commit a job makes carries its own watermark, so
        whatever was committed before the error is a consistent state (and `sync_state` shows the error).
        A disk that refuses writes raises `WarehouseStorageFull` / `WarehouseReadOnly` and publishes nothing.
        """
        with self._storage_errors(), self.lock():
            self._recover_work()
            con = duckdb.connect(
                str(self.layout.work), config={"memory_limit": self.memory_limit, "threads": self.threads}
            )
            migrated = False
            try:
                con.execute("SET TimeZone = 'UTC'")
                migrate(con)
                migrated = True
                yield con
            finally:
                try:
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                # Nothing to publish when the schema could not be brought up to date (nothing ran).
                if publish and migrated:
                    self.publish()

    def _recover_work(self) -> None:
        """Make sure a working file exists: adopt a plain-file pointer, or restart from the last snapshot."""
        layout = self.layout
        layout.snapshots.mkdir(parents=True, exist_ok=True)
        if layout.pointer.exists() and not layout.pointer.is_symlink():
            # A warehouse from before snapshots (or a copied-in file): it becomes the first snapshot.
            adopted = layout.snapshots / _snapshot_name()
            os.replace(layout.pointer, adopted)
            self._point_to(adopted)
            log.info("warehouse.adopted", path=str(adopted))
        if layout.work.exists():
            return
        published = layout.published()
        if published is not None:
            copy_file(published, layout.work)
            log.info("warehouse.work_restored", source=str(published))

    def publish(self) -> Path:
        """Copy the (closed) working file to a new snapshot and point the entry point at it."""
        layout = self.layout
        layout.snapshots.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        name = _snapshot_name()
        tmp = layout.snapshots / f".{name}.tmp"
        try:
            copy_file(layout.work, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a half-written copy would hold on to the space a full disk lacks
            raise
        final = layout.snapshots / name
        os.replace(tmp, final)
        self._point_to(final)
        self.gc()
        log.info("warehouse.published", snapshot=final.name, seconds=round(time.perf_counter() - started, 3))
        return final

    def _point_to(self, snapshot: Path) -> None:
        pointer = self.layout.pointer
        pointer.parent.mkdir(parents=True, exist_ok=True)
        link = pointer.parent / f".{pointer.name}.{os.getpid()}.tmp"
        link.unlink(missing_ok=True)
        os.symlink(os.path.relpath(snapshot, pointer.parent), link)
        os.replace(link, pointer)
        _fsync_dir(pointer.parent)

    def gc(self, keep: int | None = None) -> list[Path]:
        """Delete all but the newest `keep` snapshots (`keep_snapshots` by default; the published one always
        stays), and temporaries a crash left behind. Call it under the writer lock.

        Readers that still have an older snapshot open keep working: on POSIX an unlinked file lives
        until its last descriptor closes. Keeping a few lets a reader that has just resolved the
        pointer still open it.
        """
        layout = self.layout
        current = layout.published()
        removed: list[Path] = []
        for tmp in layout.snapshots.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        snapshots = layout.snapshot_files()
        keep = self.keep_snapshots if keep is None else max(0, keep)
        for old in snapshots[: max(0, len(snapshots) - keep)]:
            if current is not None and old.resolve() == current:
                continue
            old.unlink(missing_ok=True)
            removed.append(old)
        return removed


def _snapshot_name() -> str:
    # Sortable by name; microseconds keep two publishes in one second apart.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + ".duckdb"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

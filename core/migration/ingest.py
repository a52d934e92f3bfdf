"""Getting a lesson's S3 video into a Mux asset, exactly once.

Presigned mode (the default): Mux fetches the video itself from a presigned S3 GET URL, so no video byte
passes through Lectern. The URL is signed afresh for every attempt (an old attempt's URL may have
expired) and lives longer than we would wait for Mux to finish (`presign_ttl_s`).

Stream mode (buckets Mux cannot reach; a setting or a per-job flag): a Mux direct upload, fed with S3
ranged GETs, one chunk at a time, PUT with `Content-Range` (308 for intermediate chunks) by
`core.mux.uploads.put_in_chunks`. Memory holds one chunk; nothing is written to disk.

Idempotence. Before creating anything, `find_existing` looks for an asset this job already made: the
asset id stored on the job, then the upload id stored on the job (its asset, once Mux made one), then —
only when the job is resumed in `ingesting`, i.e. a previous worker may have created an asset and died
before recording it — the account's assets, newest first, matched by passthrough (= lesson id) AND
`meta.external_id` (`lectern-migration:lesson-<id>:<key>`), created no earlier than this run was queued.
Errored assets are never reused. Every transfer is counted in `TransferCounters` (the bench reports them).
"""

from __future__ import annotations

import io
import mimetypes
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from core.db.engine import transaction
from core.db.models import IngestMode, MigrationState
from core.errors import MuxNotFound, StorageUnavailable
from core.logging import get_logger
from core.migration.errors import IngestFailed, LeaseLost
from core.migration.jobs import JobStore, JobView
from core.migration.lessons import LessonSnapshot, external_id, is_migration_asset_meta
from core.migration.pacing import PacedMux
from core.mux.models import Asset
from core.mux.uploads import put_in_chunks
from core.settings import Settings
from core.storage import StorageService, object_key
from core.uploads import record_upload

log = get_logger(__name__)

MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
# Mux's clock and ours may disagree; an asset made "before" the job was queued by less than this still counts.
CLOCK_SKEW = timedelta(minutes=5)
# Mux's wording for an input it could not fetch (the emulator: "Failed to download input file: ...").
# Only words about getting the file: "could not be read as audio or video" is a bad file, not a bad URL.
_UNREACHABLE = re.compile(r"download|fetch|retriev|unreachable|access denied|\bhttp [45]\d\d\b", re.IGNORECASE)


class JobContext(Protocol):
    """What ingest needs from the worker running the job: crash-test hooks and interruptible waits."""

    def hook(self, point: str) -> None: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass
class TransferCounters:
    """Video bytes that went through Lectern: read from S3 and sent to Mux (0 and 0 in presigned mode)."""

    s3_bytes_read: int = 0
    mux_bytes_sent: int = 0
    s3_range_gets: int = 0
    upload_puts: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {
            "s3_bytes_read": self.s3_bytes_read,
            "mux_bytes_sent": self.mux_bytes_sent,
            "s3_range_gets": self.s3_range_gets,
            "upload_puts": self.upload_puts,
        }


def looks_unreachable(message: str) -> bool:
    """True when Mux's error says it could not fetch the input (as opposed to: the file is not a video)."""
    return bool(_UNREACHABLE.search(message))


class S3RangeReader(io.RawIOBase):
    """A seekable read-only view of one S3 object, each `read(n)` one ranged GET (nothing cached)."""

    def __init__(self, storage: StorageService, key: str, size: int, counters: TransferCounters) -> None:
        super().__init__()
        self.bucket, self.key = object_key(key, storage.bucket)
        self.client = storage.client
        self.size = size
        self.counters = counters
        self.pos = 0
        self.bytes_read = 0  # this reader's share of the (process-wide) counters

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, size: int | None = -1) -> bytes:
        if self.pos >= self.size:
            return b""
        end = self.size if size is None or size < 0 else min(self.size, self.pos + size)
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={self.pos}-{end - 1}")
            data: bytes = resp["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"ranged GET s3://{self.bucket}/{self.key} failed: {exc}") from exc
        self.counters.add(s3_bytes_read=len(data), s3_range_gets=1)
        self.bytes_read += len(data)
        self.pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        mux: PacedMux,
        storage: StorageService,
        store: JobStore,
        *,
        counters: TransferCounters | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self.mux = mux
        self.storage = storage
        self.store = store
        self.counters = counters or TransferCounters()
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=settings.mux_request_timeout_s)
        # Counted at the HTTP layer: what actually left this process for Mux's upload URL.
        self.http.event_hooks["request"].append(self._count_request)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def _count_request(self, request: httpx.Request) -> None:
        if request.method == "PUT":
            self.counters.add(mux_bytes_sent=len(request.content), upload_puts=1)

    @property
    def presign_ttl_s(self) -> int:
        # Longer than we would ever wait for Mux, or a queued ingest could find its URL expired.
        wanted = max(self.settings.migration_presign_ttl_s, int(self.settings.migration_ready_timeout_s) + 600)
        return min(MAX_PRESIGN_S, wanted)

    # --- the one entry point -----------------------------------------------------------------------

    def ingest(self, job: JobView, lease: str, lesson: LessonSnapshot, ctx: JobContext, *, resumed: bool) -> JobView:
        """Make sure exactly one asset exists for this run of the job; returns the job moved to `waiting`."""
        asset_id = self.find_existing(job, resumed=resumed)
        if asset_id is None:
            if job.ingest_mode == IngestMode.stream:
                asset_id = self._stream(job, lease, lesson, ctx)
            else:
                asset_id = self._from_url(job, lesson)
            ctx.hook("asset_created")
        else:
            log.info("migration.asset_reused", job_id=job.id, lesson_id=job.lesson_id, asset_id=asset_id)
        try:
            return self.store.transition(job, lease, MigrationState.waiting.value, mux_asset_id=asset_id, error=None)
        except LeaseLost:
            # Cancelled or taken over while Mux was creating: keep the asset findable instead of orphaned.
            if self.store.record_orphan_asset(job.id, asset_id):
                log.warning("migration.asset_recorded_after_lease_loss", job_id=job.id, asset_id=asset_id)
            raise

    # --- idempotence -------------------------------------------------------------------------------

    def _usable(self, asset_id: str) -> Asset | None:
        try:
            asset = self.mux.get_asset(asset_id)
        except MuxNotFound:
            return None
        return None if asset.status == "errored" else asset

    def find_existing(self, job: JobView, *, resumed: bool) -> str | None:
        if job.mux_asset_id and self._usable(job.mux_asset_id) is not None:
            return job.mux_asset_id
        if job.mux_upload_id:
            try:
                upload = self.mux.get_direct_upload(job.mux_upload_id)
            except MuxNotFound:
                upload = None
            if upload is not None and upload.asset_id and self._usable(upload.asset_id) is not None:
                return upload.asset_id
        if not resumed:
            return None
        found = self.scan_for_asset(job)
        return found.id if found is not None else None

    def scan_for_asset(self, job: JobView) -> Asset | None:
        """This run's asset for the job among the account's assets (newest first), if a dead worker made one."""
        queued = job.queued_at or datetime.min.replace(tzinfo=UTC)
        cutoff = queued - CLOCK_SKEW
        matches: list[Asset] = []
        newest_first, previous, scanned = True, None, 0
        for asset in self.mux.iter_assets(page_size=100):
            scanned += 1
            created = asset.created_at
            if created is not None and previous is not None and created > previous:
                newest_first = False  # the listing is not ordered as documented; read it all
            previous = created or previous
            if newest_first and created is not None and created < cutoff:
                break
            if (
                asset.passthrough == str(job.lesson_id)
                and is_migration_asset_meta(asset.raw.get("meta"), job.lesson_id, job.s3_key)
                and (created is None or created >= cutoff)
                and asset.status != "errored"
            ):
                matches.append(asset)
        log.info("migration.asset_scan", job_id=job.id, scanned=scanned, matches=len(matches))
        if not matches:
            return None
        if len(matches) > 1:
            log.warning("migration.duplicate_assets", job_id=job.id, asset_ids=[a.id for a in matches])
        return min(matches, key=lambda a: a.created_at or datetime.max.replace(tzinfo=UTC))

    # --- presigned URL -----------------------------------------------------------------------------

    def _from_url(self, job: JobView, lesson: LessonSnapshot) -> str:
        url = self.storage.presign_get(job.s3_key, ttl_s=self.presign_ttl_s)
        asset = self.mux.create_asset_from_url(
            url,
            passthrough=str(job.lesson_id),
            playback_policy=lesson.playback_policy,
            title=lesson.title,
            external_id=external_id(job.lesson_id, job.s3_key),
        )
        log.info("migration.asset_created", job_id=job.id, lesson_id=job.lesson_id, asset_id=asset.id, mode="url")
        return asset.id

    # --- streaming fallback ------------------------------------------------------------------------

    def _stream(self, job: JobView, lease: str, lesson: LessonSnapshot, ctx: JobContext) -> str:
        upload = None
        if job.mux_upload_id:
            try:
                previous = self.mux.get_direct_upload(job.mux_upload_id)
            except MuxNotFound:
                previous = None
            # A half-sent upload is resent from byte 0 to the same URL (re-sent chunks are accepted), so a
            # second upload — and a second asset — never exists.
            if previous is not None and previous.status == "waiting" and previous.url:
                upload = previous
        if upload is None:
            upload = self.mux.create_direct_upload(
                lesson_id=job.lesson_id,
                playback_policy=lesson.playback_policy,
                title=lesson.title,
                external_id=external_id(job.lesson_id, job.s3_key),
            )
            with transaction(self.store.session_factory) as session:  # the upload is recorded with the job
                job = self.store.fenced_in(
                    session, job, lease, heartbeat_at=self.store.clock(), mux_upload_id=upload.id
                )
                record_upload(session, upload.id, lesson_id=job.lesson_id, created_by=None)
            ctx.hook("upload_created")
        if not upload.url:
            raise IngestFailed(f"Mux upload {upload.id} came back without a URL")
        size = self.storage.size(job.s3_key)
        reader = S3RangeReader(self.storage, job.s3_key, size, self.counters)
        put_in_chunks(
            upload.url,
            reader,  # type: ignore[arg-type]  # a RawIOBase: seek/read is all put_in_chunks uses
            size,
            http=self.http,
            content_type=mimetypes.guess_type(job.s3_key)[0] or "application/octet-stream",
            chunk_size=self.settings.mux_upload_chunk_bytes,
            retrier=self.mux.retrier,
            on_chunk=lambda _offset, _total: ctx.hook("chunk_sent"),
        )
        job = self.store.update(job, lease, bytes_proxied=job.bytes_proxied + reader.bytes_read)
        log.info("migration.streamed", job_id=job.id, upload_id=upload.id, bytes=size)
        return self._upload_asset(job, upload.id, ctx)

    def _upload_asset(self, job: JobView, upload_id: str, ctx: JobContext) -> str:
        deadline = datetime.now(UTC) + timedelta(seconds=self.settings.migration_ready_timeout_s)
        while True:
            upload = self.mux.get_direct_upload(upload_id)
            if upload.status == "asset_created" and upload.asset_id:
                log.info("migration.asset_created", job_id=job.id, asset_id=upload.asset_id, mode="stream")
                return upload.asset_id
            if upload.status in ("errored", "cancelled", "timed_out"):
                detail = upload.error_message or upload.error_type or upload.status
                raise IngestFailed(f"Mux upload {upload_id} {upload.status}: {detail}")
            if datetime.now(UTC) > deadline:
                raise IngestFailed(f"Mux upload {upload_id} made no asset within the ready timeout")
            ctx.sleep(self.settings.migration_poll_s)

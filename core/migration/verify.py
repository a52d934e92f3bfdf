"""Verify a migrated asset, then switch the lesson to Mux in the same transaction that marks the job done.

Checks, in order (each failure says what to do):
1. the asset is `ready` and has a playback ID with the lesson's policy (one is added if missing);
2. its duration is within `max(tolerance_s, tolerance_pct% of source)` of the S3 source — the probed
   duration stored on the job, else a probe now (ffmpeg on a presigned URL, headers only), else the
   duration the platform recorded for the lesson;
3. the HLS master playlist answers 200 on the stream host, with a signed token for signed lessons (the
   same URL `core.playback` hands viewers), and so does its first rendition playlist.

Consistency with webhooks (`core.webhooks`). Mux also sends `video.asset.*` events for migration assets,
matched to the lesson by passthrough (= lesson id), so the webhook receiver may already have set the
lesson `processing`, `errored` or even `ready` on this very asset. Hence:
- the switch accepts a lesson that a webhook already moved to this asset, and refuses one that moved to
  another video (a teacher's new upload, another S3 key) — the job fails with `LessonChanged`;
- it stamps `video_status_at` with max(now, the lesson's stamp), so a late event about the asset (all
  older than the switch) is `stale` and cannot move the lesson back to `processing`;
- when a job fails, any trace a webhook left of THIS asset on the lesson is undone in the same
  transaction (S3 provider, status ready, no Mux ids), so a failed lesson keeps playing from S3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import Lesson, MigrationState, VideoProvider, VideoStatus
from core.errors import LecternError
from core.logging import get_logger
from core.migration.errors import LessonChanged, VerificationFailed
from core.migration.jobs import JobStore, JobView
from core.migration.lessons import LessonSnapshot, put_back_on_s3, same_object, stamp_after_events
from core.migration.pacing import PacedMux
from core.mux.models import Asset
from core.playback import PlaybackService
from core.settings import Settings

log = get_logger(__name__)

VERIFIER_VIEWER = "lectern-migration"
_RETRY_STATUSES = frozenset({404, 408, 412, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Verified:
    playback_id: str
    duration_s: float
    source_duration_s: float | None
    source: str  # where the source duration came from: job, probe, lesson or none


def utcnow() -> datetime:
    return datetime.now(UTC)


class Verifier:
    def __init__(
        self,
        settings: Settings,
        mux: PacedMux,
        playback: PlaybackService,
        *,
        http: httpx.Client,
        presign: Callable[[str], str],
        prober: Callable[[str], float | None],
        sleep: Callable[[float], None],
    ) -> None:
        self.settings = settings
        self.mux = mux
        self.playback = playback
        self.http = http
        self.presign = presign
        self.prober = prober
        self.sleep = sleep

    def tolerance_s(self, source_s: float) -> float:
        pct = self.settings.migration_duration_tolerance_pct / 100.0
        return max(self.settings.migration_duration_tolerance_s, source_s * pct)

    def source_duration(self, job: JobView, lesson: LessonSnapshot) -> tuple[float | None, str]:
        if job.source_duration_s:
            return job.source_duration_s, "job"
        if self.settings.migration_probe_source:
            probed = self.prober(self.presign(job.s3_key))
            if probed:
                return probed, "probe"
        if lesson.duration_s:
            return lesson.duration_s, "lesson"
        return None, "none"

    def verify(self, job: JobView, asset: Asset, lesson: LessonSnapshot) -> Verified:
        if asset.status != "ready":
            raise VerificationFailed(f"asset {asset.id} is {asset.status}, not ready")
        playback_id = asset.playback_id_for(lesson.playback_policy)
        if playback_id is None:
            playback_id = self.mux.create_playback_id(asset.id, lesson.playback_policy).id
            log.info("migration.playback_id_added", asset_id=asset.id, policy=lesson.playback_policy)
        if asset.duration_s is None:
            raise VerificationFailed(f"asset {asset.id} reports no duration")
        source_s, source = self.source_duration(job, lesson)
        if source_s is not None and abs(asset.duration_s - source_s) > self.tolerance_s(source_s):
            raise VerificationFailed(
                f"Mux duration {asset.duration_s:.2f} s differs from the S3 source's {source_s:.2f} s ({source}) "
                f"by more than {self.tolerance_s(source_s):.2f} s; check the source file, then retry"
            )
        self.check_playback(lesson, playback_id, asset.duration_s)
        return Verified(playback_id, asset.duration_s, source_s, source)

    def hls_url(self, lesson: LessonSnapshot, playback_id: str, duration_s: float) -> str:
        # Exactly what a viewer gets from core.playback, signed token included for signed lessons.
        probe = Lesson(
            id=lesson.id,
            playback_policy=lesson.playback_policy,
            mux_playback_id=playback_id,
            video_duration_s=duration_s,
            video_status=VideoStatus.ready.value,
        )
        try:
            info = self.playback.playback_for(probe, VERIFIER_VIEWER)
        except LecternError as exc:
            raise VerificationFailed(f"cannot build the playback URL: {exc.message}") from exc
        if info.urls.hls is None:
            raise VerificationFailed("core.playback gave no HLS URL")
        return info.urls.hls

    def check_playback(self, lesson: LessonSnapshot, playback_id: str, duration_s: float) -> None:
        url = self.hls_url(lesson, playback_id, duration_s)
        master = self._get_playlist(url, "master playlist")
        variant = next((ln.strip() for ln in master.splitlines() if ln.strip() and not ln.startswith("#")), None)
        if variant is None:
            raise VerificationFailed("the master playlist lists no rendition")
        self._get_playlist(str(httpx.URL(url).join(variant)), "rendition playlist")

    def _get_playlist(self, url: str, what: str) -> str:
        deadline = utcnow() + timedelta(seconds=self.settings.migration_playback_check_s)
        while True:
            try:
                resp = self.http.get(url)
                status, body = resp.status_code, resp.text
            except httpx.TransportError as exc:
                status, body = 0, str(exc)
            if status == 200 and body.lstrip().startswith("#EXTM3U"):
                return body
            # Right after `ready` a CDN may still answer 404/412 for a moment; anything else is final.
            if (status not in _RETRY_STATUSES and status != 0) or utcnow() > deadline:
                raise VerificationFailed(f"stream host answered {status or 'nothing'} for the {what}: {body[:200]}")
            self.sleep(min(1.0, self.settings.migration_poll_s))


# --- the switch and the failure path (one transaction each) ---------------------------------------


def _locked_lesson(session: Session, lesson_id: int) -> Lesson | None:
    stmt = select(Lesson).where(Lesson.id == lesson_id).with_for_update().execution_options(populate_existing=True)
    return session.execute(stmt).scalars().first()


def lesson_conflict(lesson: Lesson | None, job: JobView, asset_id: str, bucket: str) -> str | None:
    """Why the lesson may not be switched to `asset_id` (it moved on during the migration), or None."""
    if lesson is None:
        return "the lesson was deleted"
    if not same_object(lesson.video_url, job.s3_key, bucket):
        return f"the lesson's S3 video changed from {job.s3_key!r} to {lesson.video_url!r}; start it again"
    if lesson.mux_asset_id not in (None, asset_id):
        return f"the lesson now has another Mux asset ({lesson.mux_asset_id}), e.g. a teacher's new upload"
    if lesson.mux_upload_id and lesson.video_status in (VideoStatus.waiting_upload, VideoStatus.processing):
        return f"a teacher upload ({lesson.mux_upload_id}) is in progress for this lesson"
    return None


def switch_lesson(
    session_factory: sessionmaker[Session],
    store: JobStore,
    job: JobView,
    lease: str,
    asset: Asset,
    verified: Verified,
    *,
    bucket: str,
    clock: Callable[[], datetime] = utcnow,
) -> JobView:
    """Lesson -> Mux and job -> done, together; raises LessonChanged (job failed, lesson untouched)."""
    now = clock()
    with transaction(session_factory) as session:
        # Job first (fenced: LeaseLost if cancelled/reclaimed), then the lesson — the order webhooks never
        # contend on, since they lock only lessons.
        store.fenced_in(session, job, lease, updated_at=now)
        lesson = _locked_lesson(session, job.lesson_id)
        conflict = lesson_conflict(lesson, job, asset.id, bucket)
        if conflict is None and lesson is not None:
            lesson.video_provider = VideoProvider.mux.value
            lesson.mux_asset_id = asset.id
            lesson.mux_playback_id = verified.playback_id
            lesson.video_duration_s = verified.duration_s
            lesson.video_status = VideoStatus.ready.value
            lesson.video_error = None
            stamp_after_events(lesson, now)
            done = store.fenced_in(
                session,
                job,
                lease,
                state=MigrationState.done.value,
                mux_playback_id=verified.playback_id,
                source_duration_s=verified.source_duration_s,
                worker_id=None,
                heartbeat_at=None,
                error=None,
                finished_at=now,
            )
    if conflict is not None:
        fail_job(session_factory, store, job, lease, f"lesson changed during migration: {conflict}", asset.id)
        raise LessonChanged(conflict)
    log.info(
        "migration.switched",
        job_id=job.id,
        lesson_id=job.lesson_id,
        asset_id=asset.id,
        playback_id=verified.playback_id,
        duration_s=verified.duration_s,
        source=verified.source,
    )
    return done


def undo_webhook_trace(lesson: Lesson, asset_id: str | None, now: datetime) -> bool:
    """Put back the S3 state when a webhook applied THIS migration asset to the lesson; True if it did."""
    if asset_id is None or lesson.mux_asset_id != asset_id:
        return False
    put_back_on_s3(lesson, now)
    return True


def fail_job(
    session_factory: sessionmaker[Session],
    store: JobStore,
    job: JobView,
    lease: str,
    error: str,
    asset_id: str | None,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> JobView:
    """Job -> failed; the lesson stays on S3 (undoing what a webhook may have applied of this asset)."""
    with transaction(session_factory) as session:
        failed = store.fail(job, lease, error, session=session)
        lesson = _locked_lesson(session, job.lesson_id)
        if lesson is not None and undo_webhook_trace(lesson, asset_id, clock()):
            log.info("migration.lesson_restored", job_id=job.id, lesson_id=job.lesson_id, asset_id=asset_id)
    return failed

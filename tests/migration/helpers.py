"""Helpers for migration tests: settings for emulator + moto, lessons with real S3 objects, running workers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import Course, Lesson
from core.migration.jobs import JobStore, JobView
from core.migration.service import MigrationService
from core.migration.worker import MigrationWorker, WorkerStats
from core.mux.service import MuxService
from core.playback import PlaybackService, PlaybackSigner
from core.settings import Settings, load_settings
from core.storage import StorageService, build_s3_client
from emulator.testing import EmulatorServer
from tests.conftest import S3Server
from tests.factories import make_course, make_lesson, make_user

# Fast enough for tests, slow enough that a busy 2-core machine never misses a heartbeat by a whole stale window
# (CI once stalled a heartbeat past 1 s: the worker reclaimed its own live job). Only the two tests where a
# process really dies wait this out in real time; the others move a clock.
FAST = {
    "migration_heartbeat_s": 0.1,
    "migration_stale_after_s": 5.0,
    "migration_poll_s": 0.05,
    "migration_mux_create_per_s": 1000.0,
    "migration_mux_read_per_s": 1000.0,
    "migration_playback_check_s": 5.0,
    "migration_concurrency": 3,
    "mux_upload_chunk_bytes": 256 * 1024,
    # ffmpeg probes of the source cost CPU in every test; the tests about durations turn them on.
    "migration_probe_source": False,
}


def migration_settings(db_url: str, s3: S3Server, emu: EmulatorServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "s3_endpoint_url": s3.endpoint_url,
        "s3_bucket": s3.bucket,
        "aws_access_key_id": s3.access_key,
        "aws_secret_access_key": s3.secret_key,
        "aws_region": s3.region,
        "mux_api_url": emu.url,
        "mux_token_id": emu.token_id,
        "mux_token_secret": emu.token_secret,
        "mux_stream_base_url": f"{emu.url}/stream",
        "mux_image_base_url": f"{emu.url}/image",
        **FAST,
    }
    return load_settings(**(values | overrides))


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that rebuild `settings` in a subprocess."""
    env: dict[str, str] = {}
    for name, fld in type(settings).model_fields.items():
        value = getattr(settings, name)
        if value is None or fld.alias is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, dict):
            continue
        if isinstance(value, list | tuple):  # list settings read a comma-separated string
            value = ",".join(map(str, value))
        env[fld.alias] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@dataclass
class MigrationEnv:
    settings: Settings
    session_factory: sessionmaker[Session]
    s3: S3Server
    emu: EmulatorServer
    mux: MuxService
    storage: StorageService
    service: MigrationService
    store: JobStore
    course: Course | None = None
    last_worker: MigrationWorker | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    def close(self) -> None:
        self.http.close()
        self.mux.close()

    def add_lesson(
        self, path: Path | None, *, key: str | None = None, policy: str = "public", duration_s: float | None = None
    ) -> int:
        """A legacy S3 lesson; its video (if `path`) is put in the bucket under `key`."""
        with transaction(self.session_factory) as s:
            if self.course is None:
                self.course = make_course(s, teacher=make_user(s, role="teacher"))
            lesson = make_lesson(s, course=self.course, video_url="pending", playback_policy=policy)
            lesson.video_url = key or f"courses/{self.course.id}/lessons/{lesson.id}/video.mp4"
            lesson.duration_s = duration_s
            lesson.video_duration_s = duration_s
            lesson_id, object_key = lesson.id, lesson.video_url
        if path is not None:
            self.s3.client().upload_file(str(path), self.s3.bucket, object_key)
        return lesson_id

    def start_all(self, *, ingest_mode: str | None = None, probe: bool = False) -> Any:
        return self.service.start(self.service.plan(probe=probe), ingest_mode=ingest_mode)

    def worker(self, *, settings: Settings | None = None, **kwargs: Any) -> MigrationWorker:
        settings = settings or self.settings
        kwargs.setdefault("playback", self.playback(settings))
        return MigrationWorker(settings, self.session_factory, self.mux, self.storage, **kwargs)

    def playback(self, settings: Settings | None = None) -> PlaybackService:
        settings = settings or self.settings
        return PlaybackService(settings, storage=self.storage, signer=PlaybackSigner.from_settings(settings))

    def with_settings(self, **changes: Any) -> Settings:
        return self.settings.model_copy(update=changes)

    def run_worker(self, *, timeout: float = 180.0, **kwargs: Any) -> WorkerStats:
        """Run a worker until idle in a thread; fail the test instead of hanging if it overruns."""
        worker = self.last_worker = self.worker(**kwargs)
        result: dict[str, Any] = {}

        def target() -> None:
            try:
                result["stats"] = worker.run(until_idle=True)
            except BaseException as exc:
                result["error"] = exc

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            worker.stop()
            thread.join(10)
            raise TimeoutError(f"worker still running after {timeout} s: {self.store.progress().counts}")
        worker.close()
        if "error" in result:
            raise result["error"]
        stats: WorkerStats = result["stats"]
        return stats

    def lesson(self, lesson_id: int) -> Lesson:
        with self.session_factory() as s:
            lesson = s.get(Lesson, lesson_id)
            assert lesson is not None
            return lesson

    def job(self, lesson_id: int) -> JobView:
        job = self.store.by_lesson(lesson_id)
        assert job is not None
        return job

    def assets(self) -> list[dict[str, Any]]:
        """Every asset in the emulator (all pages), straight over HTTP."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.emu.http.get(
                "/video/v1/assets", params={"limit": 100, "page": page}, auth=(self.emu.token_id, self.emu.token_secret)
            )
            resp.raise_for_status()
            data = resp.json()["data"]
            found.extend(data)
            if len(data) < 100:
                return found
            page += 1

    def playlist_status(self, lesson_id: int) -> int:
        """What the stream host answers a viewer of this lesson for its HLS master playlist."""
        info = self.playback().playback_for(self.lesson(lesson_id), "test-viewer")
        assert info.provider == "mux" and info.urls.hls is not None
        return self.http.get(info.urls.hls).status_code


def build_env(
    db_url: str, s3: S3Server, emu: EmulatorServer, session_factory: sessionmaker[Session], **overrides: Any
) -> MigrationEnv:
    settings = migration_settings(db_url, s3, emu, **overrides)
    mux = MuxService(settings)
    storage = StorageService(settings, build_s3_client(settings), mux=mux)
    service = MigrationService(settings, session_factory, storage=storage, mux=mux)
    return MigrationEnv(settings, session_factory, s3, emu, mux, storage, service, service.store)

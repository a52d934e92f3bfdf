"""Ingest: the streaming fallback (ranged GETs -> chunked PUTs), falling back automatically, Mux rate limits.

About bytes and HTTP, not the database, so on SQLite only (the job store runs on both in the other files).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from core.db.models import MigrationState
from core.migration.ingest import looks_unreachable
from core.migration.pacing import RateLimiter
from core.migration.probe import parse_duration
from core.mux.service import MuxService
from core.retry import RetryPolicy
from core.storage import StorageService, build_s3_client
from tests.migration.helpers import MigrationEnv


def test_stream_mode_sends_the_file_in_chunks_without_holding_it(sqlite_env: MigrationEnv, big_clip: Path) -> None:
    env = sqlite_env
    lesson_id = env.add_lesson(big_clip)
    env.start_all(ingest_mode="stream")
    env.run_worker()
    job, lesson = env.job(lesson_id), env.lesson(lesson_id)
    assert job.state == MigrationState.done and lesson.video_provider == "mux"
    size, chunk = big_clip.stat().st_size, env.settings.mux_upload_chunk_bytes
    counters = env.last_worker.counters  # type: ignore[union-attr]
    chunks = math.ceil(size / chunk)
    # Every byte read once from S3 and sent once to Mux, one ranged GET per chunk (never the whole file).
    assert counters.as_dict() == {
        "s3_bytes_read": size,
        "mux_bytes_sent": size,
        "s3_range_gets": chunks,
        "upload_puts": chunks,
    }
    assert job.bytes_proxied == size and chunks >= 3
    asset = next(a for a in env.assets() if a["id"] == job.mux_asset_id)
    assert asset["upload_id"] == job.mux_upload_id and asset["passthrough"] == str(lesson_id)
    assert asset["meta"]["external_id"] == f"lectern-migration:lesson-{lesson_id}:{lesson.video_url}"
    assert env.playlist_status(lesson_id) == 200


class UnreachableBucket(StorageService):
    """Presigned URLs that Mux cannot fetch (a private endpoint), while Lectern itself reads S3 fine."""

    def presign_get(self, key_or_url: str, *, ttl_s: int | None = None) -> str:
        return "http://127.0.0.1:9/private-bucket/" + key_or_url


def test_when_mux_cannot_fetch_the_url_the_job_streams_instead(sqlite_env: MigrationEnv, clips: list[Path]) -> None:
    env = sqlite_env
    lesson_id = env.add_lesson(clips[0], duration_s=1.5)
    env.start_all()
    env.storage = UnreachableBucket(env.settings, build_s3_client(env.settings), mux=env.mux)
    env.run_worker()
    job = env.job(lesson_id)
    assert job.state == MigrationState.done and job.ingest_mode == "stream"
    assert job.bytes_proxied == clips[0].stat().st_size
    assert job.error is None
    # The errored URL asset was deleted; the lesson's asset is the streamed one.
    assert [a["id"] for a in env.assets()] == [job.mux_asset_id]


def test_without_the_fallback_an_unreachable_url_fails_with_muxs_message(
    sqlite_env: MigrationEnv, clips: list[Path]
) -> None:
    env = sqlite_env
    lesson_id = env.add_lesson(clips[0])
    env.start_all()
    env.settings = env.with_settings(migration_auto_stream_fallback=False)
    env.storage = UnreachableBucket(env.settings, build_s3_client(env.settings), mux=env.mux)
    env.run_worker()
    job = env.job(lesson_id)
    assert job.state == MigrationState.failed and "Failed to download input file" in (job.error or "")
    assert env.lesson(lesson_id).video_provider == "s3"
    # The admin's way out: retry streaming through Lectern.
    env.storage = StorageService(env.settings, build_s3_client(env.settings), mux=env.mux)
    assert env.service.retry(ingest_mode="stream") == 1
    env.run_worker()
    assert env.job(lesson_id).state == MigrationState.done


def test_mux_429s_are_retried_without_duplicates(sqlite_env: MigrationEnv, clips: list[Path]) -> None:
    env = sqlite_env
    ids = [env.add_lesson(c) for c in clips[:3]]
    env.emu.set_faults(
        {
            "seed": 7,
            "routes": {
                "POST /video/v1/assets": {"p429": 0.5, "retry_after": 0},
                "GET /video/v1/assets/{ASSET_ID}": {"p429": 0.3, "retry_after": 0},
            },
        }
    )
    env.start_all()
    env.run_worker()
    assert all(env.job(i).state == MigrationState.done for i in ids)
    assert len(env.assets()) == 3  # a 429 creates nothing, so retrying a create is safe
    requests = env.emu.stats()["requests"]
    assert requests["POST /video/v1/assets"]["by_status"].get("429", 0) >= 1


def test_rate_limiter_spaces_calls_and_queues_callers_in_order() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 3))
        now[0] += s

    limiter = RateLimiter(2.0, burst=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire()
    assert slept == [0.5, 0.5, 0.5]
    assert limiter.waited_s == pytest.approx(1.5)


def test_probe_parsing_and_unreachable_messages() -> None:
    assert parse_duration("  Duration: 00:01:02.50, start: 0.000000, bitrate: 10 kb/s") == pytest.approx(62.5)
    assert parse_duration("Duration: N/A, bitrate: N/A") is None
    assert looks_unreachable("Failed to download input file: the input URL answered HTTP 403")
    assert not looks_unreachable("Invalid data found when processing input")
    assert not looks_unreachable("The input file could not be read as audio or video (invalid data).")


def test_a_mux_outage_is_retried_up_to_the_cap_then_the_job_fails_saying_why(
    sqlite_env: MigrationEnv, clips: list[Path]
) -> None:
    env = sqlite_env
    env.mux = MuxService(env.settings, retry_policy=RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02))
    env.settings = env.with_settings(migration_max_attempts=3)
    lesson_id = env.add_lesson(clips[0])
    env.start_all()
    env.emu.set_faults({"routes": {"POST /video/v1/assets": {"p500": 1.0}}})
    stats = env.run_worker(concurrency=1)
    job = env.job(lesson_id)
    assert stats.transient_errors == 3 and job.state == MigrationState.failed and job.attempts == 3
    assert job.error is not None and job.error.startswith("gave up after 3 attempts; last error: temporary failure")
    assert "(500)" in job.error and env.lesson(lesson_id).video_provider == "s3" and env.assets() == []
    env.mux.close()

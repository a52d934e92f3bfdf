"""Real clips in moto S3 -> presigned URLs -> the emulator's ffmpeg -> verified lessons that play on Mux."""

from __future__ import annotations

from pathlib import Path

from core.db.models import MigrationState
from tests.migration.helpers import MigrationEnv, build_env


def test_good_lessons_move_to_mux_and_play_and_the_corrupt_one_fails_on_s3(
    env: MigrationEnv, clips: list[Path], corrupt: Path
) -> None:
    good = [env.add_lesson(clip) for clip in clips]
    bad = env.add_lesson(corrupt)
    result = env.start_all(probe=True)
    assert (result.created, result.requeued, result.skipped) == (5, 0, 0)

    stats = env.run_worker()

    assert stats.done == 4 and stats.failed == 1
    # Presigned mode: not one video byte went through Lectern.
    assert env.last_worker is not None and env.last_worker.counters.as_dict() == {
        "s3_bytes_read": 0,
        "mux_bytes_sent": 0,
        "s3_range_gets": 0,
        "upload_puts": 0,
    }
    for lesson_id in good:
        lesson, job = env.lesson(lesson_id), env.job(lesson_id)
        assert job.state == MigrationState.done and job.error is None and job.finished_at is not None
        assert lesson.video_provider == "mux" and lesson.video_status == "ready"
        assert lesson.mux_asset_id == job.mux_asset_id and lesson.mux_playback_id == job.mux_playback_id
        assert lesson.video_url is not None  # the S3 object stays until cleanup
        assert job.source_duration_s is not None and abs(lesson.video_duration_s - job.source_duration_s) < 0.5
        assert env.playlist_status(lesson_id) == 200
        assert job.bytes_proxied == 0 and job.attempts == 1
    lesson, job = env.lesson(bad), env.job(bad)
    assert job.state == MigrationState.failed and job.ingest_mode == "url" and job.attempts == 1
    assert job.error is not None and job.error.startswith("Mux could not process the video:")
    emulator_errors = next(a for a in env.assets() if a["id"] == job.mux_asset_id)["errors"]
    assert emulator_errors["type"] == "invalid_input" and emulator_errors["messages"][0] in job.error
    assert (lesson.video_provider, lesson.video_status, lesson.mux_asset_id, lesson.mux_playback_id) == (
        "s3",
        "ready",
        None,
        None,
    )
    # One asset per lesson, passthrough = lesson id, external_id naming lesson and key.
    assets = env.assets()
    assert len(assets) == 5
    by_lesson = {int(a["passthrough"]): a for a in assets}
    assert set(by_lesson) == {*good, bad}
    for lesson_id in good:
        assert by_lesson[lesson_id]["meta"]["external_id"] == (
            f"lectern-migration:lesson-{lesson_id}:{env.lesson(lesson_id).video_url}"
        )


def test_signed_lessons_are_verified_with_a_signed_playlist_url(sqlite_env: MigrationEnv, clips: list[Path]) -> None:
    key = sqlite_env.mux.create_signing_key()
    env = build_env(
        sqlite_env.settings.database_url,
        sqlite_env.s3,
        sqlite_env.emu,
        sqlite_env.session_factory,
        mux_signing_key_id=key.id,
        mux_signing_private_key=key.private_key,
    )
    try:
        lesson_id = env.add_lesson(clips[0], policy="signed", duration_s=1.5)
        env.start_all()
        env.run_worker()
        lesson = env.lesson(lesson_id)
        assert env.job(lesson_id).state == MigrationState.done
        assert lesson.video_provider == "mux" and lesson.playback_policy == "signed"
        asset = next(a for a in env.assets() if a["id"] == lesson.mux_asset_id)
        assert [p["policy"] for p in asset["playback_ids"]] == ["signed"]
        assert env.playlist_status(lesson_id) == 200
        # Without a token the stream host refuses: the verifier really needed core.playback's signed URL.
        assert env.http.get(f"{env.emu.url}/stream/{lesson.mux_playback_id}.m3u8").status_code == 403
    finally:
        env.close()


def test_a_signed_lesson_without_a_signing_key_fails_with_the_fix_and_stays_on_s3(
    sqlite_env: MigrationEnv, clips: list[Path]
) -> None:
    env = sqlite_env
    lesson_id = env.add_lesson(clips[0], policy="signed")
    env.start_all()
    env.run_worker()
    job, lesson = env.job(lesson_id), env.lesson(lesson_id)
    assert job.state == MigrationState.failed
    assert "MUX_SIGNING_KEY_ID" in (job.error or "")
    assert lesson.video_provider == "s3" and lesson.mux_playback_id is None

"""Admin controls: pause is honoured, cancel, retry; cleanup deletes only verified objects; rollback until then."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db.models import MigrationState
from core.errors import NotFound
from core.playback import PlaybackService
from tests.migration.helpers import MigrationEnv
from tests.waiting import wait_until


def test_a_paused_migration_claims_nothing_until_resumed(env: MigrationEnv, clips: list[Path]) -> None:
    ids = [env.add_lesson(c) for c in clips[:2]]
    env.start_all()
    env.service.pause(by="admin", reason="Mux maintenance")
    assert env.run_worker().claimed == 0  # until_idle: a paused migration is idle

    worker = env.worker()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        # Every thread looks at the flag a few times; nothing may be claimed meanwhile.
        wait_until(lambda: worker.stats.paused_polls >= 3 * worker.concurrency, timeout=10)
        assert worker.stats.claimed == 0
        assert all(j.state == MigrationState.queued and j.worker_id is None for j in env.store.list())
        env.service.resume(by="admin")
        wait_until(lambda: all(env.job(i).state == MigrationState.done for i in ids), timeout=30)
    finally:
        worker.stop()
        thread.join(10)
        worker.close()


def test_pause_hands_jobs_in_flight_back_where_they_were(env: MigrationEnv, clips: list[Path]) -> None:
    env.emu.configure(processing_delay=30.0)  # assets stay `preparing`: jobs sit in `waiting`
    ids = [env.add_lesson(c) for c in clips[:2]]
    env.start_all()
    worker = env.worker()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: all(env.job(i).state == MigrationState.waiting for i in ids), timeout=20)
        env.service.pause(by="admin")
        wait_until(lambda: all(env.job(i).worker_id is None for i in ids), timeout=10)
        jobs = [env.job(i) for i in ids]
        assert all(j.state == MigrationState.waiting and j.mux_asset_id and j.attempts == 0 for j in jobs)
        assert worker.stats.handed_back == 2
    finally:
        worker.stop()
        thread.join(10)
        worker.close()
    env.emu.configure(processing_delay=0.0)
    env.emu.advance_clock(31)
    env.service.resume()
    env.run_worker()
    assert [env.job(i).state for i in ids] == ["done", "done"]
    assert len(env.assets()) == 2  # resumed from `waiting`: the same assets


def test_cancel_then_retry_reuses_the_asset_already_made(env: MigrationEnv, clips: list[Path]) -> None:
    lesson_id = env.add_lesson(clips[0])
    env.start_all()

    def cancel_when_waiting(point: str, job: object) -> None:
        if point == "waiting":
            env.service.cancel(lesson_ids=[lesson_id])

    stats = env.run_worker(concurrency=1, hook=cancel_when_waiting)
    job = env.job(lesson_id)
    assert stats.lost == 1 and job.state == MigrationState.cancelled and job.mux_asset_id
    assert env.lesson(lesson_id).video_provider == "s3"
    assert env.service.retry(lesson_ids=[lesson_id]) == 0  # only failed ones, unless asked
    assert env.service.retry(lesson_ids=[lesson_id], include_cancelled=True) == 1
    env.run_worker()
    assert env.job(lesson_id).state == MigrationState.done
    assert [a["id"] for a in env.assets()] == [job.mux_asset_id]


def test_cleanup_deletes_only_verified_objects_and_rollback_works_until_then(
    env: MigrationEnv, clips: list[Path]
) -> None:
    a, b, c = (env.add_lesson(clip) for clip in clips[:3])
    keys = {i: env.lesson(i).video_url for i in (a, b, c)}
    env.start_all()
    env.run_worker()
    assert len(env.assets()) == 3

    # Rollback (default: the Mux asset is deleted) -> plays from S3 again, with its S3 duration.
    asset_a = env.job(a).mux_asset_id
    report = env.service.rollback([a], by="admin")
    assert report.succeeded == 1 and "deleted" in report.outcomes[0].message
    lesson = env.lesson(a)
    assert (lesson.video_provider, lesson.mux_asset_id, lesson.mux_playback_id, lesson.video_url) == (
        "s3",
        None,
        None,
        keys[a],
    )
    info = PlaybackService(env.settings, storage=env.storage).playback_for(lesson, "viewer")
    assert info.provider == "s3" and env.http.get(info.urls.mp4 or "").status_code == 200
    job_a = env.job(a)
    assert job_a.state == MigrationState.cancelled and job_a.rolled_back_at is not None
    assert asset_a not in {x["id"] for x in env.assets()}
    assert env.service.rollback([a]).refused  # nothing left to roll back

    # Cleanup: a dry run deletes nothing; then only the chosen lesson's object goes.
    dry = env.service.cleanup(dry_run=True)
    assert sorted(o.lesson_id for o in dry.outcomes if o.ok) == [b, c]
    env.storage.head(keys[b])
    report = env.service.cleanup(lesson_ids=[b], by="admin")
    assert report.succeeded == 1
    with pytest.raises(NotFound):
        env.storage.head(keys[b])
    job_b, lesson_b = env.job(b), env.lesson(b)
    assert job_b.cleaned_up_at is not None and lesson_b.video_url is None and lesson_b.video_provider == "mux"
    assert env.playlist_status(b) == 200
    assert env.service.cleanup(lesson_ids=[b]).outcomes == []  # done once

    # Rollback after cleanup is refused, clearly; the lesson stays on Mux.
    refused = env.service.rollback([b])
    assert not refused.succeeded and "deleted by cleanup" in refused.refused[0].message
    assert env.lesson(b).video_provider == "mux"

    # Rollback keeping the asset, then start again: the same asset comes back, nothing new is made.
    asset_c = env.job(c).mux_asset_id
    assert env.service.rollback([c], delete_asset=False).succeeded == 1
    plan = env.service.plan()
    assert {i.lesson_id: i.status for i in plan.items} == {a: "cancelled", c: "cancelled"}
    env.service.start(plan)
    env.run_worker()
    assert env.job(c).mux_asset_id == asset_c and env.job(a).mux_asset_id not in (None, asset_a)
    assert env.lesson(a).video_provider == "mux" and env.lesson(c).video_provider == "mux"
    assert len(env.assets()) == 3  # b, c (same as before) and a's new one

    # Cleanup refuses when Mux no longer has the asset: the S3 copy is then the only one.
    env.mux.delete_asset(asset_c or "")
    refused = env.service.cleanup(lesson_ids=[c])
    assert not refused.succeeded and "gone" in refused.refused[0].message
    env.storage.head(keys[c])


def test_a_lesson_that_moved_on_during_the_migration_is_not_switched(env: MigrationEnv, clips: list[Path]) -> None:
    lesson_id = env.add_lesson(clips[0])
    env.start_all()

    def teacher_uploads_meanwhile(point: str, job: object) -> None:
        if point == "verified":
            with env.session_factory.begin() as s:
                s.execute(
                    text("UPDATE lessons SET mux_upload_id = 'up-1', video_status = 'waiting_upload' WHERE id = :i"),
                    {"i": lesson_id},
                )

    env.run_worker(hook=teacher_uploads_meanwhile)
    job, lesson = env.job(lesson_id), env.lesson(lesson_id)
    assert job.state == MigrationState.failed and "teacher upload" in (job.error or "")
    assert lesson.video_provider == "s3" and lesson.mux_playback_id is None and lesson.mux_upload_id == "up-1"

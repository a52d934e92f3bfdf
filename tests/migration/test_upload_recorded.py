"""The migration's stream mode creates a Mux direct upload: it is recorded in `uploads` with the job (no user)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core.db.models import MigrationState, Upload
from tests.migration.helpers import MigrationEnv


def test_a_streamed_migration_records_its_upload_once(env: MigrationEnv, clips: list[Path]) -> None:
    lesson_id = env.add_lesson(clips[0], duration_s=1.5)
    env.start_all(ingest_mode="stream")
    env.run_worker()
    job = env.job(lesson_id)
    assert job.state == MigrationState.done and job.mux_upload_id
    with env.session_factory() as s:
        rows = s.execute(select(Upload.mux_upload_id, Upload.lesson_id, Upload.created_by)).all()
    assert [tuple(r) for r in rows] == [(job.mux_upload_id, lesson_id, None)]

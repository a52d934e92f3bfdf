"""The migration and the webhook receiver agree: Mux's events about a migration asset never fight the switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.db.models import MigrationState
from core.migration.jobs import JobView
from core.webhooks import WebhookProcessor, parse_event
from tests.migration.helpers import MigrationEnv


def _deliver(env: MigrationEnv, asset_id: str, *types: str) -> list[str]:
    """Hand the emulator's real events about `asset_id` to the webhook processor; returns the outcomes."""
    processor = WebhookProcessor(env.session_factory)
    outcomes = []
    for event in env.emu.events():
        if event["type"] in types and event["data"].get("id") == asset_id:
            outcomes.append(processor.handle(parse_event(json.dumps(event).encode())).outcome)
    return outcomes


def test_webhooks_leave_a_migration_asset_alone_until_the_switch_then_late_ones_are_stale(
    env: MigrationEnv, clips: list[Path]
) -> None:
    lesson_id = env.add_lesson(clips[0])
    env.start_all()
    seen: dict[str, Any] = {}

    def webhooks_arrive_first(point: str, job: JobView) -> None:
        if point == "verified":
            seen["before"] = _deliver(env, job.mux_asset_id or "", "video.asset.ready")
            seen["lesson"] = env.lesson(lesson_id)

    env.run_worker(hook=webhooks_arrive_first)
    job, lesson = env.job(lesson_id), env.lesson(lesson_id)
    # Mux says ready before the migration verified the asset: the lesson keeps playing from S3.
    assert seen["before"] == ["ignored"] and seen["lesson"].video_provider == "s3"
    assert job.state == MigrationState.done
    assert (lesson.mux_asset_id, lesson.mux_playback_id) == (job.mux_asset_id, job.mux_playback_id)
    # `video.asset.created` delivered late (after the switch) is older than the switch: stale, no regression.
    assert _deliver(env, job.mux_asset_id or "", "video.asset.created") == ["stale"]
    assert env.lesson(lesson_id).video_status == "ready"


def test_an_errored_migration_asset_never_touches_the_lesson(env: MigrationEnv, corrupt: Path) -> None:
    lesson_id = env.add_lesson(corrupt)
    env.start_all()
    seen: dict[str, Any] = {}

    def errored_webhook_first(point: str, job: JobView) -> None:
        if point == "waiting":
            env.emu.wait_for_asset_status(job.mux_asset_id or "", "errored")
            seen["outcomes"] = _deliver(env, job.mux_asset_id or "", "video.asset.created", "video.asset.errored")
            seen["status"] = env.lesson(lesson_id).video_status

    env.run_worker(hook=errored_webhook_first)
    assert seen == {"outcomes": ["ignored", "ignored"], "status": "ready"}
    job, lesson = env.job(lesson_id), env.lesson(lesson_id)
    assert job.state == MigrationState.failed
    # Back to exactly what it was: plays from S3, no trace of the failed asset.
    assert (lesson.video_provider, lesson.video_status, lesson.mux_asset_id, lesson.video_error) == (
        "s3",
        "ready",
        None,
        None,
    )

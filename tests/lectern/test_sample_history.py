"""The sample Mux history made real on a small platform: the emulator's assets dated as planned, the platform's
records of each move, and simulated views that respect those dates (`lectern emulator simulate --respect-dates`).

Real parts: the Mux emulator over HTTP (short sample videos really encoded), SQLite, the CLI in-process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from core.container import Lectern
from core.db.engine import make_engine
from core.db.migrate import upgrade
from core.db.models import Enrollment, Lesson, LessonProgress, MigrationJob, Upload
from core.privacy import pseudonym_secret, student_key
from core.settings import load_settings
from emulator.testing import EmulatorServer
from lectern.cli import app
from lectern.sample_data import SamplePlatform, SeedConfig, build_platform
from lectern.sample_history import HISTORY_EXPORT_DAYS, apply_history
from lectern.seed import read_history, write_history, write_platform

PSEUDONYM = "sample-history-test-pseudonym-key-0123456789"
JWT = "sample-history-test-jwt-secret-0123456789abcdef"


@dataclass
class World:
    platform: SamplePlatform
    engine: Engine
    emu: EmulatorServer
    env: dict[str, str]
    lines: list[str]
    again: list[str]
    assets: dict[str, dict[str, object]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("history")
    url = f"sqlite:///{root / 'platform.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC).replace(microsecond=0)
    cfg = SeedConfig(seed=4, teachers=2, courses=10, students=60, days=30, now=now, clip_seconds=(20, 31))
    platform = build_platform(cfg)
    write_platform(engine, platform)
    write_history(root / "var" / "sample-history.json", platform)
    with EmulatorServer() as emu:
        env = {
            "DATABASE_URL": url,
            "MUX_API_URL": emu.url,
            "MUX_TOKEN_ID": emu.token_id,
            "MUX_TOKEN_SECRET": emu.token_secret,
            "MUX_VIDEO_QUALITY": "plus",
            "LECTERN_PSEUDONYM_KEY": PSEUDONYM,
            "LECTERN_PLATFORM_JWT_SECRET": JWT,
        }
        settings = load_settings(
            database_url=url,
            mux_api_url=emu.url,
            mux_token_id=emu.token_id,
            mux_token_secret=emu.token_secret,
            mux_video_quality="plus",
            pseudonym_key=PSEUDONYM,
            platform_jwt_secret=JWT,
        )
        with Lectern.from_settings(settings) as lectern:
            lines = apply_history(lectern, root / "var")
            again = apply_history(lectern, root / "var")
        listed = emu.http.get("/video/v1/assets", params={"limit": 100}, auth=(emu.token_id, emu.token_secret))
        assets = {a["id"]: a for a in listed.json()["data"]}
        yield World(platform, engine, emu, env, lines, again, assets)
    engine.dispose()


def test_each_planned_move_is_an_asset_of_that_date_and_a_record(world: World) -> None:
    events = {e.lesson_id: e for e in world.platform.mux_history}
    assert {e.kind for e in events.values()} == {"migrated", "uploaded"}
    assert len(world.assets) == len(events) < 100
    with Session(world.engine) as session:
        lessons = {row.id: row for row in session.scalars(select(Lesson))}
        jobs = {row.lesson_id: row for row in session.scalars(select(MigrationJob))}
        uploads = {row.lesson_id: row for row in session.scalars(select(Upload))}
    for lesson_id, event in events.items():
        lesson = lessons[lesson_id]
        asset = world.assets[lesson.mux_asset_id]
        assert int(asset["created_at"]) == int(event.at.timestamp())
        assert (asset["status"], asset["passthrough"], asset["video_quality"]) == ("ready", str(lesson_id), "plus")
        assert (lesson.video_provider, lesson.video_status) == ("mux", "ready")
        assert lesson.video_duration_s == pytest.approx(event.duration_s, abs=0.05) == asset["duration"]
        assert lesson.mux_playback_id == asset["playback_ids"][0]["id"]
        if event.kind == "migrated":
            job = jobs[lesson_id]
            assert (job.state, job.mux_asset_id, job.s3_key) == ("done", asset["id"], event.s3_key)
            assert job.started_at < job.finished_at <= world.platform.config.now
            assert lesson.duration_s == event.duration_s  # the S3 file's length, as listed before
            assert (lesson.video_url is None) == event.cleaned_up == (job.cleaned_up_at is not None)
        else:
            upload = uploads[lesson_id]
            assert (upload.status, upload.mux_asset_id, upload.created_by) == ("ready", asset["id"], event.teacher_id)
            assert lesson.mux_upload_id == upload.mux_upload_id == asset["upload_id"]
            assert asset["ingest_type"] == "on_demand_direct_upload"
    assert world.emu.events() == []  # the history's webhooks were sent back then, not now


def test_a_second_run_changes_nothing_and_exports_cover_the_history(world: World) -> None:
    assert "lessons on Mux since" in world.lines[0]
    assert world.again == [f"Mux history already in place ({len(world.platform.mux_history)} lessons planned)"]
    config = world.emu.http.get("/_emulator/config").json()["data"]
    assert config["view_export_days"] == HISTORY_EXPORT_DAYS


def test_simulated_views_respect_the_dates_and_progress_follows_them(world: World) -> None:
    result = CliRunner().invoke(
        app,
        ["emulator", "simulate", "--days", "30", "--views", "4000", "--seed", "3", "--respect-dates"],
        env=world.env,
    )
    assert result.exit_code == 0, result.output
    created = {a["passthrough"]: int(a["created_at"]) for a in world.assets.values()}
    with Session(world.engine) as session:
        lessons = {row.id: row for row in session.scalars(select(Lesson))}
        enrolled = {(e.user_id, e.course_id): e.enrolled_at for e in session.scalars(select(Enrollment))}
        progress = list(session.scalars(select(LessonProgress)))
    rows = []
    page = 1
    while batch := world.emu.http.get("/_emulator/views/progress", params={"page": page, "limit": 1000}).json()["data"]:
        rows += batch
        page += 1
    assert len(rows) > 100
    for row in rows:
        first = datetime.fromisoformat(row["first_view_at"].replace("Z", "+00:00"))
        assert first.timestamp() >= created[row["video_id"]] - 1  # no view before the asset existed
        assert row["max_position_s"] <= row["video_duration_s"] + 0.001
    moved = {e.lesson_id: e.at for e in world.platform.mux_history}
    viewed = {(row["viewer_user_id"], row["video_id"]) for row in rows}
    secret = pseudonym_secret(load_settings(pseudonym_key=PSEUDONYM, platform_jwt_secret=JWT))
    mux_era = 0
    for p in progress:
        lesson = lessons[p.lesson_id]
        assert p.updated_at >= enrolled[(p.user_id, lesson.course_id)] - timedelta(seconds=1)
        assert p.furthest_position_s <= (lesson.video_duration_s or lesson.duration_s or 0) + 0.001
        if p.lesson_id in moved and p.updated_at > moved[p.lesson_id]:
            # Progress saved after the lesson moved to Mux comes from that student's Mux Data views of it.
            assert (str(student_key(secret, p.user_id)), str(p.lesson_id)) in viewed
            mux_era += 1
    assert mux_era > 50


def test_history_file_round_trips(world: World, tmp_path: Path) -> None:
    write_history(tmp_path / "h.json", world.platform)
    assert read_history(tmp_path / "h.json") == world.platform.mux_history
    assert read_history(tmp_path / "missing.json") == []
    assert httpx.get(f"{world.emu.url}/_emulator/health").status_code == 200

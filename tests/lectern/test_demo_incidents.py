"""The demo's staged failures, on a small platform: the sync's evaluator raises the alerts from them.

Real parts: the API over HTTP receiving the emulator's signed webhooks, the Mux emulator (the text file
really fails its ffmpeg probe, the clip really transcodes), SQLite, a DuckDB warehouse, the whole sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from api.main import create_app
from api.testing import ApiServer
from core.container import Lectern
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import upgrade
from core.db.models import Alert, Lesson, Upload
from core.settings import Settings, load_settings
from emulator.testing import EmulatorServer
from lectern.demo_incidents import DEMO_ALERT_RULES, LessonRow, Targets, pick_targets, stage_incidents
from lectern.sample_media import make_clip
from sync.runner import SyncContext, run_jobs
from tests.assets_world import emulator_with
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.warehouse.factories import PSEUDONYM_SECRET

JWT_SECRET = "platform-jwt-secret-for-demo-tests-0123456789"


def aid(name: str) -> str:
    return f"demoAsset{name}" + "x" * 24


def pid(name: str) -> str:
    return f"demoPlay{name}" + "y" * 24


def asset(name: str, lesson_id: int) -> dict[str, object]:
    """A ready asset as the emulator's state file keeps it (nothing to transcode)."""
    return {
        "id": aid(name),
        "created_at": "1735689600",
        "status": "ready",
        "duration": 30.0,
        "resolution_tier": "720p",
        "max_resolution_tier": "1080p",
        "video_quality": "basic",
        "passthrough": str(lesson_id),
        "playback_ids": [{"id": pid(name), "policy": "public"}],
        "mp4_support": "none",
        "master_access": "none",
    }


@dataclass
class Demo:
    settings: Settings
    emu: EmulatorServer
    lessons: dict[str, int]
    assets: dict[str, str]
    tmp: Path


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """Two teachers' courses, partly on Mux (the emulator's assets), the API taking the emulator's webhooks."""
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(url)
    engine = make_engine(url)
    lessons: dict[str, int] = {}
    with transaction(make_session_factory(engine)) as s:
        first, second = make_course(s, teacher=make_user(s, "teacher")), make_course(s, teacher=make_user(s, "teacher"))
        for name, course in (("a1", first), ("a2", first), ("a3", first), ("b1", second), ("b2", second)):
            on_mux = {} if name == "a3" else {"mux_asset_id": aid(name), "mux_playback_id": pid(name)}
            status = {"video_provider": "mux", "video_status": "ready"} if on_mux else {}
            lessons[name] = make_lesson(s, course, title=name, **on_mux, **status).id
        for _ in range(40):
            student = make_user(s)
            enroll(s, student, first)
            enroll(s, student, second)
    assets = {name: asset(name, lesson_id) for name, lesson_id in lessons.items() if name != "a3"}
    engine.dispose()
    with emulator_with(
        tmp_path, list(assets.values()), webhook_secret="whsec-demo-tests", webhook_retry_base=0.05
    ) as emu:
        common = {
            "database_url": url,
            "platform_jwt_secret": JWT_SECRET,
            "mux_api_url": emu.url,
            "mux_token_id": emu.token_id,
            "mux_token_secret": emu.token_secret,
            "mux_webhook_secret": emu.webhook_secret,
            "pseudonym_key": PSEUDONYM_SECRET.decode(),
        }
        with ApiServer(create_app(load_settings(**common))) as api:
            emu.set_webhook_urls([f"{api.url}/api/videos/mux/webhook"])
            settings = load_settings(
                **common,
                api_base_url=api.url,
                warehouse_path=tmp_path / "warehouse.duckdb",
                alert_rules=DEMO_ALERT_RULES,
                sync_retry_base_s=0.01,
            )
            yield Demo(settings, emu, lessons, {name: aid(name) for name in assets}, tmp_path)


def stage(demo: Demo) -> list[str]:
    clip = demo.tmp / "clip.mp4"
    if not clip.exists():
        make_clip(clip, seconds=2.0)
    with Lectern.from_settings(demo.settings) as lectern:
        return stage_incidents(lectern, workdir=demo.tmp, clip=clip)


def test_staged_failures_make_the_evaluator_fire(demo: Demo) -> None:
    lines = stage(demo)
    assert [line.split(":")[0] for line in lines] == ["Playback failures", "A failed upload", "An orphaned asset"]

    engine = make_engine(demo.settings.database_url)
    with make_session_factory(engine)() as s:
        # Mux's webhooks, through the API, marked the text file's upload and its lesson errored with Mux's words.
        [failed] = s.scalars(select(Upload).where(Upload.lesson_id == demo.lessons["a3"])).all()
        broken = s.get(Lesson, demo.lessons["a3"])
        assert failed.status == "errored" and failed.error and failed.finished_at is not None
        assert broken is not None and broken.video_status == "errored" and broken.video_error == failed.error
        # The replaced lesson plays its new video; the old asset is no lesson's any more.
        [new] = s.scalars(select(Upload).where(Upload.lesson_id == demo.lessons["b2"])).all()
        replaced = s.get(Lesson, demo.lessons["b2"])
        assert new.status == "ready" and replaced is not None and replaced.mux_asset_id == new.mux_asset_id
        assert new.mux_asset_id != demo.assets["b2"]
        assert s.scalars(select(Alert)).all() == []  # staging raised nothing itself

    ctx = SyncContext.from_settings(demo.settings)
    try:
        results = run_jobs(ctx)
    finally:
        ctx.close()
    assert {r.job: r.status for r in results} == dict.fromkeys(
        ("platform", "assets", "orphan_cleanup", "views", "delivery_usage", "alerts"), "ok"
    ), [r.error for r in results]

    with make_session_factory(engine)() as s:
        firing = {a.key: a for a in s.scalars(select(Alert).where(Alert.state == "firing"))}
    engine.dispose()
    assert set(firing) >= {
        "playback_failure",
        f"playback_failure_lesson:{demo.lessons['a1']}",
        "upload_failure_rate",
        f"mux_orphan_asset:{demo.assets['b2']}",
    }, sorted(firing)
    lesson_alert = firing[f"playback_failure_lesson:{demo.lessons['a1']}"]
    assert lesson_alert.kind == "playback_failure_lesson" and lesson_alert.lesson_id == demo.lessons["a1"]
    assert lesson_alert.value is not None and lesson_alert.value > 25.0 and lesson_alert.fired_at is not None
    assert firing["upload_failure_rate"].value == 50.0  # the text file errored, the new video did not

    # A second demo run finds every failure still there and stages nothing new.
    views = demo.emu.http.get("/_emulator/views").json()["data"]["views"]
    again = stage(demo)
    assert all("earlier" in line for line in again), again
    assert demo.emu.http.get("/_emulator/views").json()["data"]["views"] == views
    engine = make_engine(demo.settings.database_url)
    with make_session_factory(engine)() as s:
        assert len(s.scalars(select(Upload)).all()) == 2
    engine.dispose()


def row(id: int, course: int, status: str, asset: str | None = None) -> LessonRow:
    return LessonRow(id, course, id, f"L{id}", status, asset, 100 + course, f"t{course}@x.test")


def test_targets_are_the_same_lessons_on_every_run() -> None:
    rows = [row(1, 1, "ready", "a1"), row(2, 1, "ready"), row(3, 1, "none"), row(4, 1, "none")]
    rows += [row(5, 2, "ready", "a5"), row(6, 2, "ready", "a6"), row(7, 2, "none")]
    first = pick_targets(rows)
    assert (first.failing, first.broken, first.replaced) == (rows[0], rows[3], rows[5])
    # After a run: the broken lesson is errored (naming its errored asset); the replaced one plays a new asset.
    rows[3] = row(4, 1, "errored", "bad")
    rows[5] = row(6, 2, "ready", "new")
    again = pick_targets(rows)
    assert (again.failing, again.broken, again.replaced) == (rows[0], rows[3], rows[5])
    only = row(1, 1, "none")
    assert pick_targets([only]) == Targets(None, only, None)


def test_the_banner_says_alerts_fire_on_purpose_and_from_what() -> None:
    from rich.console import Console

    from lectern.commands.demo import operations_note

    console = Console(width=300, record=True)
    console.print(operations_note(["A failed upload: lesson 12; Mux: bad [input]", "Playback failures: lesson 1"]))
    text = console.export_text()
    assert "Admin > Operations" in text and "firing on purpose" in text
    assert "  - A failed upload: lesson 12; Mux: bad [input]\n  - Playback failures: lesson 1\n" in text
    console.print(operations_note([]))
    assert "Admin > Operations" in console.export_text()

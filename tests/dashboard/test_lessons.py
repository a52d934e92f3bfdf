"""My lessons (live status), Lesson preview (one player for Mux and S3) and Upload (URL from core)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import Lesson
from core.privacy import student_key
from emulator.testing import EmulatorServer
from tests.dashboard.conftest import AppFactory, page_text
from tests.dashboard.world import World
from tests.warehouse.factories import PSEUDONYM_SECRET


def set_lesson(world: World, key: str, **values: object) -> None:
    engine = make_engine(world.database_url)
    with transaction(make_session_factory(engine)) as s:
        s.execute(update(Lesson).where(Lesson.id == world.lessons[key]).values(**values))
    engine.dispose()


@pytest.fixture
def restore_lessons(world: World) -> Iterator[None]:
    yield
    set_lesson(world, "a_waiting", video_status="waiting_upload", mux_upload_id="upload-a3", video_provider=None,
               mux_playback_id=None, video_error=None, video_status_at=None)  # fmt: skip


def iframe_html(at) -> str:  # type: ignore[no-untyped-def]
    frames = at.get("iframe")
    assert len(frames) == 1
    return str(frames[0].proto.srcdoc)


def test_my_lessons_lists_provider_status_duration_and_thumbnail(app: AppFactory, world: World) -> None:
    at = app("teacher_a")
    assert [t.value for t in at.title] == ["My lessons"]
    table = at.dataframe[0].value.set_index("lesson")
    assert table.loc["Alpha Mux lesson", ["provider", "status", "duration"]].tolist() == ["Mux", "ready", "2:00"]
    assert table.loc["Alpha S3 lesson", ["provider", "status", "duration"]].tolist() == ["S3", "ready", "5:00"]
    assert table.loc["Alpha waiting lesson", "status"] == "waiting upload"
    assert table.loc["Alpha errored lesson", "status"] == "errored: Input file does not contain a video track"
    assert table.loc["Alpha Mux lesson", "thumbnail"] == "https://image.mux.com/pbalphamux/thumbnail.jpg"
    assert any("Input file does not contain a video track" in w.value for w in at.warning)
    assert any("refreshing every" in c.value for c in at.caption)  # a video is still processing


def test_status_changes_show_up_on_the_next_refresh(app: AppFactory, world: World, restore_lessons: None) -> None:
    at = app("teacher_a")
    set_lesson(world, "a_waiting", video_status="processing")
    at.run()  # what the fragment's timer does every few seconds
    assert at.dataframe[0].value.set_index("lesson").loc["Alpha waiting lesson", "status"] == "processing"
    set_lesson(world, "a_waiting", video_status="ready", video_provider="mux", mux_playback_id="pbnew")
    at.run()
    row = at.dataframe[0].value.set_index("lesson").loc["Alpha waiting lesson"]
    assert (row["provider"], row["status"]) == ("Mux", "ready")


def test_preview_plays_mux_over_hls_with_mux_data_metadata(app: AppFactory, world: World) -> None:
    at = app("teacher_a", page="pages/preview.py", lesson=world.lessons["a_mux"])
    html = iframe_html(at)
    assert 'src="https://stream.mux.com/pbalphamux.m3u8"' not in html  # real Mux: playback-id, not src
    assert 'playback-id="pbalphamux"' in html
    assert f'metadata-video-id="{world.lessons["a_mux"]}"' in html
    # Mux Data gets the pseudonymous key, never the platform user id.
    assert f'metadata-viewer-user-id="{student_key(PSEUDONYM_SECRET, world.users["teacher_a"])}"' in html
    assert 'metadata-video-title="Alpha Mux lesson"' in html
    assert "http://dashboard.test:8501/app/static/vendor/mux-player.mjs" in html
    assert "Worked example" in page_text(at)


def test_preview_plays_legacy_s3_from_a_presigned_mp4(app: AppFactory, world: World) -> None:
    at = app("teacher_a", page="pages/preview.py", lesson=world.lessons["a_s3"])
    html = iframe_html(at)
    assert 'src="http://127.0.0.1:9/lessons/legacy/alpha.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256' in html
    assert "S3 MP4 (presigned)" in page_text(at)


def test_preview_without_a_video_points_to_upload(app: AppFactory, world: World) -> None:
    at = app("teacher_a", page="pages/preview.py", lesson=world.lessons["a_errored"])
    assert not at.get("iframe")
    assert any("has no playable video yet" in i.value for i in at.info)


def test_signed_lesson_without_signing_key_says_which_settings(
    app: AppFactory, world: World, restore_lessons: None
) -> None:
    set_lesson(world, "a_waiting", video_status="ready", mux_playback_id="pbsigned", playback_policy="signed")
    try:
        at = app("teacher_a", page="pages/preview.py", lesson=world.lessons["a_waiting"])
        assert any("MUX_SIGNING_KEY_ID" in e.value for e in at.error)
    finally:
        set_lesson(world, "a_waiting", playback_policy="public")


def test_upload_without_mux_credentials_explains(app: AppFactory, world: World) -> None:
    at = app("teacher_a", page="pages/upload.py", lesson=world.lessons["a_waiting"])
    at.button(key="get_upload_url").click().run()
    assert [e.value for e in at.error] == ["Uploads are not set up yet: ask an admin."]  # no setting names
    assert not at.get("iframe")
    admin = app("admin", page="pages/upload.py", lesson=world.lessons["a_waiting"])
    admin.button(key="get_upload_url").click().run()
    assert any("MUX_TOKEN_ID" in e.value for e in admin.error)


@pytest.fixture
def emulated_mux(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    with EmulatorServer() as emu:
        monkeypatch.setenv("MUX_API_URL", emu.url)
        monkeypatch.setenv("MUX_TOKEN_ID", emu.token_id)
        monkeypatch.setenv("MUX_TOKEN_SECRET", emu.token_secret)
        monkeypatch.setenv("MUX_STREAM_BASE_URL", f"{emu.url}/stream")
        monkeypatch.setenv("MUX_IMAGE_BASE_URL", f"{emu.url}/image")
        yield emu


def test_upload_url_comes_from_core_and_a_pending_one_is_reused(
    app: AppFactory, world: World, emulated_mux: EmulatorServer, restore_lessons: None
) -> None:
    set_lesson(world, "a_waiting", video_status="none", mux_upload_id=None)
    at = app("teacher_a", page="pages/upload.py", lesson=world.lessons["a_waiting"])
    at.button(key="get_upload_url").click().run()
    assert not at.error, [e.value for e in at.error]
    html = iframe_html(at)
    assert f'endpoint="{emulated_mux.url}/_upload/' in html
    assert "http://dashboard.test:8501/app/static/vendor/mux-uploader.mjs" in html

    engine = make_engine(world.database_url)
    with make_session_factory(engine)() as s:
        lesson = s.get(Lesson, world.lessons["a_waiting"])
        assert lesson is not None and lesson.video_status == "waiting_upload"
        upload_id = lesson.mux_upload_id
    engine.dispose()
    assert upload_id and upload_id in html

    # A new session (another tab) asking again gets the same pending upload, not a second one.
    again = app("teacher_a", page="pages/upload.py", lesson=world.lessons["a_waiting"])
    again.button(key="get_upload_url").click().run()
    assert upload_id in iframe_html(again)
    assert any("continuing the pending upload" in c.value for c in again.caption)

    # Start over: the pending upload is cancelled at Mux and a new one replaces it.
    again.button(key="start_over").click().run()
    again.run()
    fresh = iframe_html(again)
    assert upload_id not in fresh and f"{emulated_mux.url}/_upload/" in fresh
    old = emulated_mux.http.get(
        f"/video/v1/uploads/{upload_id}", auth=(emulated_mux.token_id, emulated_mux.token_secret)
    )
    assert old.json()["data"]["status"] == "cancelled"


def test_the_upload_box_gives_way_once_the_lesson_is_ready(
    app: AppFactory, world: World, emulated_mux: EmulatorServer, restore_lessons: None
) -> None:
    set_lesson(world, "a_waiting", video_status="none", mux_upload_id=None)
    at = app("teacher_a", page="pages/upload.py", lesson=world.lessons["a_waiting"])
    at.button(key="get_upload_url").click().run()
    assert at.get("iframe") and not any("Upload finished" in s.value for s in at.success)
    assert not any("upload" in c.value.lower() and "LECTERN_" in c.value for c in at.caption)  # no setting names
    set_lesson(world, "a_waiting", video_status="processing")  # the file went up; Mux is working on it
    at.run()
    assert at.get("iframe") and any("processing" in i.value for i in at.info)
    # Mux's webhook makes the lesson ready: the box ("Mux is processing…") leaves, the outcome stays.
    set_lesson(world, "a_waiting", video_status="ready", video_provider="mux", mux_playback_id="pbwaiting")
    at.run()
    assert not at.exception and not at.get("iframe")
    assert any(s.value.startswith("Upload finished:") and "ready to play" in s.value for s in at.success)
    assert at.button(key="get_upload_url")  # a new video can replace it

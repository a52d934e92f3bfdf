"""`lectern upload LESSON FILE`: chunked to the emulator's upload URL, and resumed after an interruption."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest
from typer.testing import CliRunner

from core.container import Lectern
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import Lesson
from core.settings import load_settings
from emulator.testing import EmulatorServer
from lectern.cli import app
from lectern.commands import upload
from tests.factories import make_course, make_lesson, make_user


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 800 KB of H.264 (four 256 KiB chunks)."""
    path = tmp_path_factory.mktemp("upload-clip") / "lesson.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=25", "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M",
         str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert path.stat().st_size > 2 * upload.CHUNK_UNIT
    return path


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmulatorServer, int, str]]:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    from core.db.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        lesson_id = make_lesson(s, make_course(s, teacher=make_user(s, "teacher"))).id
    with EmulatorServer() as emu:
        for name, value in {
            "DATABASE_URL": url,
            "MUX_API_URL": emu.url,
            "MUX_TOKEN_ID": emu.token_id,
            "MUX_TOKEN_SECRET": emu.token_secret,
            "LECTERN_MUX_UPLOAD_CHUNK_BYTES": "262144",
        }.items():
            monkeypatch.setenv(name, value)  # fmt: skip
        yield emu, lesson_id, url
    engine.dispose()


def said(result: object) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(str(result.output).split())  # type: ignore[attr-defined]


def lesson(url: str, lesson_id: int) -> Lesson:
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        found = s.get(Lesson, lesson_id)
    engine.dispose()
    assert found is not None
    return found


def test_uploads_in_chunks_through_core(setup: tuple[EmulatorServer, int, str], clip: Path) -> None:
    emu, lesson_id, url = setup
    result = CliRunner().invoke(app, ["upload", str(lesson_id), str(clip), "--no-wait"])
    assert result.exit_code == 0, result.output
    assert f"uploaded lesson.mp4 ({clip.stat().st_size:,} bytes)" in said(result)
    row = lesson(url, lesson_id)
    assert row.video_status == "waiting_upload" and row.mux_upload_id
    got = emu.http.get(f"/video/v1/uploads/{row.mux_upload_id}", auth=(emu.token_id, emu.token_secret)).json()
    assert got["data"]["status"] == "asset_created"


def test_a_second_run_resumes_where_the_first_stopped(setup: tuple[EmulatorServer, int, str], clip: Path) -> None:
    emu, lesson_id, url = setup
    with Lectern.from_settings(load_settings()) as lectern:
        ticket = upload._ticket_from_core(lectern, lesson_id, None, restart=False)
    total = clip.stat().st_size
    first = clip.read_bytes()[: upload.CHUNK_UNIT]
    with httpx.Client() as http:  # an earlier run that died after one chunk
        resp = http.put(ticket.url, content=first, headers={"Content-Range": f"bytes 0-{len(first) - 1}/{total}"})
        assert resp.status_code == 308
        assert upload.uploaded_bytes(http, ticket.url, total) == upload.CHUNK_UNIT

    result = CliRunner().invoke(app, ["upload", str(lesson_id), str(clip), "--no-wait"])
    assert result.exit_code == 0, result.output
    assert f"resuming upload {ticket.upload_id}: {upload.CHUNK_UNIT:,} of {total:,} bytes already there" in said(result)
    assert lesson(url, lesson_id).mux_upload_id == ticket.upload_id  # the same upload, not a new one
    got = emu.http.get(f"/video/v1/uploads/{ticket.upload_id}", auth=(emu.token_id, emu.token_secret)).json()
    assert got["data"]["status"] == "asset_created"


def test_refuses_files_that_are_not_videos(setup: tuple[EmulatorServer, int, str], tmp_path: Path) -> None:
    _, lesson_id, _ = setup
    notes = tmp_path / "notes.pdf"
    notes.write_bytes(b"%PDF-1.4")
    result = CliRunner().invoke(app, ["upload", str(lesson_id), str(notes)])
    assert result.exit_code == 65  # invalid
    assert "does not look like a video" in said(result)

"""Every error kind through the `lectern` entry point: one line on stderr and the exit code of its kind.

First through a test-only command that raises each kind, then through the real commands that reach a kind
(each in-process with typer's runner, which goes through the same root command as the `lectern` script),
then once as a real `python -m lectern` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.models import CommandInfo
from typer.testing import CliRunner, Result

from api.main import create_app
from api.testing import ApiServer
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import upgrade
from core.errors import ErrorKind
from core.settings import load_settings
from emulator.testing import EmulatorServer
from lectern.cli import EXIT_CODE_BY_KIND, app, main
from tests.conftest import free_port
from tests.error_kinds import INTERNAL_DETAIL, sample
from tests.factories import enroll, make_course, make_lesson, make_user
from warehouse.store import WarehouseWriter

EXIT_CODE = {
    ErrorKind.INVALID: 65,
    ErrorKind.TOO_LARGE: 65,
    ErrorKind.HEADERS_TOO_LARGE: 65,
    ErrorKind.NOT_FOUND: 66,
    ErrorKind.UNAVAILABLE: 69,
    ErrorKind.INTERNAL: 70,
    ErrorKind.CONFLICT: 73,
    ErrorKind.RETRYABLE: 75,
    ErrorKind.UPSTREAM: 76,
    ErrorKind.UNAUTHENTICATED: 77,
    ErrorKind.FORBIDDEN: 77,
    ErrorKind.MISCONFIGURED: 78,
}


@pytest.fixture
def raising_command() -> Iterator[None]:
    """`lectern raise KIND`, for this test only: raises the sample error of that kind from a command."""

    def raise_kind(kind: ErrorKind) -> None:
        raise sample(kind).error

    app.command("raise", hidden=True)(raise_kind)
    added: CommandInfo = app.registered_commands[-1]
    yield
    app.registered_commands.remove(added)


def test_the_table_has_every_kind() -> None:
    assert EXIT_CODE_BY_KIND == EXIT_CODE


@pytest.mark.usefixtures("raising_command")
@pytest.mark.parametrize("kind", list(ErrorKind))
def test_each_kind_is_one_line_and_its_exit_code(kind: ErrorKind, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["raise", kind.value])
    assert exited.value.code == EXIT_CODE[kind]
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"error: {sample(kind).shown}"]
    assert "Traceback" not in err and INTERNAL_DETAIL not in err


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "not_found 66" in out and "retryable 75" in out and "misconfigured 78" in out


def test_the_lectern_script_and_python_dash_m_run_main() -> None:
    root = Path(__file__).resolve().parents[2]
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]["lectern"] == "lectern.cli:main"
    assert "main()" in (root / "lectern" / "__main__.py").read_text()


# --- real commands -----------------------------------------------------------------------------------

runner = CliRunner()
JWT_SECRET = "error-kinds-test-platform-jwt-secret-0123456789"
ENV_PREFIXES = ("MUX_", "LECTERN_", "S3_", "AWS_", "DATABASE_URL")


@dataclass(frozen=True)
class Platform:
    """A migrated SQLite platform: a teacher's lesson, a student enrolled in its course, a video file."""

    db_url: str
    lesson_id: int
    student_email: str
    video: Path
    env: dict[str, str]


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout; `seed` writes var/ here
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES):
            monkeypatch.delenv(name)
    db_url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as s:
        course = make_course(s, teacher=make_user(s, "teacher"))
        lesson_id = make_lesson(s, course).id
        student = make_user(s)
        enroll(s, student, course)
        student_email = student.email
    engine.dispose()
    video = tmp_path / "lesson.mp4"
    video.write_bytes(b"\0" * 1024)
    env = {
        "DATABASE_URL": db_url,
        "LECTERN_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "LECTERN_PLATFORM_JWT_SECRET": JWT_SECRET,
        "LECTERN_PSEUDONYM_KEY": "error-kinds-test-pseudonym-key-0123456789",
        "MUX_TOKEN_ID": "id",
        "MUX_TOKEN_SECRET": "secret",
        "COLUMNS": "400",
    }
    return Platform(db_url, lesson_id, student_email, video, env)


def lectern(platform: Platform, *args: str, **env: str) -> Result:
    return runner.invoke(app, list(args), env=platform.env | env)


def error_line(result: Result, kind: ErrorKind) -> str:
    """The one stderr line of a command that failed with `kind` (its exit code, no traceback, no output)."""
    assert result.exit_code == EXIT_CODE[kind], (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # main() mapped it: not a crash
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_not_found(platform: Platform) -> None:
    lesson = lectern(platform, "upload", "999999", str(platform.video), "--no-wait")
    assert error_line(lesson, ErrorKind.NOT_FOUND) == "error: lesson 999999 not found"
    user = lectern(platform, "upload", str(platform.lesson_id), str(platform.video), "--as", "nobody@example.test")
    assert error_line(user, ErrorKind.NOT_FOUND) == "error: no user 'nobody@example.test'"
    token = lectern(platform, "token", "--user", "999999")
    assert error_line(token, ErrorKind.NOT_FOUND) == "error: no user with id 999999"


def test_invalid(platform: Platform) -> None:
    period = lectern(platform, "costs", "report", "--from", "2026-02-30")
    assert "2026-02-30" in error_line(period, ErrorKind.INVALID)
    group = lectern(platform, "costs", "report", "--group-by", "planet")
    assert "group_by" in error_line(group, ErrorKind.INVALID)
    key = lectern(platform, "privacy", "lookup", "42")
    assert error_line(key, ErrorKind.INVALID) == "error: 42 is not a student key (those have 18 digits)"
    notes = platform.video.with_name("notes.pdf")
    notes.write_bytes(b"%PDF-1.4")
    not_a_video = lectern(platform, "upload", str(platform.lesson_id), str(notes))
    assert error_line(not_a_video, ErrorKind.INVALID).startswith("error: notes.pdf does not look like a video")


def test_conflict(platform: Platform) -> None:
    tiny = ["--students", "3", "--teachers", "1", "--courses", "1", "--days", "1", "--no-media"]
    seeded = lectern(platform, "seed", *tiny)  # the platform already has users
    assert error_line(seeded, ErrorKind.CONFLICT) == (
        "error: the platform database already has users; use `lectern seed --reset`"
    )


def test_forbidden(platform: Platform) -> None:
    """An enrolled student may watch the lesson but not upload its video."""
    student = lectern(platform, "upload", str(platform.lesson_id), str(platform.video), "--as", platform.student_email)
    assert error_line(student, ErrorKind.FORBIDDEN) == (
        f"error: only the course's teacher or an admin can change lesson {platform.lesson_id}"
    )


def test_unauthenticated_by_the_api(platform: Platform) -> None:
    settings = load_settings(database_url=platform.db_url, platform_jwt_secret=JWT_SECRET)
    with ApiServer(create_app(settings)) as server:
        result = lectern(
            platform,
            "upload",
            str(platform.lesson_id),
            str(platform.video),
            "--token",
            "not-a-token",
            LECTERN_API_URL=server.url,
        )
    assert error_line(result, ErrorKind.UNAUTHENTICATED).startswith("error: the API refused the upload URL: ")


def test_retryable_while_another_sync_holds_the_warehouse(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    env = platform.env | {"LECTERN_SYNC_LOCK_TIMEOUT_S": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with WarehouseWriter.from_settings(load_settings()).open(publish=False):
        result = lectern(platform, "sync", "once", "--job", "platform", **env)
    assert error_line(result, ErrorKind.RETRYABLE).startswith("error: another sync holds ")


def test_unavailable(platform: Platform) -> None:
    closed = free_port()
    database = lectern(platform, "db", "upgrade", DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed}/lectern")
    assert error_line(database, ErrorKind.UNAVAILABLE).startswith(
        "error: cannot reach the platform database in DATABASE_URL: "
    )
    mux = lectern(platform, "mux", "signing-key", "create", MUX_API_URL=f"http://127.0.0.1:{closed}")
    error_line(mux, ErrorKind.UNAVAILABLE)
    warehouse = lectern(platform, "warehouse", "info")
    assert "run `lectern sync --once`" in error_line(warehouse, ErrorKind.UNAVAILABLE)


def test_upstream_mux_refuses_the_token(platform: Platform) -> None:
    with EmulatorServer() as emu:
        result = lectern(
            platform,
            "mux",
            "signing-key",
            "create",
            MUX_API_URL=emu.url,
            MUX_TOKEN_ID=emu.token_id,
            MUX_TOKEN_SECRET="wrong-secret",
        )
    error_line(result, ErrorKind.UPSTREAM)


def test_misconfigured(platform: Platform, tmp_path: Path) -> None:
    setting = lectern(platform, "config", "check", LECTERN_TRUSTED_PROXIES="not-an-address")
    assert error_line(setting, ErrorKind.MISCONFIGURED).startswith("error: invalid setting LECTERN_TRUSTED_PROXIES: ")
    empty = lectern(platform, "token", "--user", "1", DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    assert error_line(empty, ErrorKind.MISCONFIGURED).endswith("run `lectern db upgrade`")
    no_mux = lectern(platform, "mux", "signing-key", "create", MUX_TOKEN_ID="", MUX_TOKEN_SECRET="")
    assert "MUX_TOKEN_ID" in error_line(no_mux, ErrorKind.MISCONFIGURED)


def test_the_lectern_process_prints_one_line_and_exits_by_kind(platform: Platform) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)} | platform.env
    result = subprocess.run(
        [sys.executable, "-m", "lectern", "upload", "999999", str(platform.video)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 66, result.stderr
    assert result.stderr == "error: lesson 999999 not found\n" and result.stdout == ""

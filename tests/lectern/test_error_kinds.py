"""Every error kind through the `lectern` entry point: one line on stderr and the exit code of its kind."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.models import CommandInfo

from core.errors import ErrorKind
from lectern.cli import EXIT_CODE_BY_KIND, app, main
from tests.error_kinds import INTERNAL_DETAIL, sample

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

"""`lectern warehouse sql`: the workbench's guards and limits on the command line, every format, stdin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lectern.cli import app
from warehouse.store import WarehouseLayout, WarehouseWriter

runner = CliRunner()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli-sql")
    pointer = root / "warehouse.duckdb"
    with WarehouseWriter(WarehouseLayout(pointer)).open() as con:
        con.execute(
            "INSERT INTO courses VALUES (1, 3, 'Alpha Python', '', now()), (2, 4, 'Beta Watercolour', '', now())"
        )
    return {"LECTERN_WAREHOUSE_PATH": str(pointer), "DATABASE_URL": f"sqlite:///{root / 'platform.db'}"}


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    yield tmp_path


def test_table_csv_and_json_on_standard_output(env: dict[str, str], cwd: Path) -> None:
    sql = "SELECT id, title FROM courses ORDER BY id"
    table = runner.invoke(app, ["warehouse", "sql", sql], env={**env, "COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "Alpha Python" in table.stdout and "Beta Watercolour" in table.stdout
    assert "2 rows in" in table.stderr

    csv = runner.invoke(app, ["warehouse", "sql", sql, "--format", "csv"], env=env)
    assert csv.exit_code == 0 and csv.stdout.startswith('"id","title"\n1,"Alpha Python"\n2,"Beta Watercolour"\n')
    lines = runner.invoke(app, ["warehouse", "sql", sql, "-f", "json"], env=env).stdout.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 1, "title": "Alpha Python"},
        {"id": 2, "title": "Beta Watercolour"},
    ]


def test_the_query_from_standard_input(env: dict[str, str], cwd: Path) -> None:
    result = runner.invoke(
        app, ["warehouse", "sql", "-", "-f", "csv"], env=env, input="SELECT count(*) AS n FROM courses\n"
    )
    assert result.exit_code == 0 and result.stdout == '"n"\n2\n'


def test_files_hold_every_row_past_the_dashboards_caps(env: dict[str, str], cwd: Path) -> None:
    out = cwd / "rows.parquet"
    sql = "SELECT range AS i FROM range(2000000)"
    result = runner.invoke(
        app, ["warehouse", "sql", sql, "-f", "parquet", "-o", str(out)],
        env={**env, "LECTERN_SQL_DOWNLOAD_MAX_ROWS": "1000", "LECTERN_SQL_MAX_ROWS": "10"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pq.read_metadata(out).num_rows == 2_000_000 and "2,000,000 rows in" in result.stderr
    # The table format keeps the row cap, and says so.
    table = runner.invoke(app, ["warehouse", "sql", sql], env={**env, "LECTERN_SQL_MAX_ROWS": "10"})
    assert table.exit_code == 0 and "truncated at 10 rows" in table.stderr


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE courses", "This is a DROP statement"),
        ("COPY courses TO 'stolen.csv'", "This is a COPY statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "reaches outside the warehouse"),
        ("SELECT * FROM no_such_table", "no_such_table"),
    ],
)
def test_refusals_are_one_line_and_exit_65(env: dict[str, str], cwd: Path, sql: str, message: str) -> None:
    out = cwd / "out.csv"
    result = runner.invoke(app, ["warehouse", "sql", sql, "-f", "csv", "-o", str(out)], env=env)
    assert result.exit_code == 65  # kind invalid
    assert result.stderr.startswith("error: ") and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not out.exists() and list(cwd.iterdir()) == []  # no partial file, nothing copied


def test_the_time_limit_applies(env: dict[str, str], cwd: Path) -> None:
    slow = "SELECT sum(hash(a.range * b.range)) FROM range(200000) a, range(200000) b"
    result = runner.invoke(app, ["warehouse", "sql", slow], env={**env, "LECTERN_SQL_TIME_LIMIT_S": "0.5"})
    assert result.exit_code == 65 and "time limit (0.5 s" in result.stderr


def test_bad_options(env: dict[str, str], cwd: Path) -> None:
    assert runner.invoke(app, ["warehouse", "sql", "SELECT 1", "-f", "xml"], env=env).exit_code == 65
    with_output = runner.invoke(app, ["warehouse", "sql", "SELECT 1", "-o", "x.txt"], env=env)
    assert with_output.exit_code == 65 and "--output takes csv, json or parquet" in with_output.stderr

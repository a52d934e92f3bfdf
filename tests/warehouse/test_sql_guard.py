"""The SQL workbench refuses everything but reading the snapshot — and each refusal is checked against a control.

Every statement below is run twice: through the workbench, where it must be refused with a clear message
and change nothing (the snapshot's bytes, the files around it, the next query's answers), and on a plain,
unguarded DuckDB connection to a copy of the same snapshot, where it must succeed — a refusal test whose
statement fails anyway proves nothing. Two controls need what this machine does not have (network for an
http:// URL, the extension repository for INSTALL): there the control's failure must be that, and the
workbench's answer must be the refusal, not the same network error.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.warehouse.conftest import Built
from warehouse.sql.errors import QueryFailed, QueryRefused
from warehouse.sql.guard import EngineLimits, open_snapshot
from warehouse.sql.workbench import SqlLimits, SqlWorkbench
from warehouse.store import WarehouseLayout

TYPE_REFUSAL = "The workbench runs one SELECT"
OUTSIDE_REFUSAL = "reaches outside the warehouse"


@dataclass(frozen=True)
class Files:
    dir: Path
    csv: Path
    parquet: Path
    text: Path
    other_db: Path
    platform_db: Path


@pytest.fixture(scope="module")
def files(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Files:
    root = tmp_path_factory.mktemp("outside")
    csv = root / "marks.csv"
    csv.write_text("student,mark\n1,90\n")
    parquet = root / "marks.parquet"
    pq.write_table(pa.table({"student": [1], "mark": [90]}), parquet)
    text = root / "notes.txt"
    text.write_text("not for the workbench")
    other = root / "other.duckdb"
    duckdb.connect(str(other)).close()
    platform_db = Path(built.database_url.removeprefix("sqlite:///"))
    return Files(root, csv, parquet, text, other, platform_db)


@pytest.fixture(scope="module")
def workbench(built: Built) -> SqlWorkbench:
    return SqlWorkbench(built.pointer, SqlLimits(max_rows=1000, time_limit_s=10))


@pytest.fixture
def control(built: Built, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A plain read-write connection to a copy of the snapshot, with DuckDB's defaults: no guard at all."""
    snapshot = WarehouseLayout(built.pointer).published()
    assert snapshot is not None
    copy = tmp_path / "control.duckdb"
    shutil.copyfile(snapshot, copy)
    con = duckdb.connect(str(copy))
    yield con
    con.close()


def fingerprint(built: Built, files: Files) -> tuple[str, list[str], list[str]]:
    snapshot = WarehouseLayout(built.pointer).published()
    assert snapshot is not None
    digest = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    # The spill directory itself appears with the first query; each query's own files in it must not stay.
    around = sorted(
        str(p.relative_to(built.pointer.parent)) for p in built.pointer.parent.rglob("*") if p.name != "sql-spill"
    )
    outside = sorted(p.name for p in files.dir.rglob("*"))
    return digest, around, outside


# (id, statement, which guard answers). `{dir}`, `{csv}` ... are the module's files.
CASES = [
    ("create_table", "CREATE TABLE stolen AS SELECT * FROM lessons", TYPE_REFUSAL),
    ("create_temp_table", "CREATE TEMP TABLE scratch AS SELECT * FROM mux_views", TYPE_REFUSAL),
    ("create_temp_view", "CREATE TEMP VIEW scratch AS SELECT 1 AS one", TYPE_REFUSAL),
    ("insert", "INSERT INTO courses (id, title) VALUES (999, 'injected')", TYPE_REFUSAL),
    ("update", "UPDATE lessons SET title = 'renamed'", TYPE_REFUSAL),
    ("delete", "DELETE FROM mux_views", TYPE_REFUSAL),
    ("drop", "DROP TABLE sync_state", TYPE_REFUSAL),
    ("copy_to", "COPY lessons TO '{dir}/copied.csv'", TYPE_REFUSAL),
    ("export_database", "EXPORT DATABASE '{dir}/exported'", TYPE_REFUSAL),
    ("attach", "ATTACH '{other_db}' AS other", TYPE_REFUSAL),
    ("detach", "DETACH other", TYPE_REFUSAL),
    ("load", "LOAD json", TYPE_REFUSAL),
    ("set", "SET threads = 4", TYPE_REFUSAL),
    ("set_autoinstall", "SET autoinstall_known_extensions = true", TYPE_REFUSAL),
    ("pragma_set", "PRAGMA memory_limit = '8GB'", TYPE_REFUSAL),
    ("reset", "RESET lock_configuration", TYPE_REFUSAL),
    ("explain_analyze_create", "EXPLAIN ANALYZE CREATE TEMP TABLE scratch AS SELECT 1 AS one", TYPE_REFUSAL),
    ("two_statements", "SELECT 1; DROP TABLE lessons", TYPE_REFUSAL),
    ("read_csv_passwd", "SELECT * FROM read_csv('/etc/passwd', sep = ':', header = false)", OUTSIDE_REFUSAL),
    ("read_parquet_local", "SELECT * FROM read_parquet('{parquet}')", OUTSIDE_REFUSAL),
    ("read_text", "SELECT content FROM read_text('{text}')", OUTSIDE_REFUSAL),
    ("glob_root", "SELECT * FROM glob('/*')", OUTSIDE_REFUSAL),
    ("bare_from_path", "FROM '{csv}'", OUTSIDE_REFUSAL),
    ("platform_db_bytes", "SELECT content FROM read_blob('{platform_db}')", OUTSIDE_REFUSAL),
]


def fill(sql: str, files: Files) -> str:
    return sql.format(
        dir=files.dir, csv=files.csv, parquet=files.parquet, text=files.text, other_db=files.other_db,
        platform_db=files.platform_db,
    )  # fmt: skip


@pytest.mark.parametrize(("case", "sql", "refusal"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_a_clear_message_changing_nothing_while_the_control_runs_it(
    case: str, sql: str, refusal: str, built: Built, files: Files, workbench: SqlWorkbench,
    control: duckdb.DuckDBPyConnection,
) -> None:  # fmt: skip
    statement = fill(sql, files)
    counts = "SELECT (SELECT count(*) FROM lessons) AS lessons, (SELECT count(*) FROM mux_views) AS v"
    expected = control.execute(counts).fetchall()
    before = fingerprint(built, files)

    with pytest.raises(QueryRefused) as refused:
        workbench.run(statement)
    assert refusal in refused.value.user_message
    assert fingerprint(built, files) == before
    assert [tuple(r) for r in workbench.run(counts).frame.itertuples(index=False)] == expected

    # The control: the same statement on an unguarded connection does what it says.
    if case == "detach":
        control.execute(f"ATTACH '{files.other_db}' AS other")
    control.execute(statement).fetchall()
    if case == "platform_db_bytes":
        content = control.execute(statement).fetchall()[0][0]
        assert b"password_hash" in content  # the unguarded connection reads the platform's users table
    if case in ("copy_to", "export_database"):
        assert (files.dir / ("copied.csv" if case == "copy_to" else "exported")).exists()
        shutil.rmtree(files.dir / "exported", ignore_errors=True)
        (files.dir / "copied.csv").unlink(missing_ok=True)
    if case == "explain_analyze_create":
        assert control.execute("SELECT one FROM scratch").fetchall() == [(1,)]


@pytest.mark.parametrize(
    ("case", "sql"),
    [("http_url", "SELECT * FROM read_csv('http://127.0.0.1:9/marks.csv')"), ("install", "INSTALL json")],
)
def test_refused_where_the_control_needs_a_network(
    case: str, sql: str, workbench: SqlWorkbench, control: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(QueryRefused) as refused:
        workbench.run(sql)
    assert (OUTSIDE_REFUSAL if case == "http_url" else TYPE_REFUSAL) in refused.value.user_message
    # Still DuckDB's defaults, but the extension repository on a closed local port: fails fast, not after DNS.
    control.execute("SET custom_extension_repository = 'http://127.0.0.1:9'")
    try:
        control.execute(sql).fetchall()
    except duckdb.Error as exc:
        # The control tried the network (or the extension repository) and this machine has none.
        assert not isinstance(exc, duckdb.PermissionException)
        assert any(word in str(exc) for word in ("connect", "download", "HTTP", "http")), exc


def test_a_python_variable_in_scope_is_not_a_table(workbench: SqlWorkbench, built: Built, tmp_path: Path) -> None:
    secret_frame = pd.DataFrame({"password_hash": ["scrypt$not-for-sql"]})
    sql = "SELECT * FROM secret_frame"
    # Control: a default connection finds the DataFrame in the calling frame.
    assert duckdb.connect().execute(sql).fetchall() == [("scrypt$not-for-sql",)]
    # The guarded instance, called from this same frame, does not.
    snapshot = WarehouseLayout(built.pointer).published()
    assert snapshot is not None
    guarded = open_snapshot(snapshot, EngineLimits(), tmp_path)
    try:
        with pytest.raises(duckdb.Error, match="secret_frame"):
            guarded.execute(sql)
    finally:
        guarded.close()
    with pytest.raises(QueryFailed, match="secret_frame"):
        workbench.run(sql)
    del secret_frame


def test_the_platform_db_through_an_extension_is_refused(workbench: SqlWorkbench, files: Files) -> None:
    # No SQLite or PostgreSQL extension ships with DuckDB here, so the unguarded control of these is the
    # read_blob case above (it reads the platform DB's bytes, password hashes included).
    with pytest.raises(QueryRefused, match="sqlite_scanner extension, which the workbench never installs"):
        workbench.run(f"SELECT * FROM sqlite_scan('{files.platform_db}', 'users')")
    with pytest.raises(QueryRefused, match="ATTACH statement"):
        workbench.run(f"ATTACH '{files.platform_db}' AS platform (TYPE sqlite)")
    with pytest.raises(QueryRefused, match="ATTACH statement"):
        workbench.run("ATTACH 'dbname=lectern host=127.0.0.1' AS platform (TYPE postgres)")


def test_the_guards_are_set_and_locked_before_any_query(built: Built, tmp_path: Path) -> None:
    snapshot = WarehouseLayout(built.pointer).published()
    assert snapshot is not None
    con = open_snapshot(snapshot, EngineLimits(threads=1, memory_limit="256MB", max_temp_size="64MB"), tmp_path)
    try:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'allowed_paths', "
                "'autoinstall_known_extensions', 'autoload_known_extensions', 'python_enable_replacements', "
                "'threads', 'memory_limit', 'max_temp_directory_size', 'lock_configuration')"
            ).fetchall()
        )
        # DuckDB adds the attached file's own WAL names beside it; nothing else is allowed.
        allowed = settings.pop("allowed_paths").strip("[]").split(", ")
        assert str(snapshot) in allowed and all(path.startswith(str(snapshot)) for path in allowed)
        assert settings == {
            "enable_external_access": "false",
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
            "python_enable_replacements": "false",
            "threads": "1",
            "memory_limit": "244.1 MiB",
            "max_temp_directory_size": "61.0 MiB",
            "lock_configuration": "true",
        }
        attached = con.execute("SELECT database_name, readonly FROM duckdb_databases() WHERE NOT internal").fetchall()
        assert ("warehouse", True) in attached
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()


def test_text_that_is_not_one_query(workbench: SqlWorkbench) -> None:
    with pytest.raises(QueryRefused, match="no statement"):
        workbench.run("  -- only a comment\n")
    with pytest.raises(QueryFailed, match="syntax error"):
        workbench.run("SELEC 1")
    with pytest.raises(QueryRefused, match="not a query"):
        workbench.run("UPDATE EXTENSIONS")

"""Shared fixtures: platform databases (SQLite and PostgreSQL), migrated schemas, a real moto S3 server.

PostgreSQL comes from TEST_DATABASE_URL (`.ci/run` sets it). Every test run creates its own databases on
that server, named after the run, and drops them at the end, so runs never see each other's rows.
Without a server, PostgreSQL tests are skipped with the reason, except under CI=true where they fail.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import socket
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from core.db.engine import make_engine, make_session_factory
from core.db.migrate import upgrade
from tests.secret_scan import LeakScanner

# pytest-xdist workers start with COLUMNS=80 in their environment where a plain run has none; a rich console
# created at import takes that as its fixed width, and a test that sets COLUMNS for a wide table would not get
# it. Workers drop it, so tests see the same environment with or without xdist.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

RUN_ID = uuid.uuid4().hex[:8]
_created_pg_dbs: list[str] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_admin_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL")


def _pg_unavailable_reason() -> str | None:
    url = _pg_admin_url()
    if not url:
        return "TEST_DATABASE_URL is not set (`.ci/run` sets it to the machine's PostgreSQL)"
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} unreachable: {exc}"
    return None


def new_pg_database(prefix: str = "lectern_test", template: str | None = None) -> str:
    """Create a fresh database on the test server (a copy of `template` if given) and return its URL (dropped at
    session end)."""
    reason = _pg_unavailable_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL required under CI=true: {reason}")
        pytest.skip(reason)
    admin_url = make_url(_pg_admin_url() or "")
    name = f"{prefix}_{RUN_ID}_{len(_created_pg_dbs)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    _created_pg_dbs.append(name)
    return admin_url.set(database=name).render_as_string(hide_password=False)


# Every log line of the run, scanned for configured secrets and signed tokens (issue 15): a handler on the
# root logger renders each record as Lectern's own handler would (tests/secret_scan.py) and the session fails
# if any line carries one. The root logger is raised to INFO, the level `configure_logging` runs at.
# Secrets: whatever Lectern registered for masking, every `*SECRET`/`*PASSWORD` constant of a loaded test
# module, the emulator's token secret and the test signing key. Lines logged by subprocesses are not seen here.
# Under pytest-xdist every worker scans its own lines and the controller adds them up and fails the run.
_SECRET_CONSTANT = re.compile(r"(SECRET|PASSWORD)$")


def _run_secrets() -> set[str]:
    from core.logging import _registered

    found = set(_registered) | {"test-secret"}
    for name, module in list(sys.modules.items()):
        if not name.startswith("tests.") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if _SECRET_CONSTANT.search(attr) and isinstance(value, str | bytes):
                found.add(value.decode() if isinstance(value, bytes) else value)
    signing = sys.modules.get("tests.core.signing")
    if signing is not None and signing.signing_key.cache_info().currsize:
        key = signing.signing_key()
        found.add(key.private_key_b64)
        found.add(base64.b64decode(key.private_key_b64).decode().splitlines()[1])  # a line of the PEM body
    return found


_scanner = LeakScanner(_run_secrets)
_root_level: int | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _root_level
    root = logging.getLogger()
    _root_level = root.level
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(_scanner)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """Under pytest-xdist each worker scans its own log lines; the controller adds up what they found."""
    found = getattr(node, "workeroutput", {}).get("log_scan")
    if found:
        _scanner.lines += found["lines"]
        _scanner.leaks.extend(found["leaks"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _scanner.leaks:
        terminalreporter.section("secrets or signed tokens in log lines", red=True)
        for leak in _scanner.leaks:
            terminalreporter.line(leak)
    else:
        terminalreporter.line(f"log scan: {_scanner.lines} log lines, no secrets or signed tokens")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_scanner)
    if _root_level is not None:
        logging.getLogger().setLevel(_root_level)
    if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller reports and fails the run
        session.config.workeroutput["log_scan"] = {"lines": _scanner.lines, "leaks": _scanner.leaks}
    if _scanner.leaks and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if not _created_pg_dbs or not _pg_admin_url():
        return
    admin = create_engine(_pg_admin_url() or "", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _created_pg_dbs:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database on each backend (not migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'lectern.db'}"
    return new_pg_database()


# One database per backend is migrated per run; each test gets a copy (SQLite's backup API, PostgreSQL's CREATE
# DATABASE ... TEMPLATE), which costs a fraction of running every migration again for every test. A PostgreSQL
# copy a test is done with is emptied and handed to the next test (see _recycle): a DELETE per table costs a
# tenth of a new CREATE DATABASE, which writes the whole template to the WAL.
_migrated: dict[str, str] = {}
_pg_reusable: list[str] = []
_pg_shape: dict[str, Any] = {}

# Every row out of every table (foreign keys not checked: session_replication_role), sequences from 1 again.
_EMPTY_DATABASE = """
DO $$
DECLARE r record;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM %I', r.tablename);
  END LOOP;
  FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
    EXECUTE format('ALTER SEQUENCE %I RESTART', r.sequencename);
  END LOOP;
END $$
"""
_SHAPE = (
    "SELECT (SELECT string_agg(version_num, ',') FROM alembic_version), "
    "(SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'), "
    "(SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public')"
)


def _pg_url(name: str) -> str:
    return make_url(_pg_admin_url() or "").set(database=name).render_as_string(hide_password=False)


def _recycle(url: str) -> None:
    """Empty a test's PostgreSQL database for the next test, if it still has the migrated schema.

    Connections the test left open are ended first (a server thread still running would otherwise write into the
    next test's rows). A database whose schema changed (a downgrade, a table a test created) is left alone: the
    session drops it."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            if tuple(conn.execute(text(_SHAPE)).one()) != _pg_shape.get("head"):
                return
            conn.execute(text(_EMPTY_DATABASE))
        _pg_reusable.append(str(make_url(url).database))
    except Exception:
        return
    finally:
        engine.dispose()


def migrated_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new database on `backend` ("sqlite" or "postgresql"), migrated to head."""
    if backend == "sqlite":
        if "sqlite" not in _migrated:
            template = tmp_path_factory.mktemp("migrated") / "lectern.db"
            upgrade(f"sqlite:///{template}")
            _migrated["sqlite"] = str(template)
        target = tmp_path_factory.mktemp("db") / "lectern.db"
        with sqlite3.connect(_migrated["sqlite"]) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        source.close()
        copy.close()
        return f"sqlite:///{target}"
    if "postgresql" not in _migrated:
        url = new_pg_database("lectern_migrated")
        upgrade(url)
        _migrated["postgresql"] = str(make_url(url).database)
        template = create_engine(url, poolclass=NullPool)
        with template.connect() as conn:
            _pg_shape["head"] = tuple(conn.execute(text(_SHAPE)).one())
        template.dispose()
    if _pg_reusable:
        return _pg_url(_pg_reusable.pop())
    return new_pg_database(template=_migrated["postgresql"])


def _migrated_for_test(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = migrated_database(backend, tmp_path_factory)
    yield url
    if backend == "postgresql":
        _recycle(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database on each backend, migrated to head (and empty: a reused PostgreSQL one is emptied first)."""
    yield from _migrated_for_test(request.param, tmp_path_factory)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database migrated to head (for tests that need PostgreSQL specifically)."""
    yield from _migrated_for_test("postgresql", tmp_path_factory)


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto's server mode) for the whole run."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto_server: str) -> S3Server:
    """A fresh bucket on the moto server for one test."""
    server = S3Server(endpoint_url=moto_server, bucket=f"lessons-{uuid.uuid4().hex[:10]}")
    server.client().create_bucket(Bucket=server.bucket)
    return server

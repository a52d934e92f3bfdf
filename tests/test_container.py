"""The container (core/container.py) is the one place services are built; it builds lazily and closes what it built.

The first test reads every product module with `ast` and fails on a call that builds a service anywhere else,
so a command or page that wires its own (and drifts, say a PlaybackService without the signer) cannot land.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from core.container import WEBHOOK_THREADS, Lectern
from core.mux.service import MuxService
from core.retry import DEFAULT_POLICY
from core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "api", "sync", "dashboard", "warehouse", "lectern")
# Constructors and factories of what the container holds; `X.from_settings(...)` counts as building X.
BUILDERS = frozenset(
    {
        "MuxService",
        "StorageService",
        "PlaybackService",
        "PlaybackSigner",
        "LessonVideoService",
        "WebhookProcessor",
        "TokenVerifier",
        "MigrationService",
        "MigrationWorker",
        "OrphanedAssetService",
        "AlertNotifier",
        "WebhookOperations",
        "SignInThrottle",
        "HashingSlots",
        "make_engine",
        "make_session_factory",
        "build_s3_client",
        "WarehouseWriter",
        "TicketService",
        "TicketSigner",
        "ProgressService",
    }
)
# Where a builder may be called outside the container, and why.
ALLOWED: dict[str, frozenset[str]] = {
    "core/container.py": BUILDERS,
    # Alembic migrates the schema with its own short-lived engine (foreign keys off on SQLite), before
    # any service exists.
    "core/db/migrate.py": frozenset({"make_engine"}),
    "core/db/migrations/env.py": frozenset({"make_engine"}),
    # The warehouse is above core, so the container cannot build its writer; `from_settings` there is the
    # writer's one factory, and its callers (the sync, `lectern warehouse init`, `lectern privacy forget`)
    # use it.
    "*": frozenset({"WarehouseWriter.from_settings"}),
}


def _builder_calls(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in BUILDERS:
            found.append((node.lineno, func.id))
        elif isinstance(func, ast.Attribute) and func.attr in BUILDERS:
            found.append((node.lineno, func.attr))  # module.make_engine(...)
        elif (
            isinstance(func, ast.Attribute)
            and func.attr == "from_settings"
            and isinstance(func.value, ast.Name)
            and func.value.id in BUILDERS
        ):
            found.append((node.lineno, f"{func.value.id}.from_settings"))
    return found


def test_services_are_built_in_the_container_only() -> None:
    strays: list[str] = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            allowed = ALLOWED.get(rel, frozenset()) | ALLOWED["*"]
            for line, name in _builder_calls(ast.parse(path.read_text(), rel)):
                if name not in allowed and name.split(".")[0] not in allowed:
                    strays.append(f"{rel}:{line}: {name}(...)")
    assert not strays, "build these through core.container.Lectern instead:\n" + "\n".join(strays)


def test_the_scan_finds_a_stray_construction() -> None:
    tree = ast.parse(
        "from core.playback import PlaybackService, PlaybackSigner\n"
        "def f(s):\n"
        "    return PlaybackService(s, signer=PlaybackSigner.from_settings(s)), engine.make_engine('x')\n"
    )
    assert sorted(name for _, name in _builder_calls(tree)) == [
        "PlaybackService",
        "PlaybackSigner.from_settings",
        "make_engine",
    ]


# --- laziness and closing --------------------------------------------------------------------------


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'platform.db'}",
        "MUX_TOKEN_ID": "container-test",
        "MUX_TOKEN_SECRET": "container-secret",
        "MUX_API_URL": "http://127.0.0.1:9",  # never contacted: building a client connects nowhere
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "S3_BUCKET": "lessons",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "LECTERN_PLATFORM_JWT_SECRET": "a-test-secret-long-enough-for-hs256-0123456789",
    }
    return load_settings(**(values | overrides))


class Closed:
    """Records what was closed, by kind."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.engines: list[Engine] = []
        self.mux: list[MuxService] = []
        self.s3: list[object] = []
        original_close = MuxService.close

        def mux_close(service: MuxService) -> None:
            self.mux.append(service)
            original_close(service)

        monkeypatch.setattr(MuxService, "close", mux_close)
        monkeypatch.setattr("core.storage.build_s3_client", self._fake_s3)

    def _fake_s3(self, settings: Settings) -> object:
        closed = self.s3

        class FakeS3:
            def close(self) -> None:
                closed.append(self)

        return FakeS3()

    def watch(self, engine: Engine) -> Engine:
        event.listen(engine, "engine_disposed", lambda _conn: self.engines.append(engine))
        return engine


def test_nothing_is_built_until_asked_and_a_database_command_builds_no_mux_or_s3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = Closed(monkeypatch)
    lectern = Lectern.from_settings(_settings(tmp_path))
    assert lectern.built == ()
    engine = closed.watch(lectern.engine)
    assert lectern.built == ("engine",)
    assert lectern.engine is engine  # built once
    lectern.close()
    assert closed.engines == [engine]
    assert (closed.mux, closed.s3) == ([], [])
    assert lectern.built == ()


def test_close_closes_everything_built_once_and_nothing_handed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = Closed(monkeypatch)
    with Lectern.from_settings(_settings(tmp_path)) as lectern:
        engine = closed.watch(lectern.engine)
        lessons = lectern.lessons
        assert set(lectern.built) >= {"engine", "session_factory", "mux", "s3", "storage", "playback", "lessons"}
        assert "webhooks" not in lectern.built and "migration" not in lectern.built
        assert lessons.mux is lectern.mux and lessons.playback_service is lectern.playback
        assert lectern.storage.mux is lectern.mux and lectern.playback.storage is lectern.storage
        assert lectern.read_engine is engine  # one pool outside the API
        mux = lectern.mux
    assert closed.engines == [engine] and closed.mux == [mux] and len(closed.s3) == 1
    lectern.close()  # a second close closes nothing twice
    assert closed.engines == [engine] and closed.mux == [mux] and len(closed.s3) == 1

    handed_mux = MuxService(_settings(tmp_path))
    handed_s3 = object()
    with Lectern.from_settings(_settings(tmp_path), mux_client=handed_mux, s3_client=handed_s3) as lectern:
        assert lectern.storage.mux is handed_mux and lectern.storage.client is handed_s3
    assert closed.mux == [mux]  # the caller's client stays open
    handed_mux.close()


def test_mux_is_none_without_credentials_and_playback_always_gets_the_signer(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings = _settings(
        tmp_path, MUX_TOKEN_ID="", MUX_TOKEN_SECRET="", MUX_SIGNING_KEY_ID="key-1", MUX_SIGNING_PRIVATE_KEY=pem
    )
    with Lectern.from_settings(settings) as lectern:
        assert lectern.mux is None and lectern.lessons.mux is None
        signer = lectern.playback.signer
        assert signer is not None and signer.key_id == "key-1"
        assert lectern.migration.mux is None


def test_the_sync_kind_retries_mux_longer(tmp_path: Path) -> None:
    settings = _settings(tmp_path, LECTERN_SYNC_RETRY_ATTEMPTS=9)
    with Lectern.from_settings(settings, kind="sync") as sync, Lectern.from_settings(settings) as cli:
        assert sync.mux is not None and sync.mux.retrier.policy.attempts == 9
        assert cli.mux is not None and cli.mux.retrier.policy == DEFAULT_POLICY


def test_the_api_kind_has_three_pools_sized_for_its_threads(tmp_path: Path) -> None:
    # A PostgreSQL URL builds pools without connecting, so no server is needed to read their sizes.
    settings = _settings(tmp_path, DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:9/none")
    with Lectern.from_settings(settings, kind="api") as api:
        writes, reads, hooks = api.engine, api.read_engine, api.webhook_engine
        assert len({id(writes), id(reads), id(hooks)}) == 3
        assert (writes.pool.size(), reads.pool.size(), hooks.pool.size()) == (8, 5, WEBHOOK_THREADS)  # type: ignore[attr-defined]
        assert api.lessons.engine is reads
    with Lectern.from_settings(settings, kind="dashboard") as dashboard:
        assert dashboard.read_engine is dashboard.engine is dashboard.webhook_engine

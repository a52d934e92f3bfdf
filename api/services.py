"""Everything the API needs at run time, built once per app from settings (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mux_python
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.metrics import ApiMetrics
from core.auth import TokenVerifier
from core.db.engine import make_engine, make_session_factory
from core.lessons import LessonVideoService
from core.mux.service import MuxService
from core.playback import PlaybackService, PlaybackSigner
from core.settings import Settings
from core.storage import StorageService
from core.webhooks import WebhookProcessor

# Threads per API process that apply webhook events (api/routes/webhooks.py limits them to this).
WEBHOOK_THREADS = 4


@dataclass
class Services:
    settings: Settings
    engine: Engine
    read_engine: Engine
    webhook_engine: Engine
    session_factory: sessionmaker[Session]
    mux: MuxService | None
    storage: StorageService
    playback: PlaybackService
    lessons: LessonVideoService
    webhooks: WebhookProcessor
    metrics: ApiMetrics
    tokens: TokenVerifier

    def close(self) -> None:
        if self.mux is not None:
            self.mux.close()
        self.engine.dispose()
        self.read_engine.dispose()
        self.webhook_engine.dispose()


def build_engines(settings: Settings) -> tuple[Engine, Engine, Engine]:
    """(writes, reads, webhooks). Writes: transactions, pre-ping, a pool for the threadpool's sync routes.

    Reads (the playback/status hot path, one SELECT each): AUTOCOMMIT and no pre-ping, so a request is one
    round trip instead of four (ping, BEGIN, SELECT, ROLLBACK). Without the ping, the first read on a
    connection the server dropped fails once (503/500) and the pool replaces it; `pool_recycle` keeps
    that rare. Webhooks: transactions without pre-ping; the processor retries an event once when its
    connection turns out to be dead (core/webhooks.py), and a pool the size of the webhook threads.
    Sizes keep workers x replicas inside PostgreSQL's default max_connections (100).
    """
    if settings.is_sqlite:
        url = settings.database_url
        return make_engine(url), make_engine(url, isolation_level="AUTOCOMMIT"), make_engine(url)
    url = settings.database_url
    writes = make_engine(url, pool_size=8, max_overflow=8)
    reads = make_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=False, pool_recycle=1800, pool_size=5,
                        max_overflow=5)  # fmt: skip
    hooks = make_engine(url, pool_pre_ping=False, pool_recycle=1800, pool_size=WEBHOOK_THREADS, max_overflow=0)
    return writes, reads, hooks


def build_services(
    settings: Settings, *, mux_client: mux_python.ApiClient | MuxService | None = None, s3_client: Any | None = None
) -> Services:
    engine, read_engine, webhook_engine = build_engines(settings)
    factory = make_session_factory(engine)
    if isinstance(mux_client, MuxService):
        mux: MuxService | None = mux_client
    elif mux_client is not None or settings.mux_configured:
        mux = MuxService(settings, mux_client)
    else:
        mux = None
    storage = StorageService(settings, s3_client, mux=mux)
    playback = PlaybackService(settings, storage=storage, signer=PlaybackSigner.from_settings(settings))
    return Services(
        settings=settings,
        engine=engine,
        read_engine=read_engine,
        webhook_engine=webhook_engine,
        session_factory=factory,
        mux=mux,
        storage=storage,
        playback=playback,
        lessons=LessonVideoService(factory, mux=mux, playback=playback, read_engine=read_engine),
        webhooks=WebhookProcessor(make_session_factory(webhook_engine)),
        metrics=ApiMetrics(),
        tokens=TokenVerifier(settings.platform_jwt_secret.get_secret_value()),
    )

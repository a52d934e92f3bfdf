"""`Lectern`: every core service of one process, each built once, on first use, and closed together.

    with Lectern.from_settings(settings, kind="cli") as lectern:
        lectern.lessons.request_upload(user_id, lesson_id)

The API, the sync, the dashboard, the migration workers and every CLI command get their services here and
build none themselves; `tests/test_container.py` fails when a service is constructed anywhere else. Each
attribute is built on first use (a command that needs only the database builds no Mux or S3 client and
does not even import their SDKs), under a lock, since the API's and the dashboard's threads share one
container. `close()` closes what was built, newest first; clients handed in (`mux_client` as a
`MuxService`, `s3_client`) belong to the caller and stay open.

`kind` says which process holds the container:
- `api`: three PostgreSQL pools tuned for the request paths (see `read_engine`), the webhook pool sized to
  `WEBHOOK_THREADS`;
- `sync`: Mux calls retry longer (`LECTERN_SYNC_RETRY_ATTEMPTS`): a sync can wait out a bad minute, an
  interactive call cannot;
- `dashboard`, `cli`: one pool with SQLAlchemy's defaults, shared by reads, writes and webhooks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar, overload

from core.db.engine import make_engine, make_session_factory
from core.settings import Settings

if TYPE_CHECKING:
    import mux_python
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from core.alerts.notify import AlertNotifier
    from core.assets.service import OrphanedAssetService
    from core.auth import TokenVerifier
    from core.lessons import LessonVideoService
    from core.migration.service import MigrationService
    from core.migration.worker import Hook, MigrationWorker
    from core.mux.service import MuxService
    from core.passwords import HashingSlots
    from core.playback import PlaybackService
    from core.progress import ProgressService
    from core.retry import RetryPolicy
    from core.saved_queries import SavedQueries
    from core.signin_throttle import SignInThrottle
    from core.storage import StorageService
    from core.tickets import TicketService
    from core.webhook_ops import WebhookOperations
    from core.webhooks import WebhookProcessor

ProcessKind = Literal["api", "sync", "dashboard", "cli"]
# Threads per API process that apply webhook events (api/routes/webhooks.py limits them to this); the
# API's webhook pool has one connection per thread.
WEBHOOK_THREADS = 4

T = TypeVar("T")


class _once(Generic[T]):
    """A lazy attribute: built by the method on first access (under the container's lock), then plain.

    A non-data descriptor, so once the value sits in the instance's `__dict__` reads skip this code.
    """

    def __init__(self, build: Callable[[Any], T]) -> None:
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> _once[T]: ...

    @overload
    def __get__(self, instance: Lectern, owner: type) -> T: ...

    def __get__(self, instance: Lectern | None, owner: type) -> _once[T] | T:
        if instance is None:
            return self
        with instance._lock:
            if self.name not in instance.__dict__:
                instance.__dict__[self.name] = self.build(instance)
                instance._built.append(self.name)
        return instance.__dict__[self.name]  # type: ignore[no-any-return]


class Lectern:
    def __init__(
        self,
        settings: Settings,
        *,
        kind: ProcessKind = "cli",
        mux_client: mux_python.ApiClient | MuxService | None = None,
        s3_client: Any | None = None,
        mux_retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.kind = kind
        self._mux_client = mux_client
        self._s3_client = s3_client
        self._mux_retry_policy = mux_retry_policy
        self._lock = threading.RLock()  # re-entrant: building playback builds storage on the same thread
        self._built: list[str] = []
        self._closers: list[Callable[[], None]] = []

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        kind: ProcessKind = "cli",
        mux_client: mux_python.ApiClient | MuxService | None = None,
        s3_client: Any | None = None,
        mux_retry_policy: RetryPolicy | None = None,
    ) -> Self:
        """Nothing is built yet. Tests hand in the emulator's Mux client and moto's S3 client here."""
        return cls(settings, kind=kind, mux_client=mux_client, s3_client=s3_client, mux_retry_policy=mux_retry_policy)

    # --- life cycle --------------------------------------------------------------------------------

    @property
    def built(self) -> tuple[str, ...]:
        """The attributes built so far, oldest first."""
        with self._lock:
            return tuple(self._built)

    def close(self) -> None:
        """Close every client and pool this container built, newest first; safe to call twice."""
        with self._lock:
            closers, self._closers = self._closers, []
            for name in self._built:
                del self.__dict__[name]
            self._built.clear()
        for close in reversed(closers):
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _engine(self, **kwargs: Any) -> Engine:
        engine = make_engine(self.settings.database_url, **kwargs)
        self._closers.append(engine.dispose)
        return engine

    # --- the platform database -----------------------------------------------------------------------

    @_once
    def engine(self) -> Engine:
        """Writes: transactions with pre-ping; in the API, a pool for the threadpool's sync routes.

        The API's pool sizes keep workers x replicas inside PostgreSQL's default max_connections (100).
        """
        if self.kind == "api" and not self.settings.is_sqlite:
            return self._engine(pool_size=8, max_overflow=8)
        return self._engine()

    @_once
    def read_engine(self) -> Engine:
        """Reads on the API's hot path (playback, status: one SELECT each); elsewhere `engine`.

        AUTOCOMMIT and no pre-ping, so a request is one round trip instead of four (ping, BEGIN, SELECT,
        ROLLBACK). Without the ping, the first read on a connection the server dropped fails once (503/500)
        and the pool replaces it; `pool_recycle` keeps that rare.
        """
        if self.kind != "api":
            return self.engine
        if self.settings.is_sqlite:
            return self._engine(isolation_level="AUTOCOMMIT")
        return self._engine(
            isolation_level="AUTOCOMMIT", pool_pre_ping=False, pool_recycle=1800, pool_size=5, max_overflow=5
        )

    @_once
    def webhook_engine(self) -> Engine:
        """Webhooks in the API: transactions without pre-ping, one connection per webhook thread.

        The processor retries an event once when its connection turns out to be dead (core/webhooks.py).
        """
        if self.kind != "api":
            return self.engine
        if self.settings.is_sqlite:
            return self._engine()
        return self._engine(pool_pre_ping=False, pool_recycle=1800, pool_size=WEBHOOK_THREADS, max_overflow=0)

    @_once
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    # --- Mux and S3 ----------------------------------------------------------------------------------

    @_once
    def mux(self) -> MuxService | None:
        """None when Mux is not configured (and no client was handed in): callers say what to set."""
        from core.mux.service import MuxService

        given = self._mux_client
        if isinstance(given, MuxService):
            return given
        if given is None and not self.settings.mux_configured:
            return None
        service = MuxService(self.settings, given, retry_policy=self._retry_policy())
        self._closers.append(service.close)
        return service

    def _retry_policy(self) -> RetryPolicy:
        from core.retry import DEFAULT_POLICY, RetryPolicy

        if self._mux_retry_policy is not None:
            return self._mux_retry_policy
        if self.kind == "sync":
            # A sync can wait out a bad minute; an interactive call cannot: more attempts than core's default.
            return RetryPolicy(attempts=self.settings.sync_retry_attempts, base_s=self.settings.sync_retry_base_s)
        return DEFAULT_POLICY

    @_once
    def s3(self) -> Any:
        """The boto3 S3 client (moto in the demo and tests)."""
        if self._s3_client is not None:
            return self._s3_client
        from core.storage import build_s3_client

        client = build_s3_client(self.settings)
        self._closers.append(client.close)
        return client

    @_once
    def storage(self) -> StorageService:
        from core.storage import StorageService

        return StorageService(self.settings, self.s3, mux=self.mux)

    # --- use cases -----------------------------------------------------------------------------------

    @_once
    def playback(self) -> PlaybackService:
        """Playback URLs, with signed tokens when a signing key is set (a bad key fails here, once)."""
        from core.playback import PlaybackService, PlaybackSigner

        return PlaybackService(self.settings, storage=self.storage, signer=PlaybackSigner.from_settings(self.settings))

    @_once
    def lessons(self) -> LessonVideoService:
        from core.lessons import LessonVideoService

        return LessonVideoService(
            self.session_factory, mux=self.mux, playback=self.playback, read_engine=self.read_engine
        )

    @_once
    def webhooks(self) -> WebhookProcessor:
        from core.webhooks import WebhookProcessor

        return WebhookProcessor(
            make_session_factory(self.webhook_engine), max_future_s=self.settings.webhook_tolerance_s
        )

    @_once
    def webhook_ops(self) -> WebhookOperations:
        """Admin replays and lesson repairs (on the main pool: the webhook pool is sized for deliveries)."""
        from core.webhook_ops import WebhookOperations

        return WebhookOperations(self.session_factory, self.webhooks, mux=self.mux)

    @_once
    def tokens(self) -> TokenVerifier:
        from core.auth import TokenVerifier

        return TokenVerifier(self.settings.platform_jwt_secret.get_secret_value())

    @_once
    def tickets(self) -> TicketService:
        """Short-lived tickets for sendBeacon and EventSource (core/tickets.py)."""
        from core.tickets import TicketService, TicketSigner

        signer = TicketSigner(self.settings.platform_jwt_secret.get_secret_value(), ttl_s=self.settings.ticket_ttl_s)
        return TicketService(signer, self.read_engine)

    @_once
    def progress(self) -> ProgressService:
        """Progress reports from players: rate limit, group commit, store (core/progress/).

        Its writers have an engine of their own: in the API, a connection per writer thread
        (LECTERN_PROGRESS_WRITERS; no pre-ping: the store retries a batch whose connection turns out dead);
        on SQLite every transaction takes the write lock first (`immediate_transactions`).
        """
        from core.progress import ProgressService
        from core.progress.store import immediate_transactions

        if self.settings.is_sqlite:
            engine = self._engine()
            immediate_transactions(engine)
        elif self.kind == "api":
            writers = self.settings.progress_writers
            engine = self._engine(pool_pre_ping=False, pool_recycle=1800, pool_size=writers, max_overflow=1)
        else:
            engine = self._engine(pool_size=2, max_overflow=2)
        service = ProgressService(self.settings, engine, read_engine=self.read_engine)
        self._closers.append(service.close)  # closers run newest first: the queue is written before the engine goes
        return service

    @_once
    def migration(self) -> MigrationService:
        from core.migration.service import MigrationService

        return MigrationService(self.settings, self.session_factory, storage=self.storage, mux=self.mux)

    @_once
    def orphans(self) -> OrphanedAssetService:
        """Orphaned Mux assets: the list with monthly cost, the admin's delete, the grace-period deletion."""
        from core.assets.service import OrphanedAssetService

        return OrphanedAssetService(self.settings, self.session_factory, mux=self.mux)

    def migration_worker(self, *, concurrency: int | None = None, hook: Hook | None = None) -> MigrationWorker:
        """A new worker on this container's services (the caller runs and closes it); needs Mux."""
        from core.errors import NotConfigured
        from core.migration.worker import MigrationWorker

        if self.mux is None:
            raise NotConfigured("the migration needs Mux: set MUX_TOKEN_ID and MUX_TOKEN_SECRET")
        return MigrationWorker(
            self.settings,
            self.session_factory,
            self.mux,
            self.storage,
            playback=self.playback,
            concurrency=concurrency,
            hook=hook,
        )

    # --- dashboard sign-in ---------------------------------------------------------------------------

    @_once
    def signin_throttle(self) -> SignInThrottle:
        from core.signin_throttle import SignInThrottle, ThrottleLimits

        return SignInThrottle(self.session_factory, ThrottleLimits.from_settings(self.settings))

    @_once
    def hashing_slots(self) -> HashingSlots:
        """One per process: every session's sign-ins share the cap on concurrent password checks."""
        from core.passwords import HashingSlots

        return HashingSlots(self.settings.signin_max_concurrent_hashes, self.settings.signin_hash_wait_s)

    # --- alert notifications -------------------------------------------------------------------------

    @_once
    def alert_notifier(self) -> AlertNotifier:
        """Delivers queued alert notifications to LECTERN_ALERT_WEBHOOK_URLS (its own short-timeout client)."""
        import httpx

        from core.alerts.config import parse_receivers
        from core.alerts.notify import AlertNotifier
        from core.retry import RetryPolicy

        s = self.settings
        client = httpx.Client(timeout=s.alert_notify_timeout_s, follow_redirects=False)
        self._closers.append(client.close)
        # Waits grow from the base to an hour; each retry is picked up by a later `alerts` run.
        policy = RetryPolicy(attempts=s.alert_notify_attempts, base_s=s.alert_notify_backoff_s, cap_s=3600.0)
        return AlertNotifier(
            self.session_factory,
            parse_receivers(s.alert_webhook_urls),
            client,
            policy=policy,
            timeout_s=s.alert_notify_timeout_s,
            budget_s=s.alert_notify_budget_s,
        )

    # --- SQL workbench -------------------------------------------------------------------------------

    @_once
    def saved_queries(self) -> SavedQueries:
        from core.saved_queries import SavedQueries

        return SavedQueries(self.session_factory)

"""One settings object for every Lectern process.

Read from the environment and a `.env` file. Built once (by the CLI or an app factory) and passed down;
nothing reads the environment at import time. A malformed value stops start-up with one line naming the
variable (see `load_settings`), and secrets are `SecretStr` so they never print by accident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, Field, IPvAnyNetwork, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.client_address import Network, parse_networks
from core.errors import ErrorKind, PermanentError

VAR_DIR = Path("var")
# Secrets that shipped in Lectern's code at some point: anyone with the code knows them, so they are refused
# like a missing secret. (Detected by value: the old default is 44 bytes, so a length rule alone passes it.)
KNOWN_DEFAULT_SECRETS = frozenset({"dev-only-secret-change-me-in-production-0001"})
MIN_JWT_SECRET_BYTES = 32
# Mux makes webhook secrets; shorter than this is not one of theirs and is guessable.
MIN_WEBHOOK_SECRET_BYTES = 24


class SettingsError(PermanentError):
    """A setting is missing or malformed; the message names the environment variable."""

    kind = ErrorKind.MISCONFIGURED


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Platform database (SQLite file is the embedded default; PostgreSQL in production and CI).
    database_url: str = Field(default=f"sqlite:///{VAR_DIR}/lectern.db", alias="DATABASE_URL")
    warehouse_path: Path = Field(default=VAR_DIR / "warehouse.duckdb", alias="LECTERN_WAREHOUSE_PATH")
    # Local files of the CLI's own (the demo sign-ins, the sample media); `lectern demo --var` points it there.
    var_dir: Path = Field(default=VAR_DIR, alias="LECTERN_VAR_DIR")
    # `lectern demo` sets it: the file its data preparation reports progress to (core/demo_progress.py), which
    # the dashboard shows on every page. Unset everywhere else.
    demo_progress_file: Path | None = Field(default=None, alias="LECTERN_DEMO_PROGRESS_FILE")

    # Mux. MUX_API_URL points at the emulator in demo/tests; leave it unset for the real Mux.
    mux_token_id: str = Field(default="", alias="MUX_TOKEN_ID")
    mux_token_secret: SecretStr = Field(default=SecretStr(""), alias="MUX_TOKEN_SECRET")
    mux_webhook_secret: SecretStr = Field(default=SecretStr(""), alias="MUX_WEBHOOK_SECRET")
    mux_signing_key_id: str = Field(default="", alias="MUX_SIGNING_KEY_ID")
    mux_signing_private_key: SecretStr = Field(default=SecretStr(""), alias="MUX_SIGNING_PRIVATE_KEY")
    mux_api_url: AnyHttpUrl = Field(default=AnyHttpUrl("https://api.mux.com"), alias="MUX_API_URL")
    mux_stream_base_url: AnyHttpUrl = Field(default=AnyHttpUrl("https://stream.mux.com"), alias="MUX_STREAM_BASE_URL")
    mux_image_base_url: AnyHttpUrl = Field(default=AnyHttpUrl("https://image.mux.com"), alias="MUX_IMAGE_BASE_URL")
    mux_video_quality: Literal["basic", "plus", "premium"] = Field(default="basic", alias="MUX_VIDEO_QUALITY")
    mux_request_timeout_s: float = Field(default=30.0, gt=0, alias="MUX_REQUEST_TIMEOUT_S")
    # Safety cap on the pages one list walk may request: a server that never says "last page" raises
    # MuxPageLimitExceeded instead of looping forever (100k pages of Mux's 100-row cap = 10M rows).
    mux_list_max_pages: int = Field(default=100_000, ge=1, alias="LECTERN_MUX_LIST_MAX_PAGES")

    # S3 (legacy lesson videos and non-video lesson files).
    s3_bucket: str = Field(default="lectern-lessons", alias="S3_BUCKET")
    s3_endpoint_url: AnyHttpUrl | None = Field(default=None, alias="S3_ENDPOINT_URL")
    aws_access_key_id: str = Field(default="", alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr = Field(default=SecretStr(""), alias="AWS_SECRET_ACCESS_KEY")
    aws_region: str = Field(default="us-east-1", alias="AWS_DEFAULT_REGION")
    s3_presign_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600, alias="LECTERN_S3_PRESIGN_TTL_S")

    # API and playback.
    # The origins browsers open the dashboard at, comma-separated (both names of this machine by default). A Mux
    # direct upload accepts the file from one origin: the dashboard asks for the one its page was opened at.
    cors_origin: str = Field(default="http://localhost:8501,http://127.0.0.1:8501", alias="LECTERN_CORS_ORIGIN")
    # No default: the API refuses to start without one (see `api_secret_problems`); `lectern demo` makes one.
    platform_jwt_secret: SecretStr = Field(default=SecretStr(""), alias="LECTERN_PLATFORM_JWT_SECRET")
    playback_token_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600, alias="LECTERN_PLAYBACK_TOKEN_TTL_S")
    upload_timeout_s: int = Field(default=3600, ge=60, le=604800, alias="LECTERN_UPLOAD_TIMEOUT_S")
    webhook_tolerance_s: int = Field(default=300, ge=1, alias="LECTERN_WEBHOOK_TOLERANCE_S")
    webhook_max_body_bytes: int = Field(default=1_000_000, ge=1024, alias="LECTERN_WEBHOOK_MAX_BODY_BYTES")
    api_base_url: AnyHttpUrl = Field(default=AnyHttpUrl("http://127.0.0.1:8000"), alias="LECTERN_API_URL")

    # Students' personal data: the HMAC key behind the pseudonymous student keys in the
    # warehouse and in the viewer_user_id sent to Mux Data. Unset: derived from LECTERN_PLATFORM_JWT_SECRET
    # (see core/privacy.py); set it explicitly so rotating the JWT secret does not re-key the warehouse.
    pseudonym_key: SecretStr = Field(default=SecretStr(""), alias="LECTERN_PSEUDONYM_KEY")

    # Sync and warehouse.
    sync_views_interval_s: int = Field(default=900, ge=10, alias="LECTERN_SYNC_VIEWS_INTERVAL_S")
    sync_usage_interval_s: int = Field(default=3600, ge=10, alias="LECTERN_SYNC_USAGE_INTERVAL_S")
    sync_platform_interval_s: int = Field(default=900, ge=10, alias="LECTERN_SYNC_PLATFORM_INTERVAL_S")
    sync_overlap_s: int = Field(default=6 * 3600, ge=0, alias="LECTERN_SYNC_OVERLAP_S")
    query_max_rows: int = Field(default=100_000, ge=1, alias="LECTERN_QUERY_MAX_ROWS")
    # The SQL workbench (warehouse/sql/): each query runs in a DuckDB instance of its own with these limits.
    sql_max_rows: int = Field(default=10_000, ge=1, le=1_000_000, alias="LECTERN_SQL_MAX_ROWS")
    sql_download_max_rows: int = Field(default=1_000_000, ge=1, alias="LECTERN_SQL_DOWNLOAD_MAX_ROWS")
    sql_time_limit_s: float = Field(default=30.0, gt=0, le=3600, alias="LECTERN_SQL_TIME_LIMIT_S")
    sql_threads: int = Field(default=1, ge=1, le=64, alias="LECTERN_SQL_THREADS")
    sql_memory_limit: str = Field(default="1GB", pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$", alias="LECTERN_SQL_MEMORY_LIMIT")
    sql_max_temp_size: str = Field(
        default="2GB", pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$", alias="LECTERN_SQL_MAX_TEMP_SIZE"
    )

    # Costs and migration.
    monthly_budget_usd: float | None = Field(default=None, ge=0, alias="LECTERN_MONTHLY_BUDGET_USD")
    migration_concurrency: int = Field(default=4, ge=1, le=64, alias="LECTERN_MIGRATION_CONCURRENCY")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", alias="LECTERN_LOG_LEVEL")

    # Core service layer and API.
    mux_upload_chunk_bytes: int = Field(
        default=8 * 1024 * 1024, ge=256 * 1024, le=512 * 1024 * 1024, alias="LECTERN_MUX_UPLOAD_CHUNK_BYTES"
    )
    playback_token_bucket_s: int = Field(default=300, ge=1, alias="LECTERN_PLAYBACK_TOKEN_BUCKET_S")
    playback_token_cache_size: int = Field(default=50_000, ge=0, alias="LECTERN_PLAYBACK_TOKEN_CACHE_SIZE")
    playback_public_max_age_s: int = Field(default=300, ge=0, alias="LECTERN_PLAYBACK_PUBLIC_MAX_AGE_S")
    platform_token_ttl_s: int = Field(default=12 * 3600, ge=60, alias="LECTERN_PLATFORM_TOKEN_TTL_S")
    lesson_events_poll_s: float = Field(default=1.0, gt=0, le=60, alias="LECTERN_LESSON_EVENTS_POLL_S")
    lesson_events_max_s: float = Field(default=300.0, gt=0, alias="LECTERN_LESSON_EVENTS_MAX_S")

    # API hardening: development escape hatch, request limits, disclosure, browser headers.
    # Accept a weak or well-known JWT secret (local development only; never in production).
    dev_mode: bool = Field(default=False, alias="LECTERN_DEV_MODE")
    # Bodies larger than this are refused with 413 before a route reads them (the webhook keeps its own limit).
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024, alias="LECTERN_API_MAX_BODY_BYTES")
    # Request line plus headers, and the number of header lines: over either -> 431 before the app runs.
    api_max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024, alias="LECTERN_API_MAX_HEADER_BYTES")
    api_max_headers: int = Field(default=100, ge=10, le=10_000, alias="LECTERN_API_MAX_HEADERS")
    # /docs, /redoc and /openapi.json: off in production (they map every route); the demo turns them on.
    api_docs: bool = Field(default=False, alias="LECTERN_API_DOCS")
    # /metrics: open only to a scraper presenting this bearer token or coming from one of these networks.
    metrics_token: SecretStr = Field(default=SecretStr(""), alias="LECTERN_METRICS_TOKEN")
    metrics_allow: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list, alias="LECTERN_METRICS_ALLOW")
    # Origins allowed to call the API from a browser (CORS) and to frame its pages; empty = none.
    api_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="LECTERN_API_CORS_ORIGINS")
    api_frame_ancestors: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="LECTERN_API_FRAME_ANCESTORS"
    )
    # Strict-Transport-Security: always sent on https requests; this sends it on every response (TLS proxy).
    api_hsts: bool = Field(default=False, alias="LECTERN_API_HSTS")
    api_hsts_max_age_s: int = Field(default=180 * 86400, ge=0, alias="LECTERN_API_HSTS_MAX_AGE_S")

    # Warehouse publishing and sync limits.
    warehouse_keep_snapshots: int = Field(default=3, ge=1, le=100, alias="LECTERN_WAREHOUSE_KEEP_SNAPSHOTS")
    warehouse_memory_limit: str = Field(
        default="512MB", pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$", alias="LECTERN_WAREHOUSE_MEMORY_LIMIT"
    )
    # The sync's DuckDB threads: one leaves the other cores to the API and the dashboard, and bulk upserts
    # ran 20-40 % faster on one than on two here (a multi-threaded INSERT merges its row groups at commit).
    warehouse_writer_threads: int = Field(default=1, ge=1, le=256, alias="LECTERN_WAREHOUSE_WRITER_THREADS")
    sync_assets_interval_s: int = Field(default=3600, ge=10, alias="LECTERN_SYNC_ASSETS_INTERVAL_S")
    sync_backfill_days: int = Field(default=90, ge=1, le=3650, alias="LECTERN_SYNC_BACKFILL_DAYS")
    sync_window_s: int = Field(default=7 * 86400, ge=3600, alias="LECTERN_SYNC_WINDOW_S")
    sync_batch_rows: int = Field(default=200_000, ge=100, le=5_000_000, alias="LECTERN_SYNC_BATCH_ROWS")
    sync_views_page_size: int = Field(default=1000, ge=1, le=100_000, alias="LECTERN_SYNC_VIEWS_PAGE_SIZE")
    # Load completed days from Mux Data's daily view exports when the account has them (else list+get).
    sync_view_exports: bool = Field(default=True, alias="LECTERN_SYNC_VIEW_EXPORTS")
    sync_retry_attempts: int = Field(default=6, ge=1, le=20, alias="LECTERN_SYNC_RETRY_ATTEMPTS")
    sync_retry_base_s: float = Field(default=0.5, ge=0, le=60, alias="LECTERN_SYNC_RETRY_BASE_S")
    sync_lock_timeout_s: float = Field(default=600.0, ge=0, alias="LECTERN_SYNC_LOCK_TIMEOUT_S")

    # Cost estimates. Overrides: JSON of dotted price-book keys -> value, e.g.
    # {"delivery.plus.1080p": 0.0007, "delivery.free_minutes_per_month": 0} for a negotiated contract.
    pricebook_path: Path | None = Field(default=None, alias="LECTERN_PRICEBOOK_PATH")
    price_overrides: dict[str, float] = Field(default_factory=dict, alias="LECTERN_PRICE_OVERRIDES")
    cost_report_max_days: int = Field(default=400, ge=1, le=3660, alias="LECTERN_COST_REPORT_MAX_DAYS")

    # S3-to-Mux migration (core/migration/).
    migration_ingest_mode: Literal["url", "stream"] = Field(default="url", alias="LECTERN_MIGRATION_INGEST_MODE")
    # Presigned GET lifetime handed to Mux; Mux may queue an ingest for a while, so it is long (SigV4 max 7 d).
    migration_presign_ttl_s: int = Field(
        default=24 * 3600, ge=600, le=7 * 24 * 3600, alias="LECTERN_MIGRATION_PRESIGN_TTL_S"
    )
    migration_heartbeat_s: float = Field(default=10.0, gt=0, le=600, alias="LECTERN_MIGRATION_HEARTBEAT_S")
    migration_stale_after_s: float = Field(default=60.0, gt=0, le=86400, alias="LECTERN_MIGRATION_STALE_AFTER_S")
    migration_poll_s: float = Field(default=5.0, gt=0, le=600, alias="LECTERN_MIGRATION_POLL_S")
    migration_ready_timeout_s: float = Field(default=4 * 3600, gt=0, alias="LECTERN_MIGRATION_READY_TIMEOUT_S")
    migration_max_attempts: int = Field(default=5, ge=1, le=100, alias="LECTERN_MIGRATION_MAX_ATTEMPTS")
    migration_mux_create_per_s: float = Field(default=1.0, gt=0, alias="LECTERN_MIGRATION_MUX_CREATE_PER_S")
    migration_mux_read_per_s: float = Field(default=5.0, gt=0, alias="LECTERN_MIGRATION_MUX_READ_PER_S")
    migration_duration_tolerance_s: float = Field(default=1.0, ge=0, alias="LECTERN_MIGRATION_DURATION_TOLERANCE_S")
    migration_duration_tolerance_pct: float = Field(
        default=1.0, ge=0, le=100, alias="LECTERN_MIGRATION_DURATION_TOLERANCE_PCT"
    )
    migration_probe_source: bool = Field(default=True, alias="LECTERN_MIGRATION_PROBE_SOURCE")
    migration_auto_stream_fallback: bool = Field(default=True, alias="LECTERN_MIGRATION_AUTO_STREAM_FALLBACK")
    migration_playback_check_s: float = Field(default=60.0, gt=0, alias="LECTERN_MIGRATION_PLAYBACK_CHECK_S")

    # Dashboard sign-in and sessions (core/signin_throttle.py, core/dashboard_session.py). Failures
    # count per (email, client address) first: that pair is locked out for a while. The account-wide limit
    # only slows an email down (growing delay), so knowing a teacher's email is not enough to lock them out.
    signin_window_s: int = Field(default=900, ge=10, le=86400, alias="LECTERN_SIGNIN_WINDOW_S")
    signin_pair_max_failures: int = Field(default=5, ge=1, le=1000, alias="LECTERN_SIGNIN_PAIR_MAX_FAILURES")
    signin_lockout_s: int = Field(default=900, ge=1, le=86400, alias="LECTERN_SIGNIN_LOCKOUT_S")
    signin_account_free_failures: int = Field(default=10, ge=1, le=10000, alias="LECTERN_SIGNIN_ACCOUNT_FREE_FAILURES")
    signin_account_max_delay_s: int = Field(default=60, ge=1, le=3600, alias="LECTERN_SIGNIN_ACCOUNT_MAX_DELAY_S")
    signin_address_max_failures: int = Field(default=50, ge=1, le=100000, alias="LECTERN_SIGNIN_ADDRESS_MAX_FAILURES")
    # scrypt costs ~80 ms of one core: more concurrent checks than this answer "busy" instead of queueing.
    signin_max_concurrent_hashes: int = Field(default=2, ge=1, le=64, alias="LECTERN_SIGNIN_MAX_CONCURRENT_HASHES")
    signin_hash_wait_s: float = Field(default=2.0, ge=0, le=60, alias="LECTERN_SIGNIN_HASH_WAIT_S")
    # Proxies whose X-Forwarded-For is believed (comma-separated CIDRs); from anyone else it is ignored.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list, alias="LECTERN_TRUSTED_PROXIES"
    )
    dashboard_idle_timeout_s: int = Field(default=1800, ge=60, le=7 * 86400, alias="LECTERN_DASHBOARD_IDLE_TIMEOUT_S")
    dashboard_session_max_s: int = Field(
        default=12 * 3600, ge=300, le=30 * 86400, alias="LECTERN_DASHBOARD_SESSION_MAX_S"
    )

    @field_validator("metrics_allow", "trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> list[Network]:
        # Comma-separated CIDRs from the environment, or a list; one parser for every network setting.
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value or [])
        return parse_networks(i for i in items if i)

    # Lesson event streams: re-authorised while open, capped per user and
    # per API process (counted in each process; with N processes a user may hold N x the per-user cap).
    lesson_events_recheck_s: float = Field(default=15.0, gt=0, le=300, alias="LECTERN_LESSON_EVENTS_RECHECK_S")
    lesson_events_max_per_user: int = Field(default=10, ge=1, le=1000, alias="LECTERN_LESSON_EVENTS_MAX_PER_USER")
    lesson_events_max_streams: int = Field(default=1000, ge=1, alias="LECTERN_LESSON_EVENTS_MAX_STREAMS")
    lesson_events_max_ids: int = Field(default=50, ge=1, le=500, alias="LECTERN_LESSON_EVENTS_MAX_IDS")

    # Tickets (core/tickets.py): what a player puts in a URL or a beacon instead of the bearer token.
    ticket_ttl_s: int = Field(default=7200, ge=60, le=7200, alias="LECTERN_TICKET_TTL_S")

    # Progress from the player (core/progress/). Reports are rate-limited per student in each API worker
    # (a token bucket: PER_MIN refilled evenly, BURST at once); with N workers a student may get up to N
    # times that through, as a sendBeacon opens a new connection that may land on any worker.
    progress_rate_per_min: int = Field(default=60, ge=1, le=100_000, alias="LECTERN_PROGRESS_RATE_PER_MIN")
    progress_burst: int = Field(default=20, ge=1, le=100_000, alias="LECTERN_PROGRESS_BURST")
    progress_max_body_bytes: int = Field(default=8192, ge=512, le=1024 * 1024, alias="LECTERN_PROGRESS_MAX_BODY_BYTES")
    progress_max_ranges: int = Field(default=100, ge=1, le=10_000, alias="LECTERN_PROGRESS_MAX_RANGES")
    # A lesson counts as completed once this share of its seconds has been watched (over every session).
    progress_complete_share: float = Field(default=0.9, gt=0, le=1, alias="LECTERN_PROGRESS_COMPLETE_SHARE")
    # Group commit: a writer takes every report waiting (at most BATCH_MAX) in one transaction, once the oldest
    # has waited FLUSH_MS (0: at once; batches still grow with load, from what arrives while the writers are
    # busy: measured here, 0 gave the same throughput as 2 ms with half the p99); each report is answered only
    # once its batch has committed. QUEUE_MAX reports may wait per worker before more get 429 + Retry-After.
    progress_flush_ms: float = Field(default=0.0, ge=0, le=1000, alias="LECTERN_PROGRESS_FLUSH_MS")
    progress_batch_max: int = Field(default=256, ge=1, le=10_000, alias="LECTERN_PROGRESS_BATCH_MAX")
    progress_queue_max: int = Field(default=5000, ge=1, le=1_000_000, alias="LECTERN_PROGRESS_QUEUE_MAX")
    # Writer threads (and database connections) per API worker: more hide the commit's wait for the disk.
    progress_writers: int = Field(default=2, ge=1, le=16, alias="LECTERN_PROGRESS_WRITERS")

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError("not a database URL (e.g. postgresql://user@host/db or sqlite:///var/x.db)") from exc
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError(f"unsupported database {url.get_backend_name()!r}; use postgresql or sqlite")
        return value

    @field_validator("cors_origin")
    @classmethod
    def _dashboard_origins(cls, value: str) -> str:
        origins = [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        if not origins:
            raise ValueError("name at least one origin (e.g. http://localhost:8501)")
        for origin in origins:
            if origin != "*" and (not origin.startswith(("http://", "https://")) or origin.count("/") > 2):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
        return ",".join(origins)

    @field_validator("api_cors_origins", "api_frame_ancestors", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # Environment variables hold comma-separated lists ("https://a.example, https://b.example").
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("api_cors_origins", "api_frame_ancestors")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin not in ("*", "'self'") and (
                not origin.startswith(("http://", "https://")) or origin.rstrip("/").count("/") > 2
            ):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
        return [origin.rstrip("/") for origin in value]

    @field_validator("price_overrides")
    @classmethod
    def _price_overrides_known(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        # Checked at start so a typo in a negotiated price fails loudly instead of silently using list price.
        from core.costs.errors import CostError
        from core.costs.pricebook import load_pricebook

        try:
            load_pricebook(info.data.get("pricebook_path")).with_overrides(value)
        except CostError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("migration_stale_after_s")
    @classmethod
    def _stale_after_heartbeats(cls, value: float, info: ValidationInfo) -> float:
        # A job is reclaimed when its heartbeat is this old: it must outlast several heartbeats, or a live
        # worker's jobs would be taken from it between two beats.
        heartbeat = info.data.get("migration_heartbeat_s")
        if heartbeat is not None and value < 2 * heartbeat:
            raise ValueError(f"must be at least twice LECTERN_MIGRATION_HEARTBEAT_S ({heartbeat:g} s)")
        return value

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    @property
    def cors_origins(self) -> list[str]:
        """LECTERN_CORS_ORIGIN's origins; the first is where the dashboard's own links point."""
        return self.cors_origin.split(",")

    @property
    def mux_configured(self) -> bool:
        return bool(self.mux_token_id and self.mux_token_secret.get_secret_value())

    @property
    def signing_configured(self) -> bool:
        return bool(self.mux_signing_key_id and self.mux_signing_private_key.get_secret_value())

    def secret_problems(self) -> list[str]:
        """Missing, well-known or weak secrets, each naming its variable (for `lectern config check`)."""
        problems = jwt_secret_problems(self.platform_jwt_secret.get_secret_value())
        webhook = self.mux_webhook_secret.get_secret_value()
        if not webhook:
            problems.append("MUX_WEBHOOK_SECRET is not set: the API rejects every Mux webhook")
        elif webhook in KNOWN_DEFAULT_SECRETS or len(webhook.encode()) < MIN_WEBHOOK_SECRET_BYTES:
            problems.append(f"MUX_WEBHOOK_SECRET is weak (under {MIN_WEBHOOK_SECRET_BYTES} bytes or a known value)")
        pseudonym = self.pseudonym_key.get_secret_value()
        if not pseudonym:
            problems.append(
                "LECTERN_PSEUDONYM_KEY is not set: students' keys are derived from LECTERN_PLATFORM_JWT_SECRET, so "
                "rotating that secret would re-key every student (the sync and simulator refuse without either)"
            )
        elif len(pseudonym.encode()) < MIN_WEBHOOK_SECRET_BYTES:
            problems.append(f"LECTERN_PSEUDONYM_KEY is weak (under {MIN_WEBHOOK_SECRET_BYTES} bytes)")
        return problems

    def require_api_secrets(self) -> None:
        """Refuse to serve the API with a missing, well-known or short JWT secret (LECTERN_DEV_MODE relaxes
        the last two: a developer's own short secret is still a secret nobody else has)."""
        secret = self.platform_jwt_secret.get_secret_value()
        problems = jwt_secret_problems(secret)
        if secret and self.dev_mode:
            return
        if problems:
            raise SettingsError(problems[0])

    def masked(self) -> dict[str, str]:
        """Effective settings by environment variable name, with every secret (and DB password) masked."""
        out: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value: Any = getattr(self, name)
            if isinstance(value, SecretStr):
                shown = "********" if value.get_secret_value() else "(unset)"
            elif name == "database_url":
                shown = make_url(value).render_as_string(hide_password=True)
            elif value is None or value == "":
                shown = "(unset)"
            else:
                shown = str(value)
            out[field.alias or name.upper()] = shown
        return out

    # Metrics: the directory where every Lectern process on this host writes its Prometheus values and from
    # which the API's /metrics reads them all (docs/metrics.md). `lectern api` creates it and removes the
    # files of processes that have ended; empty = each API process keeps its own metrics in memory.
    metrics_dir: Path | None = Field(default=VAR_DIR / "metrics", alias="LECTERN_METRICS_DIR")

    @field_validator("metrics_dir", mode="before")
    @classmethod
    def _metrics_dir_off(cls, value: Any) -> Any:
        return None if value == "" else value

    # Orphaned assets (core/assets/, sync job `orphan_cleanup`): Mux assets no lesson plays still cost storage.
    # A replaced lesson video's old asset is deleted this many days after the lesson moved on (unset: never
    # automatically; admins delete by hand), at most this many per run so a bug cannot empty the account.
    delete_replaced_assets_after_days: int | None = Field(
        default=None, ge=1, le=3650, alias="LECTERN_DELETE_REPLACED_ASSETS_AFTER_DAYS"
    )
    orphan_cleanup_max_per_run: int = Field(default=20, ge=1, le=1000, alias="LECTERN_ORPHAN_CLEANUP_MAX_PER_RUN")
    sync_orphan_cleanup_interval_s: int = Field(default=3600, ge=10, alias="LECTERN_SYNC_ORPHAN_CLEANUP_INTERVAL_S")

    # Alerts (core/alerts/, docs/alerts.md). Rule overrides: JSON of rule name -> fields, e.g.
    # {"playback_failure": {"threshold": 2.5, "for_s": 300}, "startup_time_p95": {"enabled": false}}.
    alert_rules: dict[str, dict[str, Any]] = Field(default_factory=dict, alias="LECTERN_ALERT_RULES")
    # Receivers of fire/resolve notifications, comma-separated `name=https://...` or bare URLs (named after
    # their host). Secrets: a Slack incoming-webhook URL is its own credential; only the names are shown.
    alert_webhook_urls: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, alias="LECTERN_ALERT_WEBHOOK_URLS"
    )
    # How often the `alerts` sync job evaluates the rules and delivers due notifications.
    sync_alerts_interval_s: int = Field(default=300, ge=10, alias="LECTERN_SYNC_ALERTS_INTERVAL_S")
    # Delivery: per-request timeout, the whole pass's budget (the job never waits longer on receivers),
    # attempts before a delivery is `failed`, and the first retry's wait (doubling, capped at an hour).
    alert_notify_timeout_s: float = Field(default=3.0, gt=0, le=60, alias="LECTERN_ALERT_NOTIFY_TIMEOUT_S")
    alert_notify_budget_s: float = Field(default=10.0, gt=0, le=600, alias="LECTERN_ALERT_NOTIFY_BUDGET_S")
    alert_notify_attempts: int = Field(default=8, ge=1, le=50, alias="LECTERN_ALERT_NOTIFY_ATTEMPTS")
    alert_notify_backoff_s: float = Field(default=60.0, ge=0, le=3600, alias="LECTERN_ALERT_NOTIFY_BACKOFF_S")

    @field_validator("alert_rules")
    @classmethod
    def _alert_rules_known(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # Checked at start so a typo in a rule or field fails loudly instead of silently keeping a default.
        from core.alerts.errors import AlertConfigInvalid
        from core.alerts.rules import resolve_rules

        try:
            resolve_rules(value)
        except AlertConfigInvalid as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("alert_webhook_urls", mode="before")
    @classmethod
    def _alert_receivers(cls, value: Any) -> list[SecretStr]:
        from core.alerts.config import parse_receivers
        from core.alerts.errors import AlertConfigInvalid

        items = value.split(",") if isinstance(value, str) else list(value or [])
        entries = [i if isinstance(i, SecretStr) else SecretStr(str(i).strip()) for i in items]
        entries = [e for e in entries if e.get_secret_value().strip()]
        try:
            parse_receivers(entries)
        except AlertConfigInvalid as exc:
            raise ValueError(exc.message) from None  # the message numbers the entry; it never quotes a URL
        return entries


def jwt_secret_problems(secret: str) -> list[str]:
    if not secret:
        return [
            "LECTERN_PLATFORM_JWT_SECRET is not set: set it to the platform's token secret, at least "
            f"{MIN_JWT_SECRET_BYTES} random bytes (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        ]
    if secret in KNOWN_DEFAULT_SECRETS:
        return [
            "LECTERN_PLATFORM_JWT_SECRET is Lectern's published default: anyone can mint tokens with it; set your own"
        ]
    if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        return [f"LECTERN_PLATFORM_JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes: use a longer random secret"]
    return []


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning a validation failure into one line that names the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else "?"
        field = Settings.model_fields.get(loc)
        # pydantic reports the alias (the env var) when the value came from the environment.
        env_name = field.alias if field is not None and field.alias else loc
        raise SettingsError(f"invalid setting {env_name}: {first['msg']}") from None

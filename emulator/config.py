"""Emulator settings: one dataclass, built once and handed to `create_app`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Fields `PUT /_emulator/config` may change at runtime. Tests start the emulator before they know the
# port of their webhook receiver, so delivery settings must be adjustable without a restart.
MUTABLE_FIELDS: frozenset[str] = frozenset(
    {
        "webhook_urls",
        "webhook_secret",
        "processing_delay",
        "webhook_attempt_timeout",
        "webhook_retry_base",
        "webhook_retry_cap",
        "webhook_max_attempts",
        "default_video_quality",
        "cors_origins",
        "public_base_url",
        "view_exports",
        "view_export_version",
        "view_export_delay_s",
        "view_export_days",
        "max_page_limit",
    }
)

SECRET_FIELDS: frozenset[str] = frozenset({"token_secret", "webhook_secret"})


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8800
    token_id: str = "emulator-token-id"
    token_secret: str = "emulator-token-secret"
    webhook_urls: list[str] = field(default_factory=list)
    webhook_secret: str = "emulator-webhook-secret"
    # Minimum seconds an asset stays `preparing` (real Mux takes a while; apps must cope with that).
    processing_delay: float = 0.0
    state_file: Path | None = None
    # Media (uploads, HLS, images). None -> a temporary directory removed when the emulator stops.
    data_dir: Path | None = None
    # Browser origins allowed to call the /_emulator/ control API (the Mux API itself sends no CORS).
    cors_origins: list[str] = field(default_factory=list)
    seed: int = 0
    # Base of URLs the emulator hands out (upload URLs, storyboard VTT). None -> http://host:port.
    public_base_url: str | None = None
    environment_name: str = "Emulator"
    environment_id: str = "emulator"
    # Mux's account default is "plus" (formerly "smart"); an environment can change it in the dashboard.
    default_video_quality: str = "plus"
    processing_workers: int = 2
    webhook_attempt_timeout: float = 5.0
    webhook_retry_base: float = 1.0
    webhook_retry_cap: float = 300.0
    webhook_max_attempts: int = 18
    webhook_senders: int = 1
    upload_sweep_interval: float = 1.0
    download_timeout: float = 60.0
    # Mux-like token buckets on the REST API; also switchable at runtime via PUT /_emulator/faults.
    rate_limits: bool = False
    log_level: str = "warning"
    # Mux Data view exports (GET /data/v1/exports/views): off answers 403 like a plan without them.
    view_exports: bool = True
    view_export_version: int = 14  # the export format version files are generated in (2..14)
    view_export_days: int = 7  # Mux keeps a file downloadable for seven days after it is generated
    view_export_delay_s: float = 0.0  # how long after a UTC day ends its file appears (Mux does not say)
    view_export_url_ttl_s: float = 3600.0  # lifetime of the signed file URLs the listing hands out
    # Largest `limit` a list endpoint honours; a bigger one is capped silently, as Mux does. Mux does not
    # publish its maximum (100 is what third parties report for assets), so 100 is the default; tests
    # lower it to check that clients never take a short page for the last one.
    max_page_limit: int = 100

    @property
    def base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def public_view(self) -> dict[str, Any]:
        """The config as JSON, secrets masked (the control API must never echo credentials)."""
        view = asdict(self)
        for name in SECRET_FIELDS:
            view[name] = "***" if view[name] else ""
        for name in ("state_file", "data_dir"):
            view[name] = str(view[name]) if view[name] is not None else None
        view["base_url"] = self.base_url
        return view

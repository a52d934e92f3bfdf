"""The running emulator: store, clock, workers, webhooks and faults wired together.

`create_app` builds one `Emulator` and stores it on `app.state.emulator`; routes reach it through
`emulator.deps.Emu`. Threads start in `start()` (app startup) and stop in `stop()` (app shutdown).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from emulator import lifecycle, objects
from emulator.clock import Clock
from emulator.config import MUTABLE_FIELDS, EmulatorConfig
from emulator.faults import Faults
from emulator.processing import Processor
from emulator.state import Store
from emulator.stats import Stats
from emulator.validation import MAX_PAGE_LIMIT, VIDEO_QUALITIES
from emulator.webhooks import WebhookDispatcher

log = logging.getLogger("emulator")


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._owned_data_dir: Path | None = None
        if config.data_dir is None:
            self._owned_data_dir = Path(tempfile.mkdtemp(prefix="mux-emulator-"))
        self.data_dir = Path(config.data_dir or self._owned_data_dir)  # type: ignore[arg-type]
        self.store = Store(Path(config.state_file) if config.state_file else None)
        self.clock = Clock()
        self.stats = Stats()
        self.faults = Faults(seed=config.seed, rate_limits=config.rate_limits)
        self.webhooks = WebhookDispatcher(config, self.clock, self.faults)
        self.processor = Processor(self)
        self.generation = 0
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._config_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        (self.data_dir / "assets").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "uploads").mkdir(parents=True, exist_ok=True)
        if self.store.load():
            self.clock.set_offset(self.store.clock_offset)
            with self.store.lock:
                # Upload URLs point at where this run of the emulator listens (the port may differ between runs).
                for upload_id, upload in self.store.uploads.items():
                    upload.data["url"] = self.upload_url(upload_id)
            for record in self.store.assets_newest_first()[::-1]:
                if record.data["status"] == "preparing":
                    self.processor.submit(record.data["id"])  # processing was cut short by a restart
        self.clock.on_advance(self._on_clock_advance)
        self._sweeper = threading.Thread(target=self._sweep_loop, name="mux-emu-sweeper", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        self._stop.set()
        self.processor.stop()
        self.webhooks.stop()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        with self.store.lock:
            self.store.commit()
        if self._owned_data_dir is not None:
            shutil.rmtree(self._owned_data_dir, ignore_errors=True)

    def reset(self) -> None:
        """Forget everything (objects, media, events, stats, faults, clock); keep the configuration."""
        self.generation += 1
        self.webhooks.clear()
        self.store.clear()
        self.stats.clear()
        self.faults.clear()
        self.clock.set_offset(0.0)
        self.processor.cache.clear()
        for sub in ("assets", "uploads"):
            shutil.rmtree(self.data_dir / sub, ignore_errors=True)
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.config.upload_sweep_interval):
            try:
                lifecycle.time_out_uploads(self)
            except Exception:  # keep sweeping; one bad pass must not end timeouts for good
                log.exception("upload sweep failed")

    def _on_clock_advance(self) -> None:
        with self.store.lock:
            self.store.clock_offset = self.clock.offset
            self.store.commit()
        lifecycle.time_out_uploads(self)

    # -- helpers --------------------------------------------------------------------------------

    def asset_dir(self, asset_id: str) -> Path:
        return self.data_dir / "assets" / asset_id

    def upload_part(self, upload_id: str) -> Path:
        return self.data_dir / "uploads" / f"{upload_id}.part"

    def upload_signature(self, upload_id: str) -> str:
        key = self.store.upload_secret.encode()
        return hmac.new(key, upload_id.encode(), hashlib.sha256).hexdigest()[:32]

    def upload_url(self, upload_id: str) -> str:
        return f"{self.config.base_url}/_upload/{upload_id}?signature={self.upload_signature(upload_id)}"

    def emit_asset(self, event_type: str, asset: dict[str, Any]) -> None:
        self.webhooks.emit(event_type, "asset", asset["id"], objects.webhook_asset(asset))

    def emit_upload(self, event_type: str, upload: dict[str, Any]) -> None:
        self.webhooks.emit(event_type, "upload", upload["id"], dict(upload))

    def update_config(self, patch: Any) -> dict[str, Any]:
        """Apply PUT /_emulator/config; raises ValueError naming the offending field."""
        if not isinstance(patch, dict):
            raise ValueError("config must be a JSON object")
        unknown = set(patch) - MUTABLE_FIELDS
        if unknown:
            allowed = ", ".join(sorted(MUTABLE_FIELDS))
            raise ValueError(f"cannot change {', '.join(sorted(unknown))} at runtime; changeable: {allowed}")
        cleaned = {key: _check_config_value(key, value) for key, value in patch.items()}
        with self._config_lock:
            for key, value in cleaned.items():
                setattr(self.config, key, value)
        return self.config.public_view()


def _number(key: str, value: Any, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ValueError(f"{key} must be a number >= {minimum:g}")
    return float(value)


def _check_config_value(key: str, value: Any) -> Any:
    if key in ("webhook_urls", "cors_origins"):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"{key} must be a list of strings")
        if key == "webhook_urls":
            for url in value:
                if urlparse(url).scheme not in ("http", "https"):
                    raise ValueError(f"webhook URL {url!r} must be http(s)")
        return list(value)
    if key == "webhook_secret":
        if not isinstance(value, str):
            raise ValueError("webhook_secret must be a string")
        return value
    if key == "public_base_url":
        if value is not None and not isinstance(value, str):
            raise ValueError("public_base_url must be a string or null")
        return value
    if key == "default_video_quality":
        if value not in VIDEO_QUALITIES:
            raise ValueError(f"default_video_quality must be one of: {', '.join(VIDEO_QUALITIES)}")
        return value
    if key == "webhook_max_attempts":
        return int(_number(key, value, 1))
    if key == "view_exports":
        if not isinstance(value, bool):
            raise ValueError("view_exports must be true or false")
        return value
    if key == "max_page_limit":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_LIMIT:
            raise ValueError(f"max_page_limit must be an integer from 1 to {MAX_PAGE_LIMIT}")
        return value
    if key == "view_export_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
            raise ValueError("view_export_days must be an integer from 1 to 3650")
        return value
    if key == "view_export_version":
        if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 14:
            raise ValueError("view_export_version must be an integer from 2 to 14")
        return value
    return _number(key, value)

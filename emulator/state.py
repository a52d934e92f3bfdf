"""In-memory store of emulated Mux objects, optionally persisted to one JSON file.

Every public read returns deep copies so request threads never serialise a dict that a worker is
changing. Writes happen under `Store.lock`; `commit()` persists atomically (temp file + os.replace).
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

STATE_VERSION = 1


@dataclass
class AssetRecord:
    data: dict[str, Any]  # the object exactly as GET /video/v1/assets/{id} returns it
    seq: int  # creation order: lists are newest first and cursors point into this order
    input_url: str | None = None
    input_settings: list[dict[str, Any]] = field(default_factory=list)
    input_info: list[dict[str, Any]] = field(default_factory=list)
    renditions: list[dict[str, Any]] = field(default_factory=list)
    storyboard: dict[str, Any] | None = None
    has_video: bool = False
    ready_not_before: float = 0.0
    # Created through the history control (`POST /_emulator/assets`): its webhooks went out long ago.
    quiet: bool = False


@dataclass
class UploadRecord:
    data: dict[str, Any]
    seq: int
    created: float  # emulator epoch seconds; the timeout counts from here
    settings: dict[str, Any] = field(default_factory=dict)  # normalised new_asset_settings
    received: int = 0  # contiguous bytes stored from offset 0
    total: int | None = None


@dataclass
class SigningKeyRecord:
    data: dict[str, Any]
    seq: int
    public_pem: str


def _fields(record: AssetRecord | UploadRecord | SigningKeyRecord) -> dict[str, Any]:
    """A record's fields as they are: `asdict` would deep-copy every nested dict on each commit (seconds with
    a few hundred assets), and the lock held while serialising already keeps them still."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


class Store:
    def __init__(self, state_file: Path | None = None) -> None:
        self.state_file = state_file
        self.lock = threading.RLock()
        self.assets: dict[str, AssetRecord] = {}
        self.uploads: dict[str, UploadRecord] = {}
        self.signing_keys: dict[str, SigningKeyRecord] = {}
        self.seq = 0
        self.upload_secret = secrets.token_hex(16)
        self.clock_offset = 0.0

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    # -- lookups (copies) -------------------------------------------------------------------------

    def asset(self, asset_id: str) -> AssetRecord | None:
        with self.lock:
            record = self.assets.get(asset_id)
            return copy.deepcopy(record) if record else None

    def upload(self, upload_id: str) -> UploadRecord | None:
        with self.lock:
            record = self.uploads.get(upload_id)
            return copy.deepcopy(record) if record else None

    def signing_key(self, key_id: str) -> SigningKeyRecord | None:
        with self.lock:
            record = self.signing_keys.get(key_id)
            return copy.deepcopy(record) if record else None

    def assets_newest_first(self) -> list[AssetRecord]:
        with self.lock:
            records = sorted(self.assets.values(), key=lambda r: r.seq, reverse=True)
            return copy.deepcopy(records)

    def asset_objects_newest_first(self) -> list[tuple[int, dict[str, Any]]]:
        """(seq, asset JSON) of every asset: lists need only the object, not renditions or storyboards."""
        with self.lock:
            records = sorted(self.assets.values(), key=lambda r: r.seq, reverse=True)
            return [(r.seq, copy.deepcopy(r.data)) for r in records]

    def uploads_newest_first(self) -> list[UploadRecord]:
        with self.lock:
            records = sorted(self.uploads.values(), key=lambda r: r.seq, reverse=True)
            return copy.deepcopy(records)

    def signing_keys_oldest_first(self) -> list[SigningKeyRecord]:
        with self.lock:
            return copy.deepcopy(sorted(self.signing_keys.values(), key=lambda r: r.seq))

    def find_playback_id(self, playback_id: str) -> tuple[AssetRecord, dict[str, Any]] | None:
        with self.lock:
            for record in self.assets.values():
                for entry in record.data.get("playback_ids") or []:
                    if entry["id"] == playback_id:
                        return copy.deepcopy(record), dict(entry)
        return None

    # -- lifecycle ------------------------------------------------------------------------------

    def clear(self) -> None:
        with self.lock:
            self.assets.clear()
            self.uploads.clear()
            self.signing_keys.clear()
            self.seq = 0
            self.clock_offset = 0.0
            self.commit()

    def commit(self) -> None:
        if self.state_file is None:
            return
        with self.lock:
            payload = {
                "version": STATE_VERSION,
                "seq": self.seq,
                "upload_secret": self.upload_secret,
                "clock_offset": self.clock_offset,
                "assets": [_fields(r) for r in self.assets.values()],
                "uploads": [_fields(r) for r in self.uploads.values()],
                "signing_keys": [_fields(r) for r in self.signing_keys.values()],
            }
            text = json.dumps(payload, separators=(",", ":"))
            target = self.state_file
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def load(self) -> bool:
        """Load the state file if there is one; False when starting fresh."""
        if self.state_file is None or not self.state_file.exists():
            return False
        payload = json.loads(self.state_file.read_text(encoding="utf-8"))
        if payload.get("version") != STATE_VERSION:
            raise ValueError(
                f"{self.state_file}: state version {payload.get('version')!r} is not {STATE_VERSION}; "
                "delete the file or point --state elsewhere"
            )
        with self.lock:
            self.seq = int(payload["seq"])
            self.upload_secret = payload["upload_secret"]
            self.clock_offset = float(payload.get("clock_offset", 0.0))
            self.assets = {r["data"]["id"]: AssetRecord(**r) for r in payload["assets"]}
            self.uploads = {r["data"]["id"]: UploadRecord(**r) for r in payload["uploads"]}
            self.signing_keys = {r["data"]["id"]: SigningKeyRecord(**r) for r in payload["signing_keys"]}
        return True

"""Lectern's own views of Mux objects: small frozen dataclasses, so callers never touch SDK models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from core.mux import unknown


@dataclass(frozen=True)
class PlaybackId:
    id: str
    policy: str


@dataclass(frozen=True)
class Asset:
    id: str
    status: str | None  # Mux's raw value, kept as sent (unknown.ASSET_STATUSES lists the known ones)
    duration_s: float | None = None
    playback_ids: tuple[PlaybackId, ...] = ()
    passthrough: str | None = None
    upload_id: str | None = None
    created_at: datetime | None = None
    error_type: str | None = None
    error_messages: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def playback_id_for(self, policy: str) -> str | None:
        return next((p.id for p in self.playback_ids if p.policy == policy), None)


@dataclass(frozen=True)
class Upload:
    id: str
    url: str | None
    status: str | None
    timeout_s: int | None = None
    asset_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    cors_origin: str | None = None


@dataclass(frozen=True)
class SigningKey:
    id: str
    created_at: datetime | None
    # Base64 of a PEM RSA private key; only present on the create response.
    private_key: str | None = field(default=None, repr=False)


def epoch_str_to_datetime(value: str | int | float | None) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def asset_from_json(doc: Mapping[str, Any]) -> Asset:
    """An asset from Mux's JSON, every value kept as Mux sent it (`raw` holds the whole object).

    A status, error type or field Lectern does not know is kept and logged once (core/mux/unknown.py);
    callers branch on the known values (`status == "ready"`) and treat anything else as not ready yet.
    """
    unknown.note_fields("asset", doc, unknown.ASSET_FIELDS)
    status = _str(doc.get("status"))
    unknown.note_value("asset.status", status, unknown.ASSET_STATUSES)
    playback_ids = tuple(
        PlaybackId(id=str(p["id"]), policy=str(p.get("policy")))
        for p in (doc.get("playback_ids") or [])
        if isinstance(p, Mapping) and p.get("id")
    )
    for p in playback_ids:
        unknown.note_value("asset.playback_ids.policy", p.policy, unknown.PLAYBACK_POLICIES)
    errors = doc.get("errors")
    error_type: str | None = None
    error_messages: tuple[str, ...] = ()
    if isinstance(errors, Mapping):
        error_type = _str(errors.get("type"))
        unknown.note_value("asset.errors.type", error_type, unknown.ASSET_ERROR_TYPES)
        messages = errors.get("messages")
        if isinstance(messages, list):
            error_messages = tuple(str(m) for m in messages)
    return Asset(
        id=str(doc.get("id") or ""),
        status=status,
        duration_s=_float(doc.get("duration")),
        playback_ids=playback_ids,
        passthrough=_str(doc.get("passthrough")),
        upload_id=_str(doc.get("upload_id")),
        created_at=epoch_str_to_datetime(doc.get("created_at")),
        error_type=error_type,
        error_messages=error_messages,
        raw=dict(doc),
    )


def asset_from_sdk(model: Any) -> Asset:
    """An asset from an SDK model (create calls); the SDK has already dropped fields it does not know."""
    return asset_from_json({k: v for k, v in model.to_dict().items() if v is not None})


def upload_from_json(doc: Mapping[str, Any]) -> Upload:
    """A direct upload from Mux's JSON; an unknown status or error type is kept and logged once."""
    unknown.note_fields("upload", doc, unknown.UPLOAD_FIELDS)
    status = _str(doc.get("status"))
    unknown.note_value("upload.status", status, unknown.UPLOAD_STATUSES)
    error = doc.get("error")
    error_type = error_message = None
    if isinstance(error, Mapping):
        error_type, error_message = _str(error.get("type")), _str(error.get("message"))
        unknown.note_value("upload.error.type", error_type, unknown.UPLOAD_ERROR_TYPES)
    timeout = doc.get("timeout")
    return Upload(
        id=str(doc.get("id") or ""),
        url=_str(doc.get("url")),
        status=status,
        timeout_s=timeout if isinstance(timeout, int) and not isinstance(timeout, bool) else None,
        asset_id=_str(doc.get("asset_id")),
        error_type=error_type,
        error_message=error_message,
        cors_origin=_str(doc.get("cors_origin")),
    )


def upload_from_sdk(model: Any) -> Upload:
    return upload_from_json({k: v for k, v in model.to_dict().items() if v is not None})


def signing_key_from_json(doc: Mapping[str, Any]) -> SigningKey:
    return SigningKey(
        id=str(doc.get("id") or ""),
        created_at=epoch_str_to_datetime(doc.get("created_at")),
        private_key=_str(doc.get("private_key")),
    )


def signing_key_from_sdk(model: Any) -> SigningKey:
    return SigningKey(id=model.id, created_at=epoch_str_to_datetime(model.created_at), private_key=model.private_key)


@dataclass(frozen=True)
class ViewExportFile:
    """One file of a Mux Data view export: a signed URL (fetched without Mux credentials)."""

    version: int | None
    type: str | None
    url: str


@dataclass(frozen=True)
class ViewExport:
    """Mux Data's export of one UTC day of video views (`GET /data/v1/exports/views`)."""

    export_date: date
    files: tuple[ViewExportFile, ...]

    def newest_csv(self) -> ViewExportFile | None:
        """The CSV file of the highest version: Mux lists one file per version it generated for the day."""
        csvs = [f for f in self.files if (f.type or "csv").lower() == "csv" and f.url]
        return max(csvs, key=lambda f: f.version or 0, default=None)


@dataclass(frozen=True)
class ExportDownload:
    """What fetching an export file did: `not_modified` when the ETag still matched, else the file's ETag and size."""

    not_modified: bool
    etag: str | None = None
    bytes: int = 0

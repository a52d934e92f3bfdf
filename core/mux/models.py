"""Lectern's own views of Mux objects: small frozen dataclasses, so callers never touch SDK models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


@dataclass(frozen=True)
class PlaybackId:
    id: str
    policy: str


@dataclass(frozen=True)
class Asset:
    id: str
    status: str | None
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
        return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def asset_from_sdk(model: Any) -> Asset:
    playback_ids = tuple(
        PlaybackId(id=p.id, policy=str(p.policy)) for p in (model.playback_ids or []) if p is not None and p.id
    )
    errors = model.errors
    return Asset(
        id=model.id,
        status=model.status,
        duration_s=model.duration,
        playback_ids=playback_ids,
        passthrough=model.passthrough,
        upload_id=model.upload_id,
        created_at=epoch_str_to_datetime(model.created_at),
        error_type=errors.type if errors else None,
        error_messages=tuple(errors.messages or ()) if errors else (),
        raw=model.to_dict(),
    )


def upload_from_sdk(model: Any) -> Upload:
    error = model.error
    return Upload(
        id=model.id,
        url=model.url,
        status=model.status,
        timeout_s=model.timeout,
        asset_id=model.asset_id,
        error_type=error.type if error else None,
        error_message=error.message if error else None,
        cors_origin=model.cors_origin,
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

"""Mux webhook event bodies shaped like Mux's (for tests and the bench)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(
    event_type: str, data: dict[str, Any], *, at: datetime | None = None, event_id: str | None = None
) -> dict[str, Any]:
    object_type = "upload" if event_type.startswith("video.upload.") else "asset"
    return {
        "type": event_type,
        "id": event_id or str(uuid.uuid4()),
        "created_at": iso(at or T0),
        "object": {"type": object_type, "id": data.get("id")},
        "environment": {"name": "Test", "id": "env1"},
        "data": data,
        "attempts": [],
        "accessor": None,
        "accessor_source": None,
        "request_id": None,
    }


def asset_event(
    event_type: str,
    asset_id: str,
    *,
    lesson_id: int | None,
    upload_id: str | None = None,
    at: datetime | None = None,
    seconds: float = 0,
    playback_ids: list[dict[str, str]] | None = None,
    duration: float | None = None,
    errors: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    status = {"video.asset.ready": "ready", "video.asset.errored": "errored"}.get(event_type, "preparing")
    data: dict[str, Any] = {
        "id": asset_id,
        "status": status,
        "created_at": 1764072000,
        "upload_id": upload_id,
        "passthrough": str(lesson_id) if lesson_id is not None else None,
        "playback_ids": playback_ids or [],
        "video_quality": "basic",
    }
    if duration is not None:
        data["duration"] = duration
    if errors is not None:
        data["errors"] = errors
    return event(event_type, data, at=(at or T0) + timedelta(seconds=seconds), event_id=event_id)


def upload_event(
    event_type: str,
    upload_id: str,
    *,
    lesson_id: int | None,
    asset_id: str | None = None,
    at: datetime | None = None,
    seconds: float = 0,
    error: dict[str, str] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    status = {
        "video.upload.asset_created": "asset_created",
        "video.upload.cancelled": "cancelled",
        "video.upload.errored": "errored",
    }.get(event_type, "waiting")
    data: dict[str, Any] = {
        "id": upload_id,
        "status": status,
        "timeout": 3600,
        "cors_origin": "*",
        "new_asset_settings": {
            "passthrough": str(lesson_id) if lesson_id is not None else None,
            "playback_policies": ["public"],
        },
    }
    if asset_id:
        data["asset_id"] = asset_id
    if error:
        data["error"] = error
    return event(event_type, data, at=(at or T0) + timedelta(seconds=seconds), event_id=event_id)


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()

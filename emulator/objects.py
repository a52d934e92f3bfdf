"""Builders for Mux-shaped JSON objects (assets, uploads, tracks, input info, webhook views).

Field names and enum values follow mux-python 5.x models; the SDK raises ValueError on any enum value
outside its lists, so everything here must stay within them.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from emulator import ids
from emulator.media import TEST_ASSET_MAX_SECONDS, Probe
from emulator.validation import QUALITY_TO_TIER

TIER_HEIGHTS = {"1080p": 1080, "1440p": 1440, "2160p": 2160}
# Pixel-count bounds Mux uses for resolution tiers (delivery-usage docs).
TIER_PIXELS = (("720p", 921_600), ("1080p", 2_073_600), ("1440p", 4_194_304))


def epoch_string(seconds: float) -> str:
    return str(int(seconds))


def new_asset(
    settings: dict[str, Any],
    *,
    created_at: float,
    ingest_type: str,
    upload_id: str | None = None,
) -> dict[str, Any]:
    asset: dict[str, Any] = {
        "id": ids.asset_id(),
        "created_at": epoch_string(created_at),
        "status": "preparing",
        "video_quality": settings["video_quality"],
        "encoding_tier": QUALITY_TO_TIER[settings["video_quality"]],
        "max_resolution_tier": settings["max_resolution_tier"],
        "mp4_support": settings["mp4_support"],
        "master_access": settings["master_access"],
        "normalize_audio": settings["normalize_audio"],
        "ingest_type": ingest_type,
        "progress": {"state": "ingesting", "progress": 0.0},
    }
    if settings["playback_policies"]:
        asset["playback_ids"] = [new_playback_id(policy) for policy in settings["playback_policies"]]
    if settings.get("passthrough") is not None:
        asset["passthrough"] = settings["passthrough"]
    if settings.get("meta"):
        asset["meta"] = dict(settings["meta"])
    if settings.get("test"):
        asset["test"] = True
    if upload_id:
        asset["upload_id"] = upload_id
    return asset


def new_playback_id(policy: str) -> dict[str, Any]:
    return {"id": ids.playback_id(), "policy": policy}


def resolution_tier(width: int, height: int, max_tier: str) -> str:
    pixels = width * height
    tier = "2160p"
    for name, bound in TIER_PIXELS:
        if pixels <= bound:
            tier = name
            break
    order = ["720p", "1080p", "1440p", "2160p"]
    return order[min(order.index(tier), order.index(max_tier))]


def max_stored_resolution(height: int) -> str:
    if height < 720:
        return "SD"
    if height < 1080:
        return "HD"
    if height < 2160:
        return "FHD"
    return "UHD"


def aspect_ratio(width: int, height: int) -> str:
    divisor = math.gcd(width, height) or 1
    return f"{width // divisor}:{height // divisor}"


def ready_fields(asset: dict[str, Any], probe: Probe, renditions: list[dict[str, Any]]) -> dict[str, Any]:
    """What a ready asset gains: duration, tiers, tracks, aspect ratio."""
    duration = probe.duration
    if asset.get("test"):
        duration = min(duration, TEST_ASSET_MAX_SECONDS)
    duration = round(duration, 6)
    fields: dict[str, Any] = {"status": "ready", "duration": duration}
    tracks: list[dict[str, Any]] = []
    top = max(renditions, key=lambda r: r.get("height") or 0)
    if probe.video and top.get("height"):
        width, height = top["width"], top["height"]
        fps = min(probe.video.fps, 60.0) if probe.video.fps else -1.0
        fields["resolution_tier"] = resolution_tier(width, height, asset["max_resolution_tier"])
        fields["max_stored_resolution"] = max_stored_resolution(height)
        fields["max_stored_frame_rate"] = fps
        fields["aspect_ratio"] = aspect_ratio(width, height)
        tracks.append(
            {
                "type": "video",
                "id": ids.track_id(),
                "duration": duration,
                "max_width": width,
                "max_height": height,
                "max_frame_rate": fps,
            }
        )
    else:
        fields["resolution_tier"] = "audio-only"
        fields["max_stored_resolution"] = "Audio only"
    if probe.audio:
        channels = min(probe.audio.channels, 2)
        tracks.append(
            {
                "type": "audio",
                "id": ids.track_id(),
                "duration": duration,
                "max_channels": channels,
                "max_channel_layout": "mono" if channels == 1 else "stereo",
                "primary": True,
                "status": "ready",
            }
        )
    fields["tracks"] = tracks
    fields["progress"] = {"state": "completed", "progress": 100.0}
    return fields


def errored_fields(error_type: str, message: str) -> dict[str, Any]:
    return {
        "status": "errored",
        "errors": {"type": error_type, "messages": [message]},
        "progress": {"state": "errored", "progress": -1.0},
    }


def input_info(settings: dict[str, Any], probe: Probe) -> list[dict[str, Any]]:
    tracks: list[dict[str, Any]] = []
    if probe.video:
        tracks.append(
            {
                "type": "video",
                "duration": probe.duration,
                "encoding": probe.video.codec,
                "width": probe.video.width,
                "height": probe.video.height,
                "frame_rate": probe.video.fps,
            }
        )
    if probe.audio:
        tracks.append(
            {
                "type": "audio",
                "duration": probe.duration,
                "encoding": probe.audio.codec,
                "sample_rate": probe.audio.sample_rate,
                "channels": probe.audio.channels,
            }
        )
    return [{"settings": settings, "file": {"container_format": probe.container, "tracks": tracks}}]


def webhook_asset(asset: dict[str, Any]) -> dict[str, Any]:
    """Assets inside webhook payloads carry created_at as an integer (REST sends a string)."""
    view = copy.deepcopy(asset)
    view["created_at"] = int(view["created_at"])
    return view


def new_upload(
    upload_id: str, *, timeout: int, cors_origin: str | None, settings_echo: dict[str, Any], test: bool, url: str
) -> dict[str, Any]:
    upload: dict[str, Any] = {
        "id": upload_id,
        "timeout": timeout,
        "status": "waiting",
        "new_asset_settings": settings_echo,
        "url": url,
    }
    if cors_origin is not None:
        upload["cors_origin"] = cors_origin
    if test:
        upload["test"] = True
    return upload

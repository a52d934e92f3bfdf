"""Request validation with Mux-style 400 `invalid_parameters` messages.

Normalises the many accepted spellings (deprecated `input`/`playback_policy`, a bare URL string, a single
policy string) into one settings dict that asset creation and upload `new_asset_settings` share.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from emulator.errors import invalid

PLAYBACK_POLICIES = ("public", "signed")
VIDEO_QUALITIES = ("basic", "plus", "premium")
ENCODING_TIERS = ("smart", "baseline", "premium")
# Mux renamed the tiers on 2024-08-28; both fields are still returned.
TIER_TO_QUALITY = {"baseline": "basic", "smart": "plus", "premium": "premium"}
QUALITY_TO_TIER = {quality: tier for tier, quality in TIER_TO_QUALITY.items()}
MAX_RESOLUTION_TIERS = ("1080p", "1440p", "2160p")
MP4_SUPPORT = ("none", "standard", "capped-1080p", "audio-only", "audio-only,capped-1080p")
MASTER_ACCESS = ("none", "temporary")
INPUT_TYPES = ("video", "audio", "text")
META_LIMITS = {"title": 512, "creator_id": 128, "external_id": 128}
PASSTHROUGH_LIMIT = 255
UPLOAD_TIMEOUT_MIN = 60
UPLOAD_TIMEOUT_MAX = 604800
UPLOAD_TIMEOUT_DEFAULT = 3600


def _enum(body: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if value not in allowed:
        raise invalid(f"{key} must be one of: {', '.join(allowed)}")
    return str(value)


def _bool(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(f"{key} must be a boolean")
    return value


def passthrough(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("passthrough must be a string")
    if len(value) > PASSTHROUGH_LIMIT:
        raise invalid(f"passthrough must be at most {PASSTHROUGH_LIMIT} characters")
    return value


def meta(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("meta must be an object")
    unknown = set(value) - set(META_LIMITS)
    if unknown:
        raise invalid(f"meta has unknown keys: {', '.join(sorted(unknown))}")
    cleaned: dict[str, str] = {}
    for key, limit in META_LIMITS.items():
        item = value.get(key)
        if item is None:
            continue
        if not isinstance(item, str):
            raise invalid(f"meta.{key} must be a string")
        if len(item) > limit:
            raise invalid(f"meta.{key} must be at most {limit} characters")
        cleaned[key] = item
    return cleaned


def playback_policy(value: Any, key: str = "policy") -> str:
    if value not in PLAYBACK_POLICIES:
        if value == "drm":
            raise invalid(f"{key} drm needs a DRM configuration, which the emulator does not support")
        raise invalid(f"{key} must be one of: {', '.join(PLAYBACK_POLICIES)}")
    return str(value)


def _policies(body: dict[str, Any]) -> list[str]:
    raw = body.get("playback_policies", body.get("playback_policy"))
    key = "playback_policies" if "playback_policies" in body else "playback_policy"
    if raw is None:
        raw = []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise invalid(f"{key} must be a list of policies")
    policies = [playback_policy(item, key) for item in raw]
    for item in body.get("advanced_playback_policies") or []:
        if not isinstance(item, dict):
            raise invalid("advanced_playback_policies must be a list of objects")
        policies.append(playback_policy(item.get("policy"), "advanced_playback_policies.policy"))
    return policies


def _inputs(body: dict[str, Any], *, url_required: bool) -> list[dict[str, Any]]:
    raw = body.get("inputs", body.get("input"))
    key = "inputs" if "inputs" in body else "input"
    if raw is None:
        if url_required:
            raise invalid("inputs is required: give at least one input with a url")
        return []
    if isinstance(raw, str):
        raw = [{"url": raw}]
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise invalid(f"{key} must be a list of input objects")
    if url_required and not raw:
        raise invalid("inputs must contain at least one input")
    if len(raw) > 1:
        raise invalid("the emulator supports a single input per asset (no overlays or side-loaded tracks)")
    cleaned: list[dict[str, Any]] = []
    for item in raw:
        url = item.get("url")
        if url is None:
            if url_required:
                raise invalid(f"{key}[0].url is required")
        else:
            if not isinstance(url, str):
                raise invalid(f"{key}[0].url must be a string")
            if url.startswith("mux://"):
                raise invalid("clipping from mux:// inputs is not supported by the emulator")
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise invalid(f"{key}[0].url must be an http(s) URL")
            if not url_required:
                raise invalid("new_asset_settings inputs must not carry a url for a direct upload")
        if item.get("type") is not None and item["type"] not in INPUT_TYPES:
            raise invalid(f"{key}[0].type must be one of: {', '.join(INPUT_TYPES)}")
        cleaned.append({k: v for k, v in item.items() if v is not None})
    return cleaned


def asset_settings(body: Any, *, url_required: bool, default_quality: str) -> dict[str, Any]:
    """Validate a create-asset request (or an upload's new_asset_settings) and normalise it."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    settings: dict[str, Any] = {"inputs": _inputs(body, url_required=url_required)}
    settings["playback_policies"] = _policies(body)

    quality = _enum(body, "video_quality", VIDEO_QUALITIES)
    tier = _enum(body, "encoding_tier", ENCODING_TIERS)
    if quality and tier and TIER_TO_QUALITY[tier] != quality:
        raise invalid("video_quality and encoding_tier disagree; send only video_quality")
    settings["video_quality"] = quality or (TIER_TO_QUALITY[tier] if tier else default_quality)

    settings["max_resolution_tier"] = _enum(body, "max_resolution_tier", MAX_RESOLUTION_TIERS) or "1080p"
    if settings["max_resolution_tier"] != "1080p" and settings["video_quality"] == "basic":
        raise invalid("max_resolution_tier above 1080p requires video_quality plus or premium")
    mp4 = _enum(body, "mp4_support", MP4_SUPPORT)
    if mp4 and mp4 != "none" and body.get("static_renditions"):
        raise invalid("mp4_support and static_renditions cannot be used together")
    settings["mp4_support"] = mp4 or "none"
    settings["master_access"] = _enum(body, "master_access", MASTER_ACCESS) or "none"
    settings["normalize_audio"] = bool(_bool(body, "normalize_audio"))
    settings["test"] = bool(_bool(body, "test"))
    settings["passthrough"] = passthrough(body.get("passthrough"))
    settings["meta"] = meta(body.get("meta"))
    return settings


def settings_echo(settings: dict[str, Any]) -> dict[str, Any]:
    """How an upload echoes its new_asset_settings (only what was meaningful, in current names)."""
    echo: dict[str, Any] = {}
    if settings["inputs"]:
        echo["inputs"] = settings["inputs"]
    if settings["playback_policies"]:
        echo["playback_policies"] = settings["playback_policies"]
    for key in ("passthrough", "meta"):
        if settings.get(key) is not None:
            echo[key] = settings[key]
    echo["video_quality"] = settings["video_quality"]
    echo["max_resolution_tier"] = settings["max_resolution_tier"]
    if settings["mp4_support"] != "none":
        echo["mp4_support"] = settings["mp4_support"]
    if settings["master_access"] != "none":
        echo["master_access"] = settings["master_access"]
    if settings["normalize_audio"]:
        echo["normalize_audio"] = True
    if settings["test"]:
        echo["test"] = True
    return echo


def upload_request(body: Any, default_quality: str) -> dict[str, Any]:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    timeout = body.get("timeout", UPLOAD_TIMEOUT_DEFAULT)
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise invalid("timeout must be an integer number of seconds")
    if not UPLOAD_TIMEOUT_MIN <= timeout <= UPLOAD_TIMEOUT_MAX:
        raise invalid(f"timeout must be between {UPLOAD_TIMEOUT_MIN} and {UPLOAD_TIMEOUT_MAX} seconds")
    cors_origin = body.get("cors_origin")
    if cors_origin is not None and not isinstance(cors_origin, str):
        raise invalid("cors_origin must be a string")
    settings = asset_settings(body.get("new_asset_settings"), url_required=False, default_quality=default_quality)
    test = _bool(body, "test")
    if test:
        settings["test"] = True
    return {"timeout": timeout, "cors_origin": cors_origin, "settings": settings, "test": bool(test)}


# The most any list route serves in one page, whatever `max_page_limit` says (Mux's own cap is unpublished).
MAX_PAGE_LIMIT = 100


def page_params(
    limit: int | None, page: int | None, *, max_limit: int = MAX_PAGE_LIMIT, default_limit: int = 25
) -> tuple[int, int]:
    """`limit` and `page` of a list request; a `limit` above `max_limit` is capped silently, as Mux does."""
    limit = default_limit if limit is None else limit
    page = 1 if page is None else page
    if limit < 1:
        raise invalid("limit must be a positive integer")
    if page < 1:
        raise invalid("page must be a positive integer")
    return min(limit, max_limit, MAX_PAGE_LIMIT), page

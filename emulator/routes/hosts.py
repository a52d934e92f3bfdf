"""Delivery hosts: stream (HLS) and image (thumbnails, storyboards), like stream.mux.com / image.mux.com.

Playlists are written with relative URIs and the request's `?token=` appended to each, so a signed
stream plays end to end: master -> rendition playlist -> segments all carry the same JWT.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from emulator import media
from emulator.deps import Emu
from emulator.errors import HostError
from emulator.runtime import Emulator
from emulator.state import AssetRecord
from emulator.tokens import PlaybackDenied, verify_playback_token

router = APIRouter()

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range",
}
_SEGMENT = re.compile(r"^seg_\d{3,}\.ts$")
_RESOLUTIONS = {
    "270p": 270,
    "360p": 360,
    "480p": 480,
    "540p": 540,
    "720p": 720,
    "1080p": 1080,
    "1440p": 1440,
    "2160p": 2160,
}
FIT_MODES = ("preserve", "stretch", "crop", "smartcrop", "pad")
IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
MAX_IMAGE_SIDE = 4096


def _resolve(emu: Emulator, playback_id: str, token: str | None, audience: str) -> tuple[AssetRecord, dict[str, Any]]:
    found = emu.store.find_playback_id(playback_id)
    if found is None:
        raise HostError(404, "Not Found")
    record, entry = found
    claims: dict[str, Any] = {}
    if entry["policy"] == "signed":

        def public_key_for(key_id: str) -> str | None:
            key = emu.store.signing_key(key_id)
            return key.public_pem if key else None

        try:
            claims = verify_playback_token(
                token, playback_id=playback_id, audience=audience, public_key_for=public_key_for, now=emu.clock.now()
            )
        except PlaybackDenied as exc:
            raise HostError(403, exc.reason) from exc
    status = record.data["status"]
    if status != "ready":
        # Mux answers 412 "Not Playable" while an asset is preparing (muxinc/elements#531).
        raise HostError(412, f"Not Playable: the asset is {status}")
    return record, claims


def _token_suffix(token: str | None) -> str:
    return f"?token={quote(token, safe='')}" if token else ""


def _params(request: Request, claims: dict[str, Any]) -> dict[str, Any]:
    """Signed URLs carry their modifiers inside the token; public ones use the query string."""
    params: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "token"}
    params.update({k: v for k, v in claims.items() if k not in ("sub", "aud", "exp", "kid", "iat", "nbf")})
    return params


@router.options("/stream/{rest:path}")
@router.options("/image/{rest:path}")
def host_preflight(rest: str) -> Response:
    return Response(
        status_code=204,
        headers=CORS_HEADERS
        | {"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS", "Access-Control-Allow-Headers": "*"},
    )


@router.get("/stream/{playback_id}.m3u8")
def master_playlist(emu: Emu, playback_id: str, request: Request, token: str | None = None) -> Response:
    record, claims = _resolve(emu, playback_id, token, "v")
    params = _params(request, claims)
    renditions = record.renditions
    for key, keep in (("max_resolution", operator.le), ("min_resolution", operator.ge)):
        if key in params:
            if params[key] not in _RESOLUTIONS:
                raise HostError(400, "Invalid parameter")
            chosen = [r for r in renditions if r.get("height") is None or keep(r["height"], _RESOLUTIONS[params[key]])]
            # Like Mux, fall back to the closest rung instead of an empty manifest.
            renditions = chosen or [
                min(renditions, key=lambda r: abs((r.get("height") or 0) - _RESOLUTIONS[params[key]]))
            ]
    suffix = _token_suffix(token)
    text = media.master_playlist(renditions, lambda name: f"{playback_id}/{name}/index.m3u8{suffix}")
    return Response(text, media_type="application/vnd.apple.mpegurl", headers=CORS_HEADERS)


def _rendition_dir(emu: Emulator, record: AssetRecord, rendition: str) -> Any:
    if rendition not in {r["name"] for r in record.renditions}:
        raise HostError(404, "Not Found")
    return emu.asset_dir(record.data["id"]) / "hls" / rendition


@router.get("/stream/{playback_id}/{rendition}/index.m3u8")
def media_playlist(emu: Emu, playback_id: str, rendition: str, token: str | None = None) -> Response:
    record, _ = _resolve(emu, playback_id, token, "v")
    path = _rendition_dir(emu, record, rendition) / "index.m3u8"
    if not path.exists():
        raise HostError(404, "Not Found")
    suffix = _token_suffix(token)
    lines = [line + suffix if line and not line.startswith("#") else line for line in path.read_text().splitlines()]
    return Response("\n".join(lines) + "\n", media_type="application/vnd.apple.mpegurl", headers=CORS_HEADERS)


@router.get("/stream/{playback_id}/{rendition}/{segment}")
def segment(emu: Emu, playback_id: str, rendition: str, segment: str, token: str | None = None) -> Response:
    record, _ = _resolve(emu, playback_id, token, "v")
    path = _rendition_dir(emu, record, rendition) / segment
    if not _SEGMENT.match(segment) or not path.exists():
        raise HostError(404, "Not Found")
    return FileResponse(path, media_type="video/MP2T", headers=CORS_HEADERS)


def _int_param(params: dict[str, Any], key: str) -> int | None:
    if key not in params:
        return None
    try:
        value = int(float(params[key]))
    except (TypeError, ValueError) as exc:
        raise HostError(400, "Invalid parameter") from exc
    if not 1 <= value <= MAX_IMAGE_SIDE:
        raise HostError(400, "Invalid parameter")
    return value


def _bool_param(params: dict[str, Any], key: str) -> bool:
    value = params.get(key, False)
    return value is True or str(value).lower() in ("true", "1")


def _image_asset(emu: Emulator, record: AssetRecord) -> Any:
    if not record.has_video:
        raise HostError(404, "Not Found")
    return emu.asset_dir(record.data["id"])


@router.get("/image/{playback_id}/thumbnail.{ext}")
def thumbnail(emu: Emu, playback_id: str, ext: str, request: Request, token: str | None = None) -> Response:
    if ext not in IMAGE_TYPES:
        raise HostError(404, "Not Found")
    record, claims = _resolve(emu, playback_id, token, "t")
    asset_dir = _image_asset(emu, record)
    params = _params(request, claims)
    width, height = _int_param(params, "width"), _int_param(params, "height")
    fit_mode = str(params.get("fit_mode", "preserve"))
    try:
        rotate = int(params.get("rotate", 0))
    except (TypeError, ValueError) as exc:
        raise HostError(400, "Invalid parameter") from exc
    if fit_mode not in FIT_MODES or rotate not in (0, 90, 180, 270):
        raise HostError(400, "Invalid parameter")
    duration = float(record.data.get("duration") or 0.0)
    try:
        at = float(params.get("time", duration / 2))
    except (TypeError, ValueError) as exc:
        raise HostError(400, "Invalid parameter") from exc
    if at < 0:
        raise HostError(400, "Invalid parameter")
    flip_h, flip_v = _bool_param(params, "flip_h"), _bool_param(params, "flip_v")
    default = "time" not in params and not (width or height or rotate or flip_h or flip_v)
    if default and ext == "jpg":
        return FileResponse(asset_dir / "thumbnail.jpg", media_type="image/jpeg", headers=CORS_HEADERS)
    key = json.dumps([at, width, height, fit_mode, rotate, flip_h, flip_v], sort_keys=True)
    target = asset_dir / "thumbs" / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.{ext}"
    if not target.exists():
        filters = media.thumbnail_filters(
            width=width, height=height, fit_mode=fit_mode, rotate=rotate, flip_h=flip_h, flip_v=flip_v
        )
        try:
            media.make_thumbnail(asset_dir / "source", target, at=at, duration=duration, filters=filters)
        except media.MediaError as exc:
            raise HostError(500, str(exc)) from exc
    return FileResponse(target, media_type=IMAGE_TYPES[ext], headers=CORS_HEADERS)


def _base_url(emu: Emulator, request: Request) -> str:
    return emu.config.public_base_url.rstrip("/") if emu.config.public_base_url else str(request.base_url).rstrip("/")


@router.get("/image/{playback_id}/storyboard.{ext}")
def storyboard(emu: Emu, playback_id: str, ext: str, request: Request, token: str | None = None) -> Response:
    if ext not in (*IMAGE_TYPES, "vtt", "json"):
        raise HostError(404, "Not Found")
    record, claims = _resolve(emu, playback_id, token, "s")
    asset_dir = _image_asset(emu, record)
    if record.storyboard is None:
        raise HostError(404, "Not Found")
    if ext in ("vtt", "json"):
        image_format = str(_params(request, claims).get("format", "jpg"))
        if image_format not in IMAGE_TYPES:
            raise HostError(400, "Invalid parameter")
        url = f"{_base_url(emu, request)}/image/{playback_id}/storyboard.{image_format}{_token_suffix(token)}"
        if ext == "vtt":
            return Response(media.storyboard_vtt(record.storyboard, url), media_type="text/vtt", headers=CORS_HEADERS)
        return Response(
            json.dumps(media.storyboard_json(record.storyboard, url)),
            media_type="application/json",
            headers=CORS_HEADERS,
        )
    sprite = asset_dir / "storyboard.jpg"
    if ext != "jpg":
        converted = asset_dir / f"storyboard.{ext}"
        if not converted.exists():
            try:
                media.convert_image(sprite, converted)
            except media.MediaError as exc:
                raise HostError(500, str(exc)) from exc
        sprite = converted
    return FileResponse(sprite, media_type=IMAGE_TYPES[ext], headers=CORS_HEADERS)

"""/video/v1/assets: create from URL, get, list (page + cursor), update, delete, playback IDs, input info."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Response

from emulator import lifecycle, objects, validation
from emulator.deps import Emu, JsonBody
from emulator.errors import invalid, not_found

router = APIRouter(prefix="/video/v1/assets")


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("seq:"):
            raise ValueError(text)
        return int(text[4:])
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("Failed to parse cursor") from exc


@router.post("", status_code=201)
def create_asset(emu: Emu, body: JsonBody = None) -> dict[str, Any]:
    settings = validation.asset_settings(body, url_required=True, default_quality=emu.config.default_video_quality)
    asset = lifecycle.create_asset(emu, settings, ingest_type="on_demand_url", input_url=settings["inputs"][0]["url"])
    emu.processor.submit(asset["id"])
    return {"data": asset}


@router.get("")
def list_assets(
    emu: Emu,
    limit: int | None = None,
    page: int | None = None,
    cursor: str | None = None,
    upload_id: str | None = None,
    live_stream_id: str | None = None,
) -> dict[str, Any]:
    limit, page = validation.page_params(limit, page, max_limit=emu.config.max_page_limit)
    records = emu.store.asset_objects_newest_first()
    if upload_id is not None:
        records = [(seq, data) for seq, data in records if data.get("upload_id") == upload_id]
    if live_stream_id is not None:
        records = [(seq, data) for seq, data in records if data.get("live_stream_id") == live_stream_id]
    if cursor:
        after = _decode_cursor(cursor)
        records = [(seq, data) for seq, data in records if seq < after]
        start = 0
    else:
        start = (page - 1) * limit
    window = records[start : start + limit]
    more = len(records) > start + limit
    return {
        "data": [data for _, data in window],
        "next_cursor": _encode_cursor(window[-1][0]) if window and more else None,
    }


def _asset(emu: Emu, asset_id: str) -> dict[str, Any]:
    record = emu.store.asset(asset_id)
    if record is None:
        raise not_found()
    return record.data


@router.get("/{asset_id}")
def get_asset(emu: Emu, asset_id: str) -> dict[str, Any]:
    return {"data": _asset(emu, asset_id)}


@router.patch("/{asset_id}")
def update_asset(emu: Emu, asset_id: str, body: JsonBody = None) -> dict[str, Any]:
    _asset(emu, asset_id)
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    unknown = set(body) - {"passthrough", "meta"}
    if unknown:
        raise invalid(f"only passthrough and meta can be updated, not {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    if "passthrough" in body:
        changes["passthrough"] = validation.passthrough(body["passthrough"])
    if "meta" in body:
        changes["meta"] = validation.meta(body["meta"]) or None
    asset = lifecycle.update_asset(emu, asset_id, changes)
    if asset is None:
        raise not_found()
    return {"data": asset}


@router.delete("/{asset_id}", status_code=204)
def delete_asset(emu: Emu, asset_id: str) -> Response:
    if not lifecycle.delete_asset(emu, asset_id):
        raise not_found()
    return Response(status_code=204)


@router.get("/{asset_id}/input-info")
def input_info(emu: Emu, asset_id: str) -> dict[str, Any]:
    record = emu.store.asset(asset_id)
    if record is None:
        raise not_found()
    return {"data": record.input_info}


@router.post("/{asset_id}/playback-ids", status_code=201)
def create_playback_id(emu: Emu, asset_id: str, body: JsonBody = None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object with a policy")
    policy = validation.playback_policy(body.get("policy"))
    entry = objects.new_playback_id(policy)
    with emu.store.lock:
        record = emu.store.assets.get(asset_id)
        if record is None:
            raise not_found()
        record.data.setdefault("playback_ids", []).append(entry)
        emu.store.commit()
    return {"data": entry}


@router.get("/{asset_id}/playback-ids/{playback_id}")
def get_playback_id(emu: Emu, asset_id: str, playback_id: str) -> dict[str, Any]:
    for entry in _asset(emu, asset_id).get("playback_ids") or []:
        if entry["id"] == playback_id:
            return {"data": entry}
    raise not_found()


@router.delete("/{asset_id}/playback-ids/{playback_id}", status_code=204)
def delete_playback_id(emu: Emu, asset_id: str, playback_id: str) -> Response:
    with emu.store.lock:
        record = emu.store.assets.get(asset_id)
        entries = (record.data.get("playback_ids") or []) if record else []
        remaining = [e for e in entries if e["id"] != playback_id]
        if record is None or len(remaining) == len(entries):
            raise not_found()
        if remaining:
            record.data["playback_ids"] = remaining
        else:
            # Mux drops the key entirely once the last playback ID is gone.
            record.data.pop("playback_ids", None)
        emu.store.commit()
    return Response(status_code=204)

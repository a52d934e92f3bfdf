"""GET /video/v1/playback-ids/{id}: which asset a playback ID belongs to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from emulator.deps import Emu
from emulator.errors import not_found

router = APIRouter(prefix="/video/v1/playback-ids")


@router.get("/{playback_id}")
def get_asset_or_livestream_id(emu: Emu, playback_id: str) -> dict[str, Any]:
    found = emu.store.find_playback_id(playback_id)
    if found is None:
        raise not_found()
    record, entry = found
    return {
        "data": {"id": entry["id"], "policy": entry["policy"], "object": {"id": record.data["id"], "type": "asset"}}
    }

"""/video/v1/uploads: direct uploads (create, get, list, cancel)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from emulator import ids, lifecycle, objects, validation
from emulator.deps import Emu, JsonBody
from emulator.errors import forbidden, not_found
from emulator.state import UploadRecord

router = APIRouter(prefix="/video/v1/uploads")


@router.post("", status_code=201)
def create_upload(emu: Emu, body: JsonBody = None) -> dict[str, Any]:
    request = validation.upload_request(body, emu.config.default_video_quality)
    upload_id = ids.upload_id()
    upload = objects.new_upload(
        upload_id,
        timeout=request["timeout"],
        cors_origin=request["cors_origin"],
        settings_echo=validation.settings_echo(request["settings"]),
        test=request["test"],
        url=emu.upload_url(upload_id),
    )
    record = UploadRecord(data=upload, seq=emu.store.next_seq(), created=emu.clock.now(), settings=request["settings"])
    with emu.store.lock:
        emu.store.uploads[upload_id] = record
        emu.store.commit()
    emu.emit_upload("video.upload.created", upload)
    return {"data": upload}


@router.get("")
def list_uploads(emu: Emu, limit: int | None = None, page: int | None = None) -> dict[str, Any]:
    limit, page = validation.page_params(limit, page, max_limit=emu.config.max_page_limit)
    records = emu.store.uploads_newest_first()
    start = (page - 1) * limit
    return {"data": [r.data for r in records[start : start + limit]]}


@router.get("/{upload_id}")
def get_upload(emu: Emu, upload_id: str) -> dict[str, Any]:
    record = emu.store.upload(upload_id)
    if record is None:
        raise not_found()
    return {"data": record.data}


@router.put("/{upload_id}/cancel")
def cancel_upload(emu: Emu, upload_id: str) -> dict[str, Any]:
    if emu.store.upload(upload_id) is None:
        raise not_found()
    upload = lifecycle.cancel_upload(emu, upload_id)
    if upload is None:
        raise forbidden("Cancellation no longer possible")
    return {"data": upload}

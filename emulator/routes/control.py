"""/_emulator/...: controls for tests and demos (no auth, no Mux counterpart)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from emulator import lifecycle
from emulator.deps import Emu, JsonBody
from emulator.errors import MuxError, invalid, not_found
from emulator.faults import parse_fault_config

router = APIRouter(prefix="/_emulator")


def _object_body(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid("body must be a JSON object")
    return body


@router.get("/health")
def health(emu: Emu) -> dict[str, Any]:
    with emu.store.lock:
        assets, uploads = len(emu.store.assets), len(emu.store.uploads)
    return {
        "status": "ok",
        "assets": assets,
        "uploads": uploads,
        "pending_webhooks": emu.webhooks.pending(),
        "now": emu.clock.now(),
    }


@router.get("/config")
def get_config(emu: Emu) -> dict[str, Any]:
    return {"data": emu.config.public_view()}


@router.put("/config")
def put_config(emu: Emu, body: JsonBody = None) -> dict[str, Any]:
    try:
        return {"data": emu.update_config(_object_body(body))}
    except ValueError as exc:
        raise invalid(str(exc)) from exc


@router.get("/faults")
def get_faults(emu: Emu) -> dict[str, Any]:
    return {"data": emu.faults.config.as_json()}


@router.put("/faults")
def put_faults(emu: Emu, body: JsonBody = None) -> dict[str, Any]:
    try:
        config = parse_fault_config(_object_body(body), emu.config.seed)
    except ValueError as exc:
        raise invalid(str(exc)) from exc
    emu.faults.set(config)
    return {"data": config.as_json()}


@router.delete("/faults")
def delete_faults(emu: Emu) -> dict[str, Any]:
    emu.faults.clear()
    return {"data": emu.faults.config.as_json()}


@router.post("/reset")
def reset(emu: Emu) -> dict[str, Any]:
    emu.reset()
    return {"data": {"reset": True}}


@router.get("/stats")
def stats(emu: Emu) -> dict[str, Any]:
    with emu.store.lock:
        by_status: dict[str, int] = {}
        for record in emu.store.assets.values():
            by_status[record.data["status"]] = by_status.get(record.data["status"], 0) + 1
        uploads: dict[str, int] = {}
        for upload in emu.store.uploads.values():
            uploads[upload.data["status"]] = uploads.get(upload.data["status"], 0) + 1
        keys = len(emu.store.signing_keys)
    deliveries = emu.webhooks.log()
    return {
        "data": {
            "requests": emu.stats.snapshot(),
            "assets": {"total": sum(by_status.values()), "by_status": by_status},
            "uploads": {"total": sum(uploads.values()), "by_status": uploads},
            "signing_keys": keys,
            "webhooks": {
                "events": len(emu.webhooks.events()),
                "deliveries": len(deliveries),
                "delivered": sum(1 for d in deliveries if d["delivered"]),
                "pending": sum(1 for d in deliveries if d["pending"]),
                "gave_up": sum(1 for d in deliveries if d["gave_up"]),
            },
        }
    }


@router.get("/webhooks")
def webhook_log(
    emu: Emu, event_type: str | None = None, event_id: str | None = None, url: str | None = None
) -> dict[str, Any]:
    return {"data": emu.webhooks.log(event_type=event_type, event_id=event_id, url=url)}


@router.get("/events")
def events(emu: Emu, type: str | None = None) -> dict[str, Any]:
    return {"data": emu.webhooks.events(type)}


@router.post("/webhooks/emit", status_code=201)
def emit(emu: Emu, body: JsonBody = None) -> dict[str, Any]:
    """Emit synthetic events (e.g. to measure delivery faults over many events)."""
    body = _object_body(body)
    event_type = body.get("type", "video.asset.updated")
    count = body.get("count", 1)
    if not isinstance(event_type, str) or not event_type.startswith("video."):
        raise invalid("type must be a video.* event type")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise invalid("count must be an integer between 1 and 10000")
    object_type = body.get("object_type") or event_type.split(".")[1]
    ids = []
    for sequence in range(count):
        data = dict(body.get("data") or {})
        data.setdefault("id", f"synthetic-{uuid.uuid4().hex[:12]}")
        data["sequence"] = sequence
        ids.append(emu.webhooks.emit(event_type, object_type, data["id"], data)["id"])
    return {"data": {"event_ids": ids}}


@router.post("/webhooks/{event_id}/replay", status_code=202)
def replay(emu: Emu, event_id: str, body: JsonBody = None) -> dict[str, Any]:
    urls = _object_body(body).get("urls")
    if urls is not None and (not isinstance(urls, list) or not all(isinstance(u, str) for u in urls)):
        raise invalid("urls must be a list of strings")
    deliveries = emu.webhooks.replay(event_id, urls)
    if deliveries is None:
        raise not_found()
    return {"data": deliveries}


@router.get("/clock")
def clock(emu: Emu) -> dict[str, Any]:
    return {"data": {"now": emu.clock.now(), "offset": emu.clock.offset}}


@router.post("/clock/advance")
def advance_clock(emu: Emu, body: JsonBody = None) -> dict[str, Any]:
    seconds = _object_body(body).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise invalid("seconds must be a non-negative number")
    now = emu.clock.advance(float(seconds))
    return {"data": {"now": now, "offset": emu.clock.offset}}


@router.post("/uploads/{upload_id}/fail")
def fail_upload(emu: Emu, upload_id: str, body: JsonBody = None) -> dict[str, Any]:
    """Make a waiting upload `errored` (fires video.upload.errored), e.g. to test that branch."""
    body = _object_body(body)
    if emu.store.upload(upload_id) is None:
        raise not_found()
    upload = lifecycle.fail_upload(
        emu,
        upload_id,
        str(body.get("type", "invalid_upload")),
        str(body.get("message", "The upload failed.")),
    )
    if upload is None:
        raise MuxError(409, "conflict", "Only a waiting upload can be failed")
    return {"data": upload}


@router.patch("/assets/{asset_id}/raw")
def set_asset_raw(emu: Emu, asset_id: str, body: JsonBody = None) -> dict[str, Any]:
    """Set fields of a stored asset exactly as given, unvalidated, with no webhook (`null` removes a field).

    Stands in for values Mux may add after a client's SDK was built: a new status or error type, a new
    field. The REST API then serves the asset with them, as Mux would.
    """
    fields = _object_body(body)
    if "id" in fields:
        raise invalid("id cannot be changed")
    # Any new status string is the point of this control; no status at all, or not a string, is not a Mux asset.
    if "status" in fields and not isinstance(fields["status"], str):
        raise invalid("status must be a string (a new value is fine; it cannot be removed)")
    with emu.store.lock:
        record = emu.store.assets.get(asset_id)
        if record is None:
            raise not_found()
        for key, value in fields.items():
            if value is None:
                record.data.pop(key, None)
            else:
                record.data[key] = value
        emu.store.commit()
        view = dict(record.data)
    return {"data": view}

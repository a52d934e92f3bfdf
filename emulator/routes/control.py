"""/_emulator/...: controls for tests and demos (no auth, no Mux counterpart)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from emulator import ids, lifecycle, objects, validation
from emulator.deps import Emu, JsonBody
from emulator.errors import MuxError, invalid, not_found
from emulator.faults import parse_fault_config
from emulator.state import UploadRecord

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


@router.post("/assets", status_code=201)
def create_past_assets(emu: Emu, body: JsonBody = None) -> dict[str, Any]:
    """Assets Mux already had: created at a past `created_at`, then processed as usual, with no webhooks (Mux
    sent them back then) and no `processing_delay`. For histories, such as the demo's months of lessons.

    The body is one asset or a list of them (all checked before any is made), each a create-asset body
    (`inputs` with a `url`, `playback_policies`, `passthrough`, `meta`, `video_quality`, ...) plus
    `created_at` (epoch seconds, not after now) and optionally `direct_upload: true`: the asset came from a
    direct upload, recorded as `asset_created` (`upload_id`, `ingest_type: on_demand_direct_upload`).
    Answers the asset (a list for a list), `preparing`, like a create.
    """
    many = isinstance(body, list)
    bodies = body if isinstance(body, list) else [_object_body(body)]
    if not bodies or len(bodies) > 10_000:
        raise invalid("send 1 to 10,000 assets")
    checked = [_past_asset(emu, item) for item in bodies]
    created = []
    with emu.store.lock:
        for settings, at, direct_upload in checked:
            upload_id = ids.upload_id() if direct_upload else None
            asset = lifecycle.create_asset(
                emu,
                settings,
                ingest_type="on_demand_direct_upload" if direct_upload else "on_demand_url",
                input_url=settings["inputs"][0]["url"],
                upload_id=upload_id,
                created_at=at,
                commit=False,
            )
            if upload_id is not None:
                _record_past_upload(emu, upload_id, settings, asset["id"], at)
            created.append(asset)
        emu.store.commit()
    for asset in created:
        emu.processor.submit(asset["id"])
    return {"data": created if many else created[0]}


def _past_asset(emu: Emu, item: Any) -> tuple[dict[str, Any], float, bool]:
    item = dict(_object_body(item))
    created_at = item.pop("created_at", None)
    direct_upload = item.pop("direct_upload", False)
    if isinstance(created_at, bool) or not isinstance(created_at, int | float):
        raise invalid("created_at must be epoch seconds")
    if created_at > emu.clock.now():
        raise invalid("created_at must not be in the future")
    if not isinstance(direct_upload, bool):
        raise invalid("direct_upload must be true or false")
    settings = validation.asset_settings(item, url_required=True, default_quality=emu.config.default_video_quality)
    return settings, float(created_at), direct_upload


def _record_past_upload(emu: Emu, upload_id: str, settings: dict[str, Any], asset_id: str, at: float) -> None:
    upload = objects.new_upload(
        upload_id,
        timeout=validation.UPLOAD_TIMEOUT_DEFAULT,
        cors_origin=None,
        settings_echo=validation.settings_echo(settings),
        test=settings["test"],
        url=emu.upload_url(upload_id),
    )
    upload.update(status="asset_created", asset_id=asset_id)
    emu.store.uploads[upload_id] = UploadRecord(data=upload, seq=emu.store.next_seq(), created=at, settings=settings)

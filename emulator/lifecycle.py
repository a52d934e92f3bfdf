"""State transitions of assets and uploads, each followed by the webhook Mux would send.

Routes and the processing worker call these; they own the store lock, persistence and event emission
so the order "change state, persist, then announce" is written down once.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from emulator import objects
from emulator.state import AssetRecord

if TYPE_CHECKING:
    from emulator.runtime import Emulator


def create_asset(
    emu: Emulator,
    settings: dict[str, Any],
    *,
    ingest_type: str,
    input_url: str | None = None,
    upload_id: str | None = None,
    announce: bool = True,
    created_at: float | None = None,
    commit: bool = True,
) -> dict[str, Any]:
    """A new `preparing` asset; `created_at` (the past) makes it one Mux already had: no delay, no webhooks."""
    now = emu.clock.now()
    past = created_at is not None
    asset = objects.new_asset(settings, created_at=created_at or now, ingest_type=ingest_type, upload_id=upload_id)
    inputs = settings["inputs"] or [{}]
    record = AssetRecord(
        data=asset,
        seq=emu.store.next_seq(),
        input_url=input_url,
        input_settings=inputs,
        ready_not_before=now if past else now + emu.config.processing_delay,
        quiet=past,
    )
    with emu.store.lock:
        emu.store.assets[asset["id"]] = record
        if commit:
            emu.store.commit()
    if announce and not past:
        emu.emit_asset("video.asset.created", asset)
    return asset


def complete_upload(emu: Emulator, upload_id: str) -> str | None:
    """The last byte arrived: create the asset from new_asset_settings and start processing."""
    with emu.store.lock:
        upload = emu.store.uploads.get(upload_id)
        if upload is None or upload.data["status"] != "waiting":
            return None
        asset = create_asset(
            emu, upload.settings, ingest_type="on_demand_direct_upload", upload_id=upload_id, announce=False
        )
        target = emu.asset_dir(asset["id"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.move(str(emu.upload_part(upload_id)), target / "source")
        upload.data["status"] = "asset_created"
        upload.data["asset_id"] = asset["id"]
        emu.store.commit()
        upload_view = dict(upload.data)
    emu.emit_upload("video.upload.asset_created", upload_view)
    emu.emit_asset("video.asset.created", asset)
    emu.processor.submit(asset["id"])
    return str(asset["id"])


def update_asset(emu: Emulator, asset_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    with emu.store.lock:
        record = emu.store.assets.get(asset_id)
        if record is None:
            return None
        for key, value in changes.items():
            if value is None:
                record.data.pop(key, None)
            else:
                record.data[key] = value
        emu.store.commit()
        asset = dict(record.data)
    emu.emit_asset("video.asset.updated", asset)
    return asset


def set_progress(emu: Emulator, asset_id: str, state: str, progress: float) -> None:
    with emu.store.lock:
        record = emu.store.assets.get(asset_id)
        if record is not None and record.data["status"] == "preparing":
            record.data["progress"] = {"state": state, "progress": progress}


def mark_ready(emu: Emulator, asset_id: str, fields: dict[str, Any], extras: dict[str, Any]) -> bool:
    with emu.store.lock:
        record = emu.store.assets.get(asset_id)
        if record is None or record.data["status"] != "preparing":
            return False
        record.data.update(fields)
        for key, value in extras.items():
            setattr(record, key, value)
        emu.store.commit()
        asset = dict(record.data)
        quiet = record.quiet
    if not quiet:
        emu.emit_asset("video.asset.ready", asset)
    return True


def mark_errored(emu: Emulator, asset_id: str, error_type: str, message: str) -> bool:
    with emu.store.lock:
        record = emu.store.assets.get(asset_id)
        if record is None or record.data["status"] != "preparing":
            return False
        record.data.update(objects.errored_fields(error_type, message))
        emu.store.commit()
        asset = dict(record.data)
        quiet = record.quiet
    if not quiet:
        emu.emit_asset("video.asset.errored", asset)
    return True


def delete_asset(emu: Emulator, asset_id: str) -> bool:
    with emu.store.lock:
        record = emu.store.assets.pop(asset_id, None)
        if record is None:
            return False
        emu.store.commit()
    shutil.rmtree(emu.asset_dir(asset_id), ignore_errors=True)
    emu.emit_asset("video.asset.deleted", record.data)
    return True


def cancel_upload(emu: Emulator, upload_id: str) -> dict[str, Any] | None:
    """Returns the cancelled upload, or None if it is no longer `waiting` (caller answers 403)."""
    with emu.store.lock:
        upload = emu.store.uploads[upload_id]
        if upload.data["status"] != "waiting":
            return None
        upload.data["status"] = "cancelled"
        emu.store.commit()
        view = dict(upload.data)
    emu.upload_part(upload_id).unlink(missing_ok=True)
    emu.emit_upload("video.upload.cancelled", view)
    return view


def fail_upload(emu: Emulator, upload_id: str, error_type: str, message: str) -> dict[str, Any] | None:
    with emu.store.lock:
        upload = emu.store.uploads.get(upload_id)
        if upload is None or upload.data["status"] != "waiting":
            return None
        upload.data["status"] = "errored"
        upload.data["error"] = {"type": error_type, "message": message}
        emu.store.commit()
        view = dict(upload.data)
    emu.upload_part(upload_id).unlink(missing_ok=True)
    emu.emit_upload("video.upload.errored", view)
    return view


def time_out_uploads(emu: Emulator) -> list[str]:
    """Mux has no webhook for timed-out uploads; the status change is all a client can observe."""
    now = emu.clock.now()
    expired: list[str] = []
    with emu.store.lock:
        for upload_id, upload in emu.store.uploads.items():
            if upload.data["status"] == "waiting" and now >= upload.created + upload.data["timeout"]:
                upload.data["status"] = "timed_out"
                expired.append(upload_id)
        if expired:
            emu.store.commit()
    for upload_id in expired:
        emu.upload_part(upload_id).unlink(missing_ok=True)
    return expired

"""The direct-upload URL (`/_upload/{id}?signature=...`), standing in for Mux's signed GCS URL.

Accepts one PUT of the whole file, or UpChunk-style chunks with `Content-Range: bytes a-b/total`
(308 + `Range: bytes=0-<last>` until the final chunk, which gets 200). Chunks are written to a file at
their offset, so a resent chunk is harmless and nothing is held whole in memory.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from pathlib import Path

from fastapi import APIRouter, Request, Response

from emulator import lifecycle
from emulator.deps import Emu
from emulator.state import UploadRecord

router = APIRouter()

CHUNK_GRANULARITY = 256 * 1024  # GCS resumable uploads need intermediate chunks in 256 KiB multiples
_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


class _BadRequest(Exception):
    pass


def _cors_headers(upload: UploadRecord, request: Request) -> dict[str, str]:
    allowed = upload.data.get("cors_origin")
    origin = request.headers.get("origin")
    if allowed == "*":
        granted = "*"
    elif origin and origin == allowed:
        granted = origin
    else:
        return {}
    headers = {"Access-Control-Allow-Origin": granted, "Access-Control-Expose-Headers": "Range"}
    if granted != "*":
        headers["Vary"] = "Origin"
    return headers


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message, status_code=status, media_type="text/plain", headers=headers)


def _progress(received: int, headers: dict[str, str]) -> Response:
    extra = {"Range": f"bytes=0-{received - 1}"} if received else {}
    return Response(status_code=308, headers={**headers, **extra})


async def _drain(request: Request) -> None:
    async for _ in request.stream():
        pass


async def _write(request: Request, path: Path, offset: int, *, whole_file: bool) -> int:
    """Stream the body into `path` at `offset`; returns the byte count."""
    written = 0
    mode = "r+b" if path.exists() and not whole_file else "w+b"
    # Plain blocking writes: chunks arrive in small pieces and local disk writes are quick.
    with path.open(mode) as handle:
        handle.seek(offset)
        async for piece in request.stream():
            handle.write(piece)
            written += len(piece)
    return written


@router.options("/_upload/{upload_id}")
def preflight(emu: Emu, upload_id: str, request: Request) -> Response:
    upload = emu.store.upload(upload_id)
    if upload is None:
        return _text(404, "No such upload.")
    headers = _cors_headers(upload, request)
    if headers:
        asked = request.headers.get("access-control-request-headers", "content-type, content-range")
        headers |= {
            "Access-Control-Allow-Methods": "PUT, OPTIONS",
            "Access-Control-Allow-Headers": asked,
            "Access-Control-Max-Age": "3600",
        }
    return Response(status_code=200, headers=headers)


@router.put("/_upload/{upload_id}")
async def put_upload(emu: Emu, upload_id: str, request: Request, signature: str = "") -> Response:
    upload = emu.store.upload(upload_id)
    if upload is None:
        await _drain(request)
        return _text(404, "No such upload.")
    cors = _cors_headers(upload, request)
    if not hmac.compare_digest(signature, emu.upload_signature(upload_id)):
        await _drain(request)
        return _text(403, "The upload URL signature is invalid.", cors)
    locks: dict[str, asyncio.Lock] = request.app.state.upload_locks
    async with locks.setdefault(upload_id, asyncio.Lock()):
        try:
            return await _put_locked(emu, upload_id, request, cors)
        except _BadRequest as exc:
            await _drain(request)
            return _text(400, str(exc), cors)


def _parse_range(header: str | None) -> tuple[int | None, int | None, int | None]:
    """(start, end, total) with None for '*' parts; (0, None, None) when there is no header."""
    if header is None:
        return 0, None, None
    match = _CONTENT_RANGE.match(header.strip())
    if not match:
        raise _BadRequest(f"Malformed Content-Range header: {header!r}")
    start, end, total = match.groups()
    return (
        int(start) if start is not None else None,
        int(end) if end is not None else None,
        int(total) if total != "*" else None,
    )


async def _put_locked(emu: Emu, upload_id: str, request: Request, cors: dict[str, str]) -> Response:
    upload = emu.store.upload(upload_id)
    assert upload is not None
    status = upload.data["status"]
    if status == "asset_created":
        await _drain(request)  # UpChunk may resend the final chunk; the file is already complete
        return Response(status_code=200, headers=cors)
    if status != "waiting":
        await _drain(request)
        return _text(403, f"This upload is {status} and no longer accepts data.", cors)

    header = request.headers.get("content-range")
    start, end, total = _parse_range(header)
    if upload.total is not None and total is not None and total != upload.total:
        raise _BadRequest(f"Content-Range total {total} differs from the earlier {upload.total}")
    if start is None:  # `bytes */total`: a status query
        await _drain(request)
        if total is not None and upload.received >= total:
            return Response(status_code=200, headers=cors)
        return _progress(upload.received, cors)
    if header is not None:
        assert end is not None
        if end < start or (total is not None and end >= total):
            raise _BadRequest(f"Content-Range {header!r} is out of bounds")
        final = total is not None and end + 1 == total
        if not final and (end - start + 1) % CHUNK_GRANULARITY:
            raise _BadRequest(f"Intermediate chunks must be a multiple of {CHUNK_GRANULARITY} bytes")
        if start > upload.received:
            await _drain(request)  # a gap: tell the client where to resume, like GCS does
            return _progress(upload.received, cors)

    written = await _write(request, emu.upload_part(upload_id), start, whole_file=header is None)
    if end is not None and written != end - start + 1:
        raise _BadRequest(f"Body has {written} bytes but Content-Range {header!r} says {end - start + 1}")
    if header is None:
        end, total = written - 1, written
    assert end is not None
    with emu.store.lock:
        record = emu.store.uploads.get(upload_id)
        if record is None or record.data["status"] != "waiting":
            return _text(403, "This upload no longer accepts data.", cors)
        record.received = max(record.received, end + 1)
        record.total = total if total is not None else record.total
        received, complete = record.received, total is not None and record.received >= total
        emu.store.commit()
    if complete:
        lifecycle.complete_upload(emu, upload_id)
        request.app.state.upload_locks.pop(upload_id, None)
        return Response(status_code=200, headers=cors)
    return _progress(received, cors)

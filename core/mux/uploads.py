"""Direct uploads: create, get, cancel; and sending a file to an upload URL in resumable chunks."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

import httpx
import mux_python

from core.errors import MuxInvalidRequest, MuxUnavailable
from core.logging import get_logger
from core.mux.assets import _meta
from core.mux.client import MuxBase, require
from core.mux.models import Upload, upload_from_json, upload_from_sdk
from core.retry import Retrier

log = get_logger(__name__)

# Google-style resumable uploads want chunks in multiples of 256 KiB (UpChunk enforces the same).
CHUNK_UNIT = 256 * 1024


class UploadsMixin(MuxBase):
    def create_direct_upload(
        self,
        *,
        lesson_id: int,
        playback_policy: str,
        title: str | None = None,
        external_id: str | None = None,
        cors_origin: str | None = None,
    ) -> Upload:
        """A direct upload for a lesson: passthrough = lesson id, only the lesson's playback policy; the browser
        sends the file from `cors_origin` (default: the first of LECTERN_CORS_ORIGIN's)."""
        new_asset = mux_python.CreateAssetRequest(
            playback_policies=[playback_policy],
            passthrough=str(lesson_id),
            video_quality=self.settings.mux_video_quality,
            meta=_meta(title, external_id),
        )
        request = mux_python.CreateUploadRequest(
            timeout=self.settings.upload_timeout_s,
            cors_origin=cors_origin or self.settings.cors_origins[0],
            new_asset_settings=new_asset,
        )
        resp = self._call("create direct upload", self.uploads_api.create_direct_upload, request)
        return upload_from_sdk(require(resp, "create direct upload").data)

    def get_direct_upload(self, upload_id: str) -> Upload:
        """The upload as Mux sends it (raw JSON, so a status Mux added since the SDK is kept, not fatal)."""
        return upload_from_json(self._raw_data("get direct upload", self.uploads_api.get_direct_upload, upload_id))

    def cancel_direct_upload(self, upload_id: str) -> Upload:
        resp = self._call("cancel direct upload", self.uploads_api.cancel_direct_upload, upload_id)
        return upload_from_sdk(require(resp, "cancel direct upload").data)


def put_in_chunks(
    url: str,
    stream: BinaryIO,
    total: int,
    *,
    http: httpx.Client,
    content_type: str = "application/octet-stream",
    chunk_size: int = 8 * 1024 * 1024,
    retrier: Retrier | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    start: int = 0,
) -> int:
    """PUT bytes [start, total) from `stream` to a resumable upload URL with Content-Range; returns chunks sent.

    `start` resumes an upload whose server already holds the bytes before it.

    Intermediate chunks are answered 308 (optionally with `Range: bytes=0-N`: the server kept bytes up to
    N, and we resend from N+1); the last chunk 200/201. 408/429/5xx and network errors retry the chunk.
    """
    if total <= 0:
        raise ValueError("nothing to upload: the file is empty")
    chunk_size = max(CHUNK_UNIT, chunk_size - chunk_size % CHUNK_UNIT)
    retrier = retrier or Retrier()
    offset, sent = start, 0
    while offset < total:
        stream.seek(offset)
        data = stream.read(min(chunk_size, total - offset))
        end = offset + len(data) - 1
        headers = {"Content-Range": f"bytes {offset}-{end}/{total}", "Content-Type": content_type}

        def attempt(data: bytes = data, headers: dict[str, str] = headers) -> httpx.Response:
            try:
                resp = http.put(url, content=data, headers=headers)
            except httpx.TransportError as exc:
                raise MuxUnavailable(f"upload chunk failed: {type(exc).__name__}: {exc}") from exc
            if resp.status_code in (408, 429) or resp.status_code >= 500:
                raise MuxUnavailable(f"upload chunk answered {resp.status_code}", status=resp.status_code)
            return resp

        resp = retrier.call(attempt)
        sent += 1
        if resp.status_code == 308:
            kept = range_end(resp.headers.get("Range"))
            offset = end + 1 if kept is None else kept + 1
        elif resp.status_code in (200, 201, 202, 204):
            offset = end + 1
            if offset < total:
                raise MuxInvalidRequest(
                    f"upload URL answered {resp.status_code} before the last chunk", status=resp.status_code
                )
        else:
            raise MuxInvalidRequest(
                f"upload chunk rejected ({resp.status_code}): {resp.text[:300]}", status=resp.status_code
            )
        if on_chunk is not None:
            on_chunk(offset, total)
    log.info("mux.upload.sent", bytes=total, chunks=sent)
    return sent


def range_end(value: str | None) -> int | None:
    """The last byte offset in a `Range: bytes=0-N` header, or None when there is none."""
    if not value or "-" not in value:
        return None
    try:
        return int(value.rsplit("-", 1)[1])
    except ValueError:
        return None

"""S3 (legacy lesson videos, non-video lesson files) through boto3, and routing lesson files by type.

`upload_lesson_file` sends videos to Mux (a direct upload, then the bytes in resumable chunks) and every
other file to S3 under `lessons/<lesson id>/files/`. The caller records the outcome on the lesson (for a
video: `core.lessons.mark_waiting_upload`), because this module never touches the database.
"""

from __future__ import annotations

import mimetypes
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Literal
from urllib.parse import urlparse

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
    TokenRetrievalError,
)

from core.db.models import Lesson
from core.errors import NotFound, StorageCredentialsInvalid, StorageError, StorageUnavailable
from core.logging import get_logger
from core.mux.service import MuxService
from core.mux.uploads import put_in_chunks
from core.settings import Settings

log = get_logger(__name__)

VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".wmv",
        ".flv",
        ".mpg",
        ".mpeg",
        ".ts",
        ".m2ts",
        ".mts",
        ".3gp",
        ".ogv",
        ".mxf",
    }
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime | None = None
    etag: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class LessonFileUpload:
    destination: Literal["mux", "s3"]
    size: int
    s3_key: str | None = None
    mux_upload_id: str | None = None


def build_s3_client(settings: Settings) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=str(settings.s3_endpoint_url).rstrip("/") if settings.s3_endpoint_url else None,
        aws_access_key_id=settings.aws_access_key_id or None,
        aws_secret_access_key=settings.aws_secret_access_key.get_secret_value() or None,
        region_name=settings.aws_region,
        # Path style works with MinIO/moto and with buckets whose names contain dots.
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"mode": "standard"}),
    )


def object_key(video_url: str, bucket: str) -> tuple[str, str]:
    """(bucket, key) for a legacy `video_url`: a bare key, `s3://bucket/key` or a path-style URL."""
    if video_url.startswith("s3://"):
        parsed = urlparse(video_url)
        return parsed.netloc, parsed.path.lstrip("/")
    if video_url.startswith(("http://", "https://")):
        path = urlparse(video_url).path.lstrip("/")
        first, _, rest = path.partition("/")
        return (first, rest) if first == bucket else (bucket, path)
    return bucket, video_url.lstrip("/")


def is_video(filename: str, content_type: str | None) -> bool:
    if content_type and content_type.split(";")[0].strip().lower().startswith("video/"):
        return True
    return PurePosixPath(filename.lower()).suffix in VIDEO_EXTENSIONS


def safe_filename(filename: str) -> str:
    name = _SAFE_NAME.sub("_", PurePosixPath(filename).name).strip("._")
    return name or "file"


# S3's codes for credentials it does not accept (expired session tokens, deleted or mistyped keys).
CREDENTIAL_ERROR_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "InvalidToken", "SignatureDoesNotMatch"}
)
LOCAL_CREDENTIAL_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError, TokenRetrievalError)
CREDENTIALS_HINT = "S3 credentials are missing, expired or rejected: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"


def _translate(exc: Exception, what: str) -> Exception:
    """Every boto error as a Lectern error (callers and the API never see botocore's classes)."""
    if isinstance(exc, LOCAL_CREDENTIAL_ERRORS):
        return StorageCredentialsInvalid(f"{what}: {CREDENTIALS_HINT} ({type(exc).__name__})")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in CREDENTIAL_ERROR_CODES:
            return StorageCredentialsInvalid(f"{what}: {CREDENTIALS_HINT} ({code})")
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
            return NotFound(f"{what}: not found in S3")
        if status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout"):
            return StorageUnavailable(f"{what}: S3 unavailable ({code or status})")
        return StorageError(f"{what}: S3 refused ({code or status}): {exc}")
    return StorageUnavailable(f"{what}: {type(exc).__name__}: {exc}")


class StorageService:
    def __init__(
        self,
        settings: Settings,
        client: Any,
        *,
        mux: MuxService | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        self.client = client
        self.mux = mux
        self.http = http

    def presign_get(self, key_or_url: str, *, ttl_s: int | None = None) -> str:
        bucket, key = object_key(key_or_url, self.bucket)
        return self._presign("get_object", {"Bucket": bucket, "Key": key}, ttl_s)

    def presign_put(self, key: str, *, content_type: str | None = None, ttl_s: int | None = None) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if content_type:
            params["ContentType"] = content_type
        return self._presign("put_object", params, ttl_s)

    def _presign(self, method: str, params: dict[str, str], ttl_s: int | None) -> str:
        # Signed locally, so S3 is never asked; but finding (or refreshing) the credentials can still fail.
        try:
            url = self.client.generate_presigned_url(
                method, Params=params, ExpiresIn=ttl_s or self.settings.s3_presign_ttl_s
            )
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"presign s3://{params['Bucket']}/{params['Key']}") from exc
        return str(url)

    def iter_object_pages(self, prefix: str = "", *, page_size: int = 1000) -> Iterator[list[ObjectInfo]]:
        """Every object under `prefix`, a page at a time (ContinuationToken until not truncated)."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": page_size}
            if token:
                kwargs["ContinuationToken"] = token
            try:
                resp = self.client.list_objects_v2(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise _translate(exc, f"list s3://{self.bucket}/{prefix}") from exc
            yield [
                ObjectInfo(
                    key=o["Key"],
                    size=int(o.get("Size", 0)),
                    last_modified=o.get("LastModified"),
                    etag=str(o.get("ETag", "")).strip('"') or None,
                )
                for o in resp.get("Contents", [])
            ]
            token = resp.get("NextContinuationToken")
            if not resp.get("IsTruncated") or not token:
                return

    def iter_legacy_videos(self, prefix: str = "", *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        for page in self.iter_object_pages(prefix, page_size=page_size):
            yield from (o for o in page if is_video(o.key, None))

    def head(self, key_or_url: str) -> ObjectInfo:
        bucket, key = object_key(key_or_url, self.bucket)
        try:
            resp = self.client.head_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"head s3://{bucket}/{key}") from exc
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            last_modified=resp.get("LastModified"),
            etag=str(resp.get("ETag", "")).strip('"') or None,
            content_type=resp.get("ContentType"),
        )

    def size(self, key_or_url: str) -> int:
        return self.head(key_or_url).size

    def put_object(self, key: str, stream: BinaryIO, *, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self.client.upload_fileobj(stream, self.bucket, key, ExtraArgs=extra)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"upload s3://{self.bucket}/{key}") from exc

    def upload_lesson_file(
        self, lesson: Lesson, filename: str, content_type: str | None, stream: BinaryIO
    ) -> LessonFileUpload:
        """Videos to Mux (direct upload + chunked PUT), everything else to S3."""
        content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if is_video(filename, content_type):
            return self._upload_video(lesson, filename, content_type, stream)
        key = f"lessons/{lesson.id}/files/{safe_filename(filename)}"
        with _seekable(stream) as (body, size):
            self.put_object(key, body, content_type=content_type)
        log.info("lesson.file.uploaded", lesson_id=lesson.id, destination="s3", key=key, bytes=size)
        return LessonFileUpload(destination="s3", size=size, s3_key=key)

    def _upload_video(self, lesson: Lesson, filename: str, content_type: str, stream: BinaryIO) -> LessonFileUpload:
        if self.mux is None:
            raise StorageError("video uploads need a MuxService; StorageService was built without one")
        upload = self.mux.create_direct_upload(
            lesson_id=lesson.id,
            playback_policy=lesson.playback_policy,
            title=lesson.title,
            external_id=f"lesson-{lesson.id}",
        )
        log.info("mux.upload.created", lesson_id=lesson.id, upload_id=upload.id, filename=filename)
        if not upload.url:
            raise StorageError(f"Mux upload {upload.id} came back without a URL")
        http = self.http or httpx.Client(timeout=self.settings.mux_request_timeout_s)
        try:
            with _seekable(stream) as (body, size):
                put_in_chunks(
                    upload.url,
                    body,
                    size,
                    http=http,
                    content_type=content_type,
                    chunk_size=self.settings.mux_upload_chunk_bytes,
                    retrier=self.mux.retrier,
                )
        finally:
            if self.http is None:
                http.close()
        log.info("lesson.file.uploaded", lesson_id=lesson.id, destination="mux", upload_id=upload.id, bytes=size)
        return LessonFileUpload(destination="mux", size=size, mux_upload_id=upload.id)


class _seekable:
    """(stream, size) for any stream: seekable ones as they are, others spooled to a temp file first."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.spool: Any = None

    def __enter__(self) -> tuple[BinaryIO, int]:
        try:
            # Chunked uploads seek to absolute offsets, so only a stream positioned at 0 is used as is.
            if self.stream.seekable() and self.stream.tell() == 0:
                size = self.stream.seek(0, 2)
                self.stream.seek(0)
                return self.stream, size
        except (AttributeError, OSError, ValueError):
            pass
        self.spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
        shutil.copyfileobj(self.stream, self.spool)
        size = self.spool.tell()
        self.spool.seek(0)
        return self.spool, size

    def __exit__(self, *exc: object) -> None:
        if self.spool is not None:
            self.spool.close()

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from core.db.models import Lesson
from core.errors import NotFound, StorageCredentialsInvalid, StorageError, StorageUnavailable
from core.mux.models import Upload
from core.settings import Settings, load_settings
from core.storage import StorageService, _translate, build_s3_client, is_video, object_key, safe_filename
from tests.conftest import S3Server


def s3_settings(s3: S3Server, **overrides: Any) -> Settings:
    return load_settings(
        s3_endpoint_url=s3.endpoint_url,
        s3_bucket=s3.bucket,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        aws_region=s3.region,
        **overrides,
    )


def _storage(settings: Settings) -> StorageService:
    return StorageService(settings, build_s3_client(settings))


def test_listing_walks_every_page_with_continuation_tokens(s3: S3Server) -> None:
    client = s3.client()
    for i in range(23):
        client.put_object(Bucket=s3.bucket, Key=f"videos/{i:03}.mp4", Body=b"v" * i)
    client.put_object(Bucket=s3.bucket, Key="videos/notes.pdf", Body=b"pdf")
    client.put_object(Bucket=s3.bucket, Key="other/x.mp4", Body=b"x")
    storage = _storage(s3_settings(s3))
    pages = list(storage.iter_object_pages("videos/", page_size=5))
    assert [len(p) for p in pages] == [5, 5, 5, 5, 4]
    assert len({o.key for p in pages for o in p}) == 24
    videos = list(storage.iter_legacy_videos("videos/", page_size=5))
    assert [v.key for v in videos] == [f"videos/{i:03}.mp4" for i in range(23)]
    assert videos[7].size == 7


def test_presigned_get_downloads_the_object_and_head_reports_size(s3: S3Server) -> None:
    s3.client().put_object(Bucket=s3.bucket, Key="legacy/a.mp4", Body=b"movie-bytes", ContentType="video/mp4")
    storage = _storage(s3_settings(s3))
    url = storage.presign_get("legacy/a.mp4", ttl_s=120)
    assert "X-Amz-Expires=120" in url and "X-Amz-Signature=" in url
    assert httpx.get(url).content == b"movie-bytes"
    assert httpx.get(storage.presign_get(f"s3://{s3.bucket}/legacy/a.mp4")).content == b"movie-bytes"
    assert storage.size("legacy/a.mp4") == len(b"movie-bytes")
    assert storage.head("legacy/a.mp4").content_type == "video/mp4"
    with pytest.raises(NotFound):
        storage.head("legacy/missing.mp4")


def test_presigned_put_uploads(s3: S3Server) -> None:
    storage = _storage(s3_settings(s3))
    url = storage.presign_put("uploads/n.txt", content_type="text/plain")
    assert httpx.put(url, content=b"hello", headers={"Content-Type": "text/plain"}).status_code == 200
    assert storage.size("uploads/n.txt") == 5


class FakeMux:
    """The MuxService seam: records the direct upload it was asked for."""

    def __init__(self) -> None:
        from core.retry import Retrier

        self.retrier = Retrier(sleep=lambda _: None)
        self.requests: list[dict[str, Any]] = []

    def create_direct_upload(self, **kwargs: Any) -> Upload:
        self.requests.append(kwargs)
        return Upload(id="up-1", url="http://upload.test/up-1", status="waiting", timeout_s=3600)


def test_lesson_files_route_videos_to_mux_and_others_to_s3(s3: S3Server) -> None:
    received = bytearray()

    def upload_endpoint(request: httpx.Request) -> httpx.Response:
        received.extend(request.content)
        total = int(request.headers["Content-Range"].rsplit("/", 1)[1])
        return httpx.Response(200 if len(received) == total else 308)

    mux = FakeMux()
    http = httpx.Client(transport=httpx.MockTransport(upload_endpoint))
    settings = s3_settings(s3, mux_upload_chunk_bytes=256 * 1024)
    storage = StorageService(
        settings,
        build_s3_client(settings),
        mux=mux,
        http=http,  # type: ignore[arg-type]
    )
    lesson = Lesson(id=42, title="Intro", playback_policy="signed")

    video = b"\x00" * (256 * 1024 + 17)
    result = storage.upload_lesson_file(lesson, "intro.MOV", "application/octet-stream", io.BytesIO(video))
    assert (result.destination, result.mux_upload_id, result.size) == ("mux", "up-1", len(video))
    assert bytes(received) == video
    assert mux.requests == [
        {"lesson_id": 42, "playback_policy": "signed", "title": "Intro", "external_id": "lesson-42"}
    ]

    doc = storage.upload_lesson_file(lesson, "../notes v2.pdf", None, io.BytesIO(b"%PDF"))
    assert (doc.destination, doc.s3_key) == ("s3", "lessons/42/files/notes_v2.pdf")
    assert s3.client().get_object(Bucket=s3.bucket, Key=doc.s3_key)["Body"].read() == b"%PDF"
    http.close()


@pytest.mark.parametrize(
    ("name", "ctype", "expected"),
    [
        ("a.mp4", None, True),
        ("a.bin", "video/webm", True),
        ("a.MKV", "application/octet-stream", True),
        ("a.pdf", "application/pdf", False),
        ("a.mp3", "audio/mpeg", False),
        ("slides.key", None, False),
    ],
)
def test_video_detection(name: str, ctype: str | None, expected: bool) -> None:
    assert is_video(name, ctype) is expected


def test_object_keys_and_filenames() -> None:
    assert object_key("s3://b2/k/x.mp4", "b1") == ("b2", "k/x.mp4")
    assert object_key("legacy/x.mp4", "b1") == ("b1", "legacy/x.mp4")
    assert object_key("https://s3.example/b1/k.mp4", "b1") == ("b1", "k.mp4")
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("...") == "file"


def test_presigning_without_credentials_is_a_storage_error_not_botocore(
    s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    storage = _storage(load_settings(s3_endpoint_url=s3.endpoint_url, s3_bucket=s3.bucket))
    with pytest.raises(StorageCredentialsInvalid, match="AWS_ACCESS_KEY_ID"):
        storage.presign_get("legacy/a.mp4")
    with pytest.raises(StorageCredentialsInvalid):
        storage.presign_put("lessons/1/files/a.pdf")
    with pytest.raises(StorageCredentialsInvalid):
        storage.head("legacy/a.mp4")


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ExpiredToken", 400, StorageCredentialsInvalid),  # an STS session that ran out
        ("InvalidAccessKeyId", 403, StorageCredentialsInvalid),
        ("SignatureDoesNotMatch", 403, StorageCredentialsInvalid),
        ("AccessDenied", 403, StorageError),
        ("NoSuchKey", 404, NotFound),
        ("SlowDown", 503, StorageUnavailable),
    ],
)
def test_every_s3_error_becomes_a_lectern_error(code: str, status: int, expected: type[Exception]) -> None:
    assert type(_translate(_client_error(code, status), "get x")) is expected

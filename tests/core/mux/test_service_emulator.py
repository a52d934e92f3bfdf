"""MuxService over real HTTP to the Mux emulator: the SDK wiring, retries and error translation."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest

from core.errors import MuxInvalidRequest, MuxNotFound, MuxRateLimited, MuxUnavailable
from core.mux import MuxService
from core.retry import RetryPolicy
from core.settings import load_settings
from core.storage import StorageService, build_s3_client
from emulator.testing import EmulatorServer
from tests.conftest import S3Server


def service(emu: EmulatorServer, sleeps: list[float] | None = None, **policy: Any) -> MuxService:
    settings = load_settings(
        mux_api_url=emu.url,
        mux_token_id=emu.token_id,
        mux_token_secret=emu.token_secret,
        cors_origin="https://app.example",
        upload_timeout_s=600,
    )
    sleep = sleeps.append if sleeps is not None else time.sleep
    return MuxService(settings, retry_policy=RetryPolicy(**({"jitter": 0.0} | policy)), sleep=sleep)


def requests(emu: EmulatorServer, route: str) -> dict[str, int]:
    """Requests the emulator saw on `route` ("GET /video/v1/assets/{}"), by status."""
    by_route = {re.sub(r"\{[^}]*\}", "{}", k): v for k, v in emu.stats()["requests"].items()}
    return dict(by_route.get(route, {}).get("by_status", {}))


def test_429_with_retry_after_is_honoured_then_succeeds(emu: EmulatorServer) -> None:
    emu.set_faults({"routes": {"POST /video/v1/uploads": {"p429": 1.0, "retry_after": 3}}})
    sleeps: list[float] = []

    def sleep_then_recover(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            emu.clear_faults()

    mux = service(emu)
    mux.retrier.sleep = sleep_then_recover
    upload = mux.create_direct_upload(lesson_id=1, playback_policy="public")
    assert upload.status == "waiting"
    assert sleeps == [3.0, 3.0]  # the server's Retry-After, not the 0.5 s / 1 s backoff
    assert requests(emu, "POST /video/v1/uploads") == {"429": 2, "201": 1}


def test_429_retry_after_is_really_waited(emu: EmulatorServer) -> None:
    emu.set_faults({"routes": {"GET /video/v1/uploads/{}": {"p429": 1.0, "retry_after": 1}}})
    mux = service(emu, attempts=2)
    started = time.monotonic()
    with pytest.raises(MuxRateLimited) as caught:
        mux.get_direct_upload("whatever")
    assert time.monotonic() - started >= 1.0
    assert caught.value.retry_after == 1.0
    assert requests(emu, "GET /video/v1/uploads/{}") == {"429": 2}


def test_429_without_retry_after_backs_off(emu: EmulatorServer) -> None:
    emu.set_faults({"routes": {"GET /video/v1/assets/{}": {"p429": 1.0, "retry_after": None}}})
    sleeps: list[float] = []
    with pytest.raises(MuxRateLimited):
        service(emu, sleeps, attempts=3, base_s=0.25).get_asset("x")
    assert sleeps == [0.25, 0.5]


def test_5xx_retries_and_gives_up_as_unavailable(emu: EmulatorServer) -> None:
    emu.set_faults({"routes": {"GET /video/v1/assets/{}": {"p500": 1.0}}})
    sleeps: list[float] = []
    with pytest.raises(MuxUnavailable):
        service(emu, sleeps, attempts=3).get_asset("x")
    assert requests(emu, "GET /video/v1/assets/{}") == {"500": 3}


def test_400_is_not_retried_and_keeps_mux_message(emu: EmulatorServer) -> None:
    sleeps: list[float] = []
    mux = service(emu, sleeps)
    with pytest.raises(MuxInvalidRequest) as caught:
        mux.create_asset_from_url("https://example.test/a.mp4", passthrough="x" * 300)
    assert caught.value.status == 400
    assert caught.value.type == "invalid_parameters"
    assert any("passthrough" in m for m in caught.value.messages)
    assert sleeps == []
    assert requests(emu, "POST /video/v1/assets") == {"400": 1}


def test_404_is_not_found_and_not_retried(emu: EmulatorServer) -> None:
    sleeps: list[float] = []
    with pytest.raises(MuxNotFound):
        service(emu, sleeps).get_asset("does-not-exist")
    assert sleeps == []


def test_uploads_create_get_cancel(emu: EmulatorServer) -> None:
    mux = service(emu)
    upload = mux.create_direct_upload(lesson_id=12, playback_policy="signed", title="T", external_id="lesson-12")
    assert (upload.status, upload.cors_origin, upload.timeout_s) == ("waiting", "https://app.example", 600)
    assert upload.url and upload.url.startswith(emu.url)
    assert mux.get_direct_upload(upload.id).status == "waiting"
    assert mux.cancel_direct_upload(upload.id).status == "cancelled"


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "c.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine", "-t", "2", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-shortest", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return Path(path).read_bytes()


def test_assets_from_a_presigned_s3_url_list_playback_ids_and_delete(
    emu: EmulatorServer, s3: S3Server, clip_bytes: bytes
) -> None:
    s3.client().put_object(Bucket=s3.bucket, Key="legacy/c.mp4", Body=clip_bytes)
    settings = load_settings(
        s3_endpoint_url=s3.endpoint_url,
        s3_bucket=s3.bucket,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
    )
    storage = StorageService(settings, build_s3_client(settings))
    mux = service(emu)
    asset = mux.create_asset_from_url(
        storage.presign_get("legacy/c.mp4"), passthrough="77", playback_policy="signed", title="Migrated"
    )
    assert (asset.status, asset.passthrough) == ("preparing", "77")
    emu.wait_for_asset_status(asset.id, "ready")
    ready = mux.get_asset(asset.id)
    assert ready.status == "ready" and ready.duration_s is not None and 1.5 <= ready.duration_s <= 2.5
    assert ready.playback_id_for("signed") and ready.playback_id_for("public") is None

    public = mux.create_playback_id(asset.id, "public")
    assert public.policy == "public"
    assert mux.get_asset(asset.id).playback_id_for("public") == public.id
    mux.delete_playback_id(asset.id, public.id)
    assert mux.get_asset(asset.id).playback_id_for("public") is None

    others = [mux.create_asset_from_url(storage.presign_get("legacy/c.mp4"), passthrough=str(i)) for i in range(6)]
    listed = [a.id for a in mux.iter_assets(page_size=3)]
    assert sorted(listed) == sorted([asset.id, *(o.id for o in others)])
    assert len(listed) == len(set(listed)) == 7

    mux.delete_asset(asset.id)
    with pytest.raises(MuxNotFound):
        mux.get_asset(asset.id)


def test_signing_keys_lifecycle(emu: EmulatorServer) -> None:
    mux = service(emu)
    key = mux.create_signing_key()
    assert key.id and key.private_key
    fetched = mux.get_signing_key(key.id)
    assert fetched.id == key.id and fetched.private_key is None  # only the create response carries it
    assert key.id in [k.id for k in mux.iter_signing_keys(page_size=1)]
    mux.delete_signing_key(key.id)

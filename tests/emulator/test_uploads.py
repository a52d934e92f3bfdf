"""Direct uploads through mux-python plus UpChunk-style PUTs to the upload URL."""

from __future__ import annotations

import json

import httpx
import mux_python
import pytest
from mux_python.rest import ApiException, ForbiddenException, NotFoundException

from emulator.testing import EmulatorServer
from tests.emulator.helpers import CHUNK, Clips, put_chunked, put_whole


def _create(uploads_api: mux_python.DirectUploadsApi, **kwargs: object) -> mux_python.Upload:
    settings = mux_python.CreateAssetRequest(
        playback_policies=[mux_python.PlaybackPolicy.PUBLIC],
        passthrough="lesson-42",
        video_quality="basic",
        meta=mux_python.AssetMetadata(title="Intro", creator_id="teacher-7"),
    )
    kwargs.setdefault("cors_origin", "https://lectern.example")
    return uploads_api.create_direct_upload(mux_python.CreateUploadRequest(new_asset_settings=settings, **kwargs)).data


def test_chunked_upload_with_a_resent_chunk_becomes_a_ready_asset(
    emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi, assets_api: mux_python.AssetsApi, clips: Clips
) -> None:
    upload = _create(uploads_api)
    assert upload.status == "waiting" and upload.timeout == 3600
    assert upload.url.startswith(f"{emu.url}/_upload/{upload.id}?signature=")
    data = clips.noisy.read_bytes()
    assert len(data) > 3 * CHUNK

    responses = put_chunked(upload.url, data, resend=1)

    assert [r.status_code for r in responses[:-1]] == [308] * (len(responses) - 1)
    assert responses[-1].status_code == 200
    assert responses[1].headers["Range"] == responses[2].headers["Range"] == f"bytes=0-{2 * CHUNK - 1}"
    done = uploads_api.get_direct_upload(upload.id).data
    assert done.status == "asset_created" and done.asset_id
    emu.wait_for_asset_status(done.asset_id, "ready")
    asset = assets_api.get_asset(done.asset_id).data
    assert asset.upload_id == upload.id
    assert asset.ingest_type == "on_demand_direct_upload"
    assert asset.passthrough == "lesson-42" and asset.video_quality == "basic"
    assert asset.meta.title == "Intro" and asset.meta.creator_id == "teacher-7"
    assert asset.duration == pytest.approx(3.0, abs=0.1)
    assert asset.aspect_ratio == "4:3" and asset.resolution_tier == "720p"
    video, audio = sorted(asset.tracks, key=lambda t: t.type, reverse=True)
    assert (video.type, video.max_width, video.max_height, video.max_frame_rate) == ("video", 320, 240, 25.0)
    assert audio.type == "audio" and audio.max_channels == 1
    assert [a.id for a in assets_api.list_assets(upload_id=upload.id).data] == [done.asset_id]


def test_single_put_upload(emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi, clips: Clips) -> None:
    upload = _create(uploads_api)
    assert put_whole(upload.url, clips.small).status_code == 200
    asset = emu.wait_for_asset_status(uploads_api.get_direct_upload(upload.id).data.asset_id, "ready")
    assert asset["duration"] == pytest.approx(3.0, abs=0.1)
    assert asset["playback_ids"][0]["policy"] == "public"


def test_upload_url_protocol_edges(emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi, clips: Clips) -> None:
    upload = _create(uploads_api)
    data = clips.noisy.read_bytes()
    total = len(data)
    bad_signature = upload.url.split("?")[0] + "?signature=nope"
    assert httpx.put(bad_signature, content=b"x").status_code == 403
    # Intermediate chunks must be 256 KiB multiples.
    odd = httpx.put(upload.url, content=data[:1000], headers={"Content-Range": f"bytes 0-999/{total}"})
    assert odd.status_code == 400
    # A chunk beyond what was received is not stored: 308 says where to resume.
    gap = httpx.put(
        upload.url, content=data[CHUNK : 2 * CHUNK], headers={"Content-Range": f"bytes {CHUNK}-{2 * CHUNK - 1}/{total}"}
    )
    assert gap.status_code == 308 and "Range" not in gap.headers
    first = httpx.put(upload.url, content=data[:CHUNK], headers={"Content-Range": f"bytes 0-{CHUNK - 1}/{total}"})
    assert first.headers["Range"] == f"bytes=0-{CHUNK - 1}"
    query = httpx.put(upload.url, headers={"Content-Range": f"bytes */{total}"})
    assert query.status_code == 308 and query.headers["Range"] == f"bytes=0-{CHUNK - 1}"
    assert uploads_api.get_direct_upload(upload.id).data.status == "waiting"


def test_cors_only_for_the_configured_origin(uploads_api: mux_python.DirectUploadsApi) -> None:
    upload = _create(uploads_api, cors_origin="https://lectern.example")
    preflight = {
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-range, content-type",
    }
    good = httpx.options(upload.url, headers={"Origin": "https://lectern.example", **preflight})
    assert good.headers["Access-Control-Allow-Origin"] == "https://lectern.example"
    assert "PUT" in good.headers["Access-Control-Allow-Methods"]
    assert "content-range" in good.headers["Access-Control-Allow-Headers"]
    evil = httpx.options(upload.url, headers={"Origin": "https://evil.example", **preflight})
    assert "Access-Control-Allow-Origin" not in evil.headers
    put = httpx.put(upload.url, content=b"x" * 10, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in put.headers

    star = _create(uploads_api, cors_origin="*")
    assert (
        httpx.options(star.url, headers={"Origin": "https://any.example", **preflight}).headers[
            "Access-Control-Allow-Origin"
        ]
        == "*"
    )


def test_cancel_only_while_waiting(emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi, clips: Clips) -> None:
    waiting = _create(uploads_api)
    cancelled = uploads_api.cancel_direct_upload(waiting.id).data
    assert cancelled.status == "cancelled"
    assert httpx.put(waiting.url, content=b"late").status_code == 403

    done = _create(uploads_api)
    assert put_whole(done.url, clips.small).status_code == 200
    with pytest.raises(ForbiddenException) as info:
        uploads_api.cancel_direct_upload(done.id)
    assert "Cancellation no longer possible" in info.value.body
    with pytest.raises(NotFoundException):
        uploads_api.cancel_direct_upload("no-such-upload")


def test_upload_times_out_when_the_clock_passes_its_timeout(
    emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi
) -> None:
    upload = _create(uploads_api, timeout=60)
    assert upload.timeout == 60
    emu.advance_clock(59)
    assert uploads_api.get_direct_upload(upload.id).data.status == "waiting"
    emu.advance_clock(2)
    assert uploads_api.get_direct_upload(upload.id).data.status == "timed_out"
    assert httpx.put(upload.url, content=b"too late").status_code == 403


def test_upload_validation_and_listing(emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi) -> None:
    created = [_create(uploads_api).id for _ in range(3)]
    listed = uploads_api.list_direct_uploads(limit=2, page=1).data
    assert [u.id for u in listed] == created[::-1][:2]
    assert [u.id for u in uploads_api.list_direct_uploads(limit=2, page=2).data] == [created[0]]
    with pytest.raises(ApiException) as info:
        uploads_api.create_direct_upload(
            mux_python.CreateUploadRequest(new_asset_settings={"playback_policies": ["nope"]})
        )
    assert info.value.status == 400
    assert json.loads(info.value.body)["error"]["type"] == "invalid_parameters"
    for timeout in (59, 604801):  # mux-python rejects these client-side, so send them raw
        raw = emu.http.post("/video/v1/uploads", json={"timeout": timeout}, auth=(emu.token_id, emu.token_secret))
        assert raw.status_code == 400
        assert "timeout" in raw.json()["error"]["messages"][0]


def test_failed_upload_via_control(emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi) -> None:
    upload = _create(uploads_api)
    response = emu.http.post(f"/_emulator/uploads/{upload.id}/fail", json={"message": "disk full"})
    assert response.status_code == 200
    errored = uploads_api.get_direct_upload(upload.id).data
    assert errored.status == "errored" and errored.error.message == "disk full"
    assert [e["type"] for e in emu.events()][-1] == "video.upload.errored"

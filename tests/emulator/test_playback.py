"""Signing keys (mux-python) and the stream/image hosts, with public and signed playback IDs."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import mux_python
import pytest
from mux_python.rest import NotFoundException

from emulator.testing import EmulatorServer
from tests.emulator.helpers import Clips, make_client, upload_and_wait
from tests.waiting import wait_until


def _sign(key: mux_python.SigningKey, claims: dict[str, Any], *, kid_in: str = "header") -> str:
    private_pem = base64.b64decode(key.private_key)
    payload = {"exp": int(time.time()) + 600, **claims}
    headers = {}
    if kid_in == "header":
        headers["kid"] = key.id
    else:
        payload["kid"] = key.id
    return jwt.encode(payload, private_pem, algorithm="RS256", headers=headers)


def _segment_url(emu: EmulatorServer, playback_id: str, token: str | None = None) -> tuple[str, httpx.Response]:
    """Follow master -> first media playlist -> first segment, exactly as a player resolves URIs."""
    suffix = f"?token={token}" if token else ""
    master_url = f"{emu.url}/stream/{playback_id}.m3u8{suffix}"
    master = httpx.get(master_url)
    assert master.status_code == 200, master.text
    media_uri = next(line for line in master.text.splitlines() if line and not line.startswith("#"))
    media_url = str(httpx.URL(master_url).join(media_uri))
    media = httpx.get(media_url)
    assert media.status_code == 200, media.text
    segment_uri = next(line for line in media.text.splitlines() if line and not line.startswith("#"))
    segment_url = str(httpx.URL(media_url).join(segment_uri))
    return segment_url, httpx.get(segment_url)


def test_signing_key_crud(emu: EmulatorServer, keys_api: mux_python.SigningKeysApi) -> None:
    created = keys_api.create_signing_key().data
    pem = base64.b64decode(created.private_key)
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    fetched = keys_api.get_signing_key(created.id).data
    assert fetched.id == created.id and fetched.private_key is None
    assert [k.id for k in keys_api.list_signing_keys().data][-1] == created.id
    legacy = mux_python.URLSigningKeysApi(keys_api.api_client)
    assert legacy.get_url_signing_key(created.id).data.id == created.id
    keys_api.delete_signing_key(created.id)
    with pytest.raises(NotFoundException):
        keys_api.get_signing_key(created.id)


def test_signed_playback_end_to_end(
    emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi, keys_api: mux_python.SigningKeysApi, clips: Clips
) -> None:
    asset = upload_and_wait(emu, uploads_api, clips.small, policy="signed")
    playback_id = asset["playback_ids"][0]["id"]
    key = keys_api.create_signing_key().data

    for kid_in in ("header", "claims"):
        token = _sign(key, {"sub": playback_id, "aud": "v"}, kid_in=kid_in)
        segment_url, segment = _segment_url(emu, playback_id, token)
        assert segment.status_code == 200 and segment.content[:1] == b"\x47"  # MPEG-TS sync byte
        assert segment.headers["content-type"].lower() == "video/mp2t"
        assert f"token={token}" in segment_url

    def reason(url: str) -> str:
        response = httpx.get(url)
        assert response.status_code == 403
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        return str(response.json()["message"])

    stream = f"{emu.url}/stream/{playback_id}.m3u8"
    assert "missing token" in reason(stream)
    assert "wrong audience" in reason(stream + "?token=" + _sign(key, {"sub": playback_id, "aud": "t"}))
    expired = _sign(key, {"sub": playback_id, "aud": "v", "exp": int(time.time()) - 5})
    assert "expired" in reason(stream + "?token=" + expired)
    other = _sign(key, {"sub": "another-playback-id", "aud": "v"})
    assert "sub" in reason(stream + "?token=" + other)
    stranger = mux_python.SigningKey(id="unknown-key", private_key=key.private_key)
    assert "signing key not found" in reason(stream + "?token=" + _sign(stranger, {"sub": playback_id, "aud": "v"}))

    thumb = httpx.get(
        f"{emu.url}/image/{playback_id}/thumbnail.jpg?token=" + _sign(key, {"sub": playback_id, "aud": "t"})
    )
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    storyboard = httpx.get(
        f"{emu.url}/image/{playback_id}/storyboard.vtt?token=" + _sign(key, {"sub": playback_id, "aud": "s"})
    )
    assert storyboard.status_code == 200 and storyboard.text.startswith("WEBVTT")

    good = _sign(key, {"sub": playback_id, "aud": "v"})
    keys_api.delete_signing_key(key.id)
    assert "signing key not found" in reason(stream + "?token=" + good)


def test_public_playback_hosts_and_cors(
    emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi, clips: Clips
) -> None:
    asset = upload_and_wait(emu, uploads_api, clips.vga)
    playback_id = asset["playback_ids"][0]["id"]

    master = httpx.get(f"{emu.url}/stream/{playback_id}.m3u8")
    assert master.headers["Access-Control-Allow-Origin"] == "*"
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert re.findall(r"RESOLUTION=(\d+x\d+)", master.text) == ["640x480", "320x240"]
    capped = httpx.get(f"{emu.url}/stream/{playback_id}.m3u8?max_resolution=270p")
    assert re.findall(r"RESOLUTION=(\d+x\d+)", capped.text) == ["320x240"]
    _, segment = _segment_url(emu, playback_id)
    assert segment.status_code == 200 and segment.headers["Access-Control-Allow-Origin"] == "*"
    preflight = httpx.options(
        f"{emu.url}/stream/{playback_id}.m3u8",
        headers={"Origin": "https://lectern.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"

    thumb = httpx.get(f"{emu.url}/image/{playback_id}/thumbnail.jpg")
    resized = httpx.get(f"{emu.url}/image/{playback_id}/thumbnail.png?width=160&time=1")
    assert thumb.status_code == resized.status_code == 200
    assert thumb.headers["Access-Control-Allow-Origin"] == "*"
    assert _png_size(resized.content) == (160, 120)
    assert httpx.get(f"{emu.url}/image/{playback_id}/thumbnail.jpg?width=-3").status_code == 400

    sprite = httpx.get(f"{emu.url}/image/{playback_id}/storyboard.jpg")
    assert sprite.status_code == 200 and sprite.content[:2] == b"\xff\xd8"
    board = httpx.get(f"{emu.url}/image/{playback_id}/storyboard.json").json()
    assert board["url"] == f"{emu.url}/image/{playback_id}/storyboard.jpg"
    assert len(board["tiles"]) == 50 and board["tile_width"] == 256
    vtt = httpx.get(f"{emu.url}/image/{playback_id}/storyboard.vtt").text
    assert "#xywh=0,0,256,192" in vtt

    assert httpx.get(f"{emu.url}/stream/not-a-playback-id.m3u8").status_code == 404
    assert httpx.get(f"{emu.url}/stream/{playback_id}/9999p/index.m3u8").status_code == 404


def test_not_ready_asset_is_not_playable(clips: Clips, tmp_path: Path) -> None:
    # Its own emulator, with a data directory the test can see: it waits for processing's last file (the
    # storyboard), so what keeps the asset `preparing` afterwards is the configured delay alone.
    with EmulatorServer(processing_delay=30, data_dir=tmp_path) as emu:
        client = make_client(emu)
        uploads_api = mux_python.DirectUploadsApi(client)
        upload = uploads_api.create_direct_upload(
            mux_python.CreateUploadRequest(
                new_asset_settings=mux_python.CreateAssetRequest(playback_policies=["public"])
            )
        ).data
        assert httpx.put(upload.url, content=clips.small.read_bytes()).status_code == 200
        asset_id = uploads_api.get_direct_upload(upload.id).data.asset_id
        asset = emu.http.get(f"/video/v1/assets/{asset_id}", auth=(emu.token_id, emu.token_secret)).json()["data"]
        playback_id = asset["playback_ids"][0]["id"]
        wait_until((tmp_path / "assets" / asset_id / "storyboard.jpg").exists, 30, what="processing done")
        status = emu.http.get(f"/video/v1/assets/{asset_id}", auth=(emu.token_id, emu.token_secret)).json()
        assert status["data"]["status"] == "preparing"
        response = httpx.get(f"{emu.url}/stream/{playback_id}.m3u8")
        assert response.status_code == 412
        emu.advance_clock(31)
        emu.wait_for_asset_status(asset_id, "ready", timeout=5)
        assert httpx.get(f"{emu.url}/stream/{playback_id}.m3u8").status_code == 200
        client.close()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")

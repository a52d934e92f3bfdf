"""State survives a restart when a state file is configured."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import mux_python

from emulator.testing import EmulatorServer
from tests.emulator.helpers import Clips, make_client, upload_and_wait


def test_restart_keeps_assets_uploads_keys_and_media(tmp_path: Path, clips: Clips) -> None:
    state_file, data_dir = tmp_path / "state.json", tmp_path / "media"
    with EmulatorServer(state_file=state_file, data_dir=data_dir) as first:
        client = make_client(first)
        uploads = mux_python.DirectUploadsApi(client)
        asset = upload_and_wait(first, uploads, clips.small, passthrough="keep-me")
        waiting = uploads.create_direct_upload(mux_python.CreateUploadRequest()).data
        key = mux_python.SigningKeysApi(client).create_signing_key().data
        client.close()
    saved = json.loads(state_file.read_text())
    assert "private_key" not in json.dumps(saved)  # only the public half is kept

    with EmulatorServer(state_file=state_file, data_dir=data_dir) as second:
        client = make_client(second)
        again = mux_python.AssetsApi(client).get_asset(asset["id"]).data
        assert again.status == "ready" and again.passthrough == "keep-me"
        upload = mux_python.DirectUploadsApi(client).get_direct_upload(waiting.id).data
        assert upload.status == "waiting" and upload.url.startswith(second.url)
        assert mux_python.SigningKeysApi(client).get_signing_key(key.id).data.id == key.id
        client.close()
        playback_id = again.playback_ids[0].id
        master = httpx.get(f"{second.url}/stream/{playback_id}.m3u8")
        assert master.status_code == 200
        media_uri = next(line for line in master.text.splitlines() if not line.startswith("#"))
        media = httpx.get(f"{second.url}/stream/{media_uri}")
        segment = next(line for line in media.text.splitlines() if line and not line.startswith("#"))
        rendition = media_uri.rsplit("/", 1)[0]
        assert httpx.get(f"{second.url}/stream/{rendition}/{segment}").status_code == 200

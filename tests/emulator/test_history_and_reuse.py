"""Processed output reused for byte-identical inputs, assets made "as of" a past date, and the readiness delay
served without holding a worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mux_python
import pytest

from emulator import media
from emulator.testing import EmulatorServer
from lectern.sample_history import serve_directory
from tests.emulator.helpers import Clips, WebhookReceiver
from tests.waiting import wait_until


@pytest.fixture
def inputs(clips: Clips) -> Iterator[str]:
    """The session's clips over HTTP (as an input URL, like a presigned S3 URL)."""
    with serve_directory(clips.vga.parent) as url:
        yield url


@dataclass
class Encodes:
    started: list[Path] = field(default_factory=list)
    finished: list[Path] = field(default_factory=list)


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> Encodes:
    """Every HLS encode the emulator runs from now on (its source path), started and finished."""
    seen = Encodes()
    lock = threading.Lock()
    real = media.transcode_hls
    others_arrived = threading.Event()

    def counting(source: Path, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        with lock:
            seen.started.append(source)
        others_arrived.wait(0.3)  # the other copies arrive while this one encodes
        made = real(source, *args, **kwargs)
        with lock:
            seen.finished.append(source)
        return made

    monkeypatch.setattr(media, "transcode_hls", counting)
    return seen


def create(emu: EmulatorServer, url: str, **extra: Any) -> dict[str, Any]:
    body = {"inputs": [{"url": url}], "playback_policies": ["public"], **extra}
    response = emu.http.post("/video/v1/assets", json=body, auth=(emu.token_id, emu.token_secret))
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def test_identical_inputs_are_encoded_once_and_play_alike(
    emu: EmulatorServer, assets_api: mux_python.AssetsApi, inputs: str, encodes: Encodes
) -> None:
    ids = [create(emu, f"{inputs}/vga.mp4", passthrough=str(i))["id"] for i in range(3)]
    ready = [emu.wait_for_asset_status(asset_id, "ready") for asset_id in ids]

    assert len(encodes.started) == 1  # three assets, one encode (the others waited for it, not for a worker)
    first, *others = (assets_api.get_asset(asset_id).data for asset_id in ids)  # the SDK's models accept them
    for other in others:
        assert (other.duration, other.resolution_tier, other.max_stored_resolution, other.aspect_ratio) == (
            first.duration,
            first.resolution_tier,
            first.max_stored_resolution,
            first.aspect_ratio,
        )
        assert {t.id for t in other.tracks}.isdisjoint({t.id for t in first.tracks})  # each asset its own tracks
    assert first.max_stored_resolution == "SD" and first.resolution_tier == "720p"
    assert [r["status"] for r in ready] == ["ready"] * 3

    # Each plays on its own; deleting one leaves the others' renditions in place.
    playback = [r["playback_ids"][0]["id"] for r in ready]
    master = httpx.get(f"{emu.url}/stream/{playback[1]}.m3u8").text
    assert master.count("#EXT-X-STREAM-INF") == 2  # 480p and 240p: a quality choice
    assets_api.delete_asset(ids[0])
    variant = next(line for line in master.splitlines() if line and not line.startswith("#"))
    playlist = httpx.get(f"{emu.url}/stream/{variant}")
    assert playlist.status_code == 200
    segment = next(line for line in playlist.text.splitlines() if line and not line.startswith("#"))
    assert httpx.get(f"{emu.url}/stream/{variant.rsplit('/', 1)[0]}/{segment}").status_code == 200

    # Another input is encoded anew.
    emu.wait_for_asset_status(create(emu, f"{inputs}/small.mp4")["id"], "ready")
    assert len(encodes.started) == 2


def test_past_assets_keep_their_date_and_send_no_webhooks(
    emu: EmulatorServer, assets_api: mux_python.AssetsApi, inputs: str, receiver: WebhookReceiver
) -> None:
    emu.set_webhook_urls([receiver.url])
    emu.configure(processing_delay=30.0)  # history is not delayed: it was ready long ago
    month_ago = int(time.time()) - 30 * 86_400
    body = [
        {"created_at": month_ago, "inputs": [{"url": f"{inputs}/small.mp4"}], "playback_policies": ["signed"]},
        {
            "created_at": month_ago + 60,
            "direct_upload": True,
            "inputs": [{"url": f"{inputs}/small.mp4"}],
            "playback_policies": ["public"],
            "passthrough": "12",
            "meta": {"title": "Variables", "external_id": "lesson-12"},
        },
    ]
    response = emu.http.post("/_emulator/assets", json=body)
    assert response.status_code == 201, response.text
    migrated, uploaded = response.json()["data"]
    for asset in (migrated, uploaded):
        emu.wait_for_asset_status(asset["id"], "ready", timeout=10)

    listed = assets_api.list_assets().data  # newest first, by creation
    assert [a.id for a in listed] == [uploaded["id"], migrated["id"]]
    assert [int(a.created_at) for a in listed] == [month_ago + 60, month_ago]
    assert listed[1].ingest_type == "on_demand_url" and listed[1].upload_id is None
    assert listed[0].ingest_type == "on_demand_direct_upload" and listed[0].passthrough == "12"
    upload = mux_python.DirectUploadsApi(assets_api.api_client).get_direct_upload(listed[0].upload_id).data
    assert (upload.status, upload.asset_id) == ("asset_created", uploaded["id"])
    assert upload.new_asset_settings.passthrough == "12"
    assert emu.events() == []  # Mux sent those webhooks back then

    # A normal create still waits out processing_delay, without holding a worker: the history is not blocked.
    emu.configure(processing_delay=0.6)
    live = create(emu, f"{inputs}/small.mp4")
    assert emu.wait_for_asset_status(live["id"], "preparing")["status"] == "preparing"
    emu.wait_for_asset_status(live["id"], "ready", timeout=10)
    wait_until(lambda: {e["type"] for e in emu.events()} >= {"video.asset.created", "video.asset.ready"})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"inputs": [{"url": "http://x/a.mp4"}]}, "created_at"),
        ({"created_at": time.time() + 3600, "inputs": [{"url": "http://x/a.mp4"}]}, "future"),
        ({"created_at": 1, "inputs": [{"url": "http://x/a.mp4"}], "direct_upload": "yes"}, "direct_upload"),
        ({"created_at": 1}, "url"),
        ([], "1 to 10,000"),
    ],
)
def test_past_assets_are_checked_before_any_is_made(emu: EmulatorServer, body: Any, fragment: str) -> None:
    good = {"created_at": 1, "inputs": [{"url": "http://x/a.mp4"}]}
    response = emu.http.post("/_emulator/assets", json=[good, body] if isinstance(body, dict) else body)
    assert response.status_code == 400 and fragment in response.text
    assert emu.stats()["assets"]["total"] == 0


def test_a_delayed_asset_is_ready_once_the_clock_passes(emu: EmulatorServer, inputs: str, encodes: Encodes) -> None:
    emu.configure(processing_delay=3600.0)
    asset = create(emu, f"{inputs}/small.mp4")
    wait_until(lambda: encodes.finished, what="the encode")
    # Processed, and held back by the delay (on the emulator's clock, which tests move).
    assert emu.wait_for_asset_status(asset["id"], "preparing")["status"] == "preparing"
    emu.advance_clock(3601)
    emu.wait_for_asset_status(asset["id"], "ready", timeout=10)


def test_aac_lc_audio_is_copied_other_audio_encoded() -> None:
    line = "  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 16000 Hz, mono, fltp, 12 kb/s (default)"
    probe = media.parse_probe("Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x':\n  Duration: 00:00:03.00, start\n" + line)
    assert probe.audio is not None and probe.audio.profile == "LC"
    assert media._copyable(probe.audio)
    he = media.AudioInfo(codec="aac", channels=2, layout="stereo", sample_rate=44100, profile="HE-AAC")
    assert not media._copyable(he)
    assert not media._copyable(media.AudioInfo(codec="mp3", channels=2, layout="stereo", sample_rate=44100))

"""Background asset processing: download (URL inputs), probe, HLS, thumbnail, storyboard, then ready.

A small thread pool, like a transcoding queue: a burst of uploads waits its turn instead of starving
the HTTP server of CPU.
"""

from __future__ import annotations

import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from emulator import lifecycle, media, objects

if TYPE_CHECKING:
    from emulator.runtime import Emulator

log = logging.getLogger("emulator.processing")

_DOWNLOAD_CHUNK = 1 << 20


class DownloadError(Exception):
    pass


def download(url: str, dest: Path, timeout: float) -> None:
    """Stream the input to disk (never whole in memory), like Mux fetching the input URL."""
    partial = dest.with_name(dest.name + ".part")
    try:
        with (
            httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response,
            partial.open("wb") as handle,
        ):
            if response.status_code >= 400:
                raise DownloadError(f"the input URL answered HTTP {response.status_code}")
            for chunk in response.iter_bytes(_DOWNLOAD_CHUNK):
                handle.write(chunk)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"the input URL could not be fetched ({type(exc).__name__})") from exc
    except DownloadError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(dest)


class Processor:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, emu.config.processing_workers), thread_name_prefix="mux-emu-process"
        )

    def submit(self, asset_id: str) -> None:
        if not self._stop.is_set():
            self._pool.submit(self._process_safely, asset_id, self.emu.generation)

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _stale(self, generation: int) -> bool:
        return self._stop.is_set() or generation != self.emu.generation

    def _process_safely(self, asset_id: str, generation: int) -> None:
        try:
            self._process(asset_id, generation)
        except Exception:  # a worker must never die silently; the asset shows the failure instead
            log.exception("processing failed", extra={"asset_id": asset_id})
            if not self._stale(generation):
                lifecycle.mark_errored(
                    self.emu, asset_id, "internal_error", "The emulator failed to process this asset."
                )

    def _process(self, asset_id: str, generation: int) -> None:
        emu = self.emu
        record = emu.store.asset(asset_id)
        if record is None or record.data["status"] != "preparing":
            return
        asset_dir = emu.asset_dir(asset_id)
        asset_dir.mkdir(parents=True, exist_ok=True)
        source = asset_dir / "source"
        if record.input_url and not source.exists():
            try:
                download(record.input_url, source, emu.config.download_timeout)
            except DownloadError as exc:
                if not self._stale(generation):
                    lifecycle.mark_errored(emu, asset_id, "invalid_input", f"Failed to download input file: {exc}")
                return
        if self._stale(generation):
            return
        lifecycle.set_progress(emu, asset_id, "transcoding", 0.0)
        settings = record.input_settings[0] if record.input_settings else {}
        try:
            info = media.probe(source)
            hls_dir = asset_dir / "hls"
            shutil.rmtree(hls_dir, ignore_errors=True)
            cap = objects.TIER_HEIGHTS[record.data["max_resolution_tier"]]
            renditions = media.transcode_hls(source, hls_dir, info, max_height=cap, test=bool(record.data.get("test")))
            duration = min(info.duration, media.TEST_ASSET_MAX_SECONDS) if record.data.get("test") else info.duration
            storyboard = None
            if info.video:
                filters = media.thumbnail_filters(
                    width=None, height=None, fit_mode="preserve", rotate=0, flip_h=False, flip_v=False
                )
                media.make_thumbnail(
                    source, asset_dir / "thumbnail.jpg", at=duration / 2, duration=duration, filters=filters
                )
                storyboard = media.make_storyboard(source, asset_dir / "storyboard.jpg", info, duration)
        except media.MediaError as exc:
            if not self._stale(generation):
                lifecycle.mark_errored(emu, asset_id, "invalid_input", str(exc))
            return
        fields = objects.ready_fields(record.data, info, renditions)
        extras = {
            "renditions": renditions,
            "storyboard": storyboard,
            "has_video": info.video is not None,
            "input_info": objects.input_info(settings, info),
        }
        # Mux keeps an asset `preparing` for a while; apps that assume instant readiness must notice.
        while not self._stale(generation) and emu.clock.now() < record.ready_not_before:
            self._stop.wait(min(0.05, max(0.0, record.ready_not_before - emu.clock.now())))
        if not self._stale(generation):
            lifecycle.mark_ready(emu, asset_id, fields, extras)

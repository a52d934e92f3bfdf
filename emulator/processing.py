"""Background asset processing: download (URL inputs), probe, HLS, thumbnail, storyboard, then ready.

A small thread pool, like a transcoding queue: a burst of uploads waits its turn instead of starving
the HTTP server of CPU. What ffmpeg makes from an input depends only on its bytes and the asset's
resolution cap, so it is kept once per content hash (`<data_dir>/processed/`): an asset whose input is
byte-identical to an earlier one's links to that output instead of encoding it again (a demo migrates
hundreds of lessons made from a handful of files). `processing_delay` is then served by a timer, not by a
worker waiting: assets become ready together instead of a few at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from emulator import lifecycle, media, objects

if TYPE_CHECKING:
    from emulator.runtime import Emulator

log = logging.getLogger("emulator.processing")

_DOWNLOAD_CHUNK = 4 << 20


class DownloadError(Exception):
    pass


def download(url: str, dest: Path, timeout: float, client: httpx.Client | None = None) -> None:
    """Stream the input to disk (never whole in memory), like Mux fetching the input URL.

    A shared `client` saves building a client (and its TLS context) per input: most of a small input's cost.
    """
    partial = dest.with_name(dest.name + ".part")
    try:
        with (
            (client or httpx).stream("GET", url, follow_redirects=True, timeout=timeout) as response,
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


# Bump when ffmpeg settings change, so outputs made the old way are not reused.
CACHE_VERSION = 1
_HASH_CHUNK = 1 << 20
_PENDING_POLL_S = 0.05


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Processed:
    """What ffmpeg made from one input: its probe, renditions, storyboard geometry and the files' folder."""

    directory: Path  # holds source, hls/, thumbnail.jpg and (with video) storyboard.jpg
    info: media.Probe
    renditions: list[dict[str, Any]]
    storyboard: dict[str, Any] | None


def _probe_from_json(raw: dict[str, Any]) -> media.Probe:
    return media.Probe(
        container=raw["container"],
        duration=raw["duration"],
        video=media.VideoInfo(**raw["video"]) if raw.get("video") else None,
        audio=media.AudioInfo(**raw["audio"]) if raw.get("audio") else None,
    )


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link `source` at `target` (same bytes, no copy), replacing `target`; copy across filesystems."""
    temporary = target.with_name(target.name + ".link")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
    temporary.replace(target)


class ProcessedCache:
    """Processed outputs by (content hash, resolution cap, test), made at most once each.

    While one worker makes an entry, assets with the same input wait in `claim`'s list instead of holding a
    worker: the processor submits them again when the entry is there.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._guard = threading.Lock()
        self._making: dict[str, list[str]] = {}  # key -> asset ids waiting for it

    @staticmethod
    def key(source: Path, *, max_height: int, test: bool) -> str:
        return f"{content_hash(source)}-{max_height}{'-test' if test else ''}-v{CACHE_VERSION}"

    def lookup(self, key: str) -> Processed | None:
        entry = self.root / key
        try:
            raw = json.loads((entry / "media.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return Processed(entry, _probe_from_json(raw["info"]), raw["renditions"], raw["storyboard"])

    def claim(self, key: str, asset_id: str) -> bool:
        """True: the caller makes the entry (then calls `release`); False: another worker is, `asset_id` waits."""
        with self._guard:
            if key in self._making:
                self._making[key].append(asset_id)
                return False
            self._making[key] = []
            return True

    def release(self, key: str) -> list[str]:
        """The making of `key` ended (made or failed); returns the assets that waited for it."""
        with self._guard:
            return self._making.pop(key, [])

    def make(self, key: str, source: Path, *, max_height: int, test: bool) -> Processed:
        entry = self.root / key
        self._make(source, entry, max_height=max_height, test=test)
        made = self.lookup(key)
        assert made is not None  # _make wrote media.json or raised
        return made

    def _make(self, source: Path, entry: Path, *, max_height: int, test: bool) -> None:
        """Encode into a scratch folder, then move it into place whole (a crash leaves no half entry)."""
        self.root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=entry.name[:16] + ".", dir=self.root))
        try:
            info = media.probe(source)
            renditions = media.transcode_hls(source, scratch / "hls", info, max_height=max_height, test=test)
            duration = min(info.duration, media.TEST_ASSET_MAX_SECONDS) if test else info.duration
            storyboard = None
            if info.video:
                filters = media.thumbnail_filters(
                    width=None, height=None, fit_mode="preserve", rotate=0, flip_h=False, flip_v=False
                )
                thumbnail = scratch / "thumbnail.jpg"
                media.make_thumbnail(source, thumbnail, at=duration / 2, duration=duration, filters=filters)
                storyboard = media.make_storyboard(source, scratch / "storyboard.jpg", info, duration)
            _link_or_copy(source, scratch / "source")
            meta = {"info": asdict(info), "renditions": renditions, "storyboard": storyboard}
            (scratch / "media.json").write_text(json.dumps(meta), encoding="utf-8")
            shutil.rmtree(entry, ignore_errors=True)
            scratch.rename(entry)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise

    def clear(self) -> None:
        with self._guard:
            shutil.rmtree(self.root, ignore_errors=True)


def place(processed: Processed, asset_dir: Path) -> None:
    """Give an asset the processed files: the same bytes, linked (`hls/` a symlink, files hard links)."""
    hls = asset_dir / "hls"
    if hls.is_symlink() or hls.is_file():
        hls.unlink()
    else:
        shutil.rmtree(hls, ignore_errors=True)
    # Relative, so the data directory can move as a whole.
    hls.symlink_to(os.path.relpath(processed.directory / "hls", asset_dir), target_is_directory=True)
    for name in ("source", "thumbnail.jpg", "storyboard.jpg"):
        if (processed.directory / name).exists():
            _link_or_copy(processed.directory / name, asset_dir / name)


@dataclass
class _Pending:
    generation: int
    not_before: float
    fields: dict[str, Any]
    extras: dict[str, Any]


class Processor:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.cache = ProcessedCache(emu.data_dir / "processed")
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, emu.config.processing_workers), thread_name_prefix="mux-emu-process"
        )
        # Processed assets held `preparing` until their `ready_not_before` (emulator clock, which tests advance).
        self._pending: dict[str, _Pending] = {}
        self._pending_lock = threading.Lock()
        self._timer: threading.Thread | None = None
        self._http = httpx.Client()

    def submit(self, asset_id: str) -> None:
        if not self._stop.is_set():
            self._pool.submit(self._process_safely, asset_id, self.emu.generation)

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._timer is not None:
            self._timer.join(timeout=5)
        self._http.close()

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
                download(record.input_url, source, emu.config.download_timeout, self._http)
            except DownloadError as exc:
                if not self._stale(generation):
                    lifecycle.mark_errored(emu, asset_id, "invalid_input", f"Failed to download input file: {exc}")
                return
        if self._stale(generation):
            return
        lifecycle.set_progress(emu, asset_id, "transcoding", 0.0)
        settings = record.input_settings[0] if record.input_settings else {}
        cap = objects.TIER_HEIGHTS[record.data["max_resolution_tier"]]
        test = bool(record.data.get("test"))
        key = self.cache.key(source, max_height=cap, test=test)
        processed = self.cache.lookup(key)
        if processed is None:
            if not self.cache.claim(key, asset_id):
                return  # another worker is encoding the same input; this asset is submitted again after it
            try:
                processed = self.cache.make(key, source, max_height=cap, test=test)
            except media.MediaError as exc:
                if not self._stale(generation):
                    lifecycle.mark_errored(emu, asset_id, "invalid_input", str(exc))
                return
            finally:
                for waiting in self.cache.release(key):
                    self.submit(waiting)
        if self._stale(generation):
            return
        place(processed, asset_dir)
        info = processed.info
        fields = objects.ready_fields(record.data, info, processed.renditions)
        extras = {
            "renditions": processed.renditions,
            "storyboard": processed.storyboard,
            "has_video": info.video is not None,
            "input_info": objects.input_info(settings, info),
        }
        # Mux keeps an asset `preparing` for a while; apps that assume instant readiness must notice.
        if emu.clock.now() >= record.ready_not_before:
            lifecycle.mark_ready(emu, asset_id, fields, extras)
            return
        with self._pending_lock:
            self._pending[asset_id] = _Pending(generation, record.ready_not_before, fields, extras)
            if self._timer is None:
                self._timer = threading.Thread(target=self._release_loop, name="mux-emu-ready", daemon=True)
                self._timer.start()

    def _release_loop(self) -> None:
        """Mark pending assets ready once the emulator clock passes their `ready_not_before`."""
        while not self._stop.wait(_PENDING_POLL_S):
            now = self.emu.clock.now()
            with self._pending_lock:
                due = {k: p for k, p in self._pending.items() if now >= p.not_before or self._stale(p.generation)}
                for asset_id in due:
                    del self._pending[asset_id]
            for asset_id, pending in due.items():
                if not self._stale(pending.generation):
                    lifecycle.mark_ready(self.emu, asset_id, pending.fields, pending.extras)

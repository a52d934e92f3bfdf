"""Mux Data view exports: `GET /data/v1/exports/views` and the daily files it links to.

What Mux documents (docs/emulator.md cites the sources): an account on a plan with exports gets one
gzipped CSV file per UTC day holding every view of that day with every field Mux collects, named by the
*export* column names (`browser`, `operating_system`, `country`, `error_type`, `rebuffer_count` ... not
the Data API's `viewer_application_name` ...); which columns a file has depends on its export `version`
(from version 2 on sorted alphabetically; readers must go by header name). Files stay downloadable for
seven days after they are generated; the listing is `{"data": [{"export_date", "files": [{"version",
"type": "csv", "path"}]}], "total_row_count", "timeframe"}`, newest first, where `path` is a signed S3
URL fetched without Mux credentials.

Here a day's file holds the views whose `view_end` falls in that UTC day (our choice: Mux does not say
which timestamp assigns a view to a day), with the same values get-video-view returns for them. It is
built on first download from the columnar store (vectorised: a day of 150,000 views takes about a
second), cached under the emulator's data directory and keyed by a fingerprint of the rows it holds,
which is also its ETag: the same day asked again costs nothing, a day whose views changed (a simulation
appended some) is rebuilt, and `If-None-Match` answers 304 without building anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from emulator.data import catalog
from emulator.data.store import (
    FLAG_EXIT_BEFORE_START,
    FLAG_PLAYBACK_FAILURE,
    FLAG_SECOND_DEVICE,
    FLAG_STARTUP_FAILURE,
    VES_SCALE,
    ViewStore,
    mix64_many,
)
from emulator.data.views import TIER_BITRATE, player_startup_many

DAY_S = 86_400
LATEST_VERSION = 14  # the newest export version Mux's field table describes (video_cdn_trace)
FILE_FORMAT = 3  # bump when the bytes of a file change for the same rows, so cached files are rebuilt

# Export columns the emulator fills, with the export version that introduced each (Mux's field table).
# Columns it never has a value for (asn, city, cdn, ad metrics, request metrics ...) are left out rather
# than written empty; readers select by name either way.
SINCE: dict[str, int] = {
    "asset_id": 4,
    "browser": 2,
    "country": 2,
    "environment_id": 4,
    "error_type": 2,
    "exit_before_video_start": 1,
    "max_downscale_percentage": 2,
    "max_upscale_percentage": 2,
    "mux_api_version": 1,
    "mux_embed_version": 1,
    "mux_viewer_id": 1,
    "operating_system": 2,
    "playback_failure_error_type_id": 9,
    "playback_id": 4,
    "playback_success_score": 2,
    "player_autoplay": 1,
    "player_captions_enabled": 13,
    "player_error_code": 1,
    "player_error_message": 1,
    "player_mux_plugin_name": 1,
    "player_mux_plugin_version": 2,
    "player_name": 1,
    "player_pip_enabled": 13,
    "player_preload": 1,
    "player_remote_played": 2,
    "player_software": 1,
    "player_software_version": 1,
    "player_source_duration": 1,
    "player_source_stream_type": 1,
    "player_source_url": 1,
    "player_startup_time": 1,
    "player_version": 1,
    "player_view_count": 1,
    "property_id": 1,
    "rebuffer_count": 2,
    "rebuffer_duration": 2,
    "rebuffer_percentage": 1,
    "session_id": 1,
    "source_hostname": 2,
    "source_type": 2,
    "startup_time_score": 2,
    "stream_type": 2,
    "used_fullscreen": 1,
    "video_cdn_trace": 14,
    "video_content_type": 1,
    "video_duration": 1,
    "video_id": 1,
    "video_startup_failure": 7,
    "video_startup_time": 2,
    "video_title": 1,
    "view_dropped": 11,
    "view_content_startup_time": 10,
    "view_end": 1,
    "view_has_ad": 6,
    "view_id": 1,
    "view_max_playhead_position": 3,
    "view_playing_time": 3,
    "view_seek_count": 1,
    "view_seek_duration": 1,
    "view_start": 1,
    "view_total_content_playback_time": 1,
    "view_total_downscaling": 1,
    "view_total_upscaling": 1,
    "viewer_device_category": 1,
    "viewer_experience_score": 2,
    "viewer_user_id": 1,
    "watch_time": 1,
    "watched": 1,
    "weighted_average_bitrate": 2,
}

# Values every emulated view shares (as get-video-view reports them).
CONSTANTS: dict[str, Any] = {
    "max_downscale_percentage": "0",
    "max_upscale_percentage": "0",
    "mux_api_version": "v1",
    "mux_embed_version": "5.9.0",
    "player_autoplay": False,
    "player_captions_enabled": False,
    "player_mux_plugin_name": "mux-player",
    "player_mux_plugin_version": "3.1.0",
    "player_pip_enabled": False,
    "player_preload": False,
    "player_remote_played": False,
    "player_software": "mux-player",
    "player_software_version": "3.1.0",
    "player_source_stream_type": "on-demand",
    "player_version": "1.0.0",
    "player_view_count": 1,  # Mux: "equal to 1 in Full Exports (1 line = 1 video view)"
    "property_id": 1,
    "source_hostname": "stream.mux.com",
    "source_type": "application/x-mpegURL",
    "stream_type": "on-demand",
    "video_cdn_trace": None,  # every emulated view has an empty CDN trace
    "video_content_type": "lesson",
    "view_dropped": False,
    "view_has_ad": False,
    "view_total_downscaling": "0",
    "view_total_upscaling": "0",
}


def columns_for(version: int) -> list[str]:
    """The columns a file of `version` has, alphabetically (Mux's order from version 2 on)."""
    return sorted(name for name, since in SINCE.items() if since <= version)


# -- listing --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSettings:
    enabled: bool
    version: int
    days: int  # how long a file stays listed after it is generated (Mux: seven days)
    delay_s: float  # how long after a day ends its file appears
    url_ttl_s: float
    environment_id: str
    base_url: str
    secret: str


def listed_days(now_s: float, days: int, delay_s: float) -> list[date]:
    """UTC days whose file exists at `now`: generated `delay_s` after the day ended, kept `days` days; newest first."""
    today = int(now_s // DAY_S)
    out: list[date] = []
    for back in range(1, days + 2):
        day = today - back
        generated = (day + 1) * DAY_S + delay_s
        if generated <= now_s < generated + days * DAY_S:
            out.append(date(1970, 1, 1) + timedelta(days=day))
    return out


def signature(secret: str, environment_id: str, day: date, version: int, expires: int) -> str:
    message = f"views|{environment_id}|{day.isoformat()}|{version}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def file_url(cfg: ExportSettings, day: date, now_s: float) -> str:
    expires = int(now_s + cfg.url_ttl_s)
    sig = signature(cfg.secret, cfg.environment_id, day, cfg.version, expires)
    name = day.strftime("%Y_%m_%d")
    return (
        f"{cfg.base_url}/_exports/views/{cfg.environment_id}/{name}.csv.gz"
        f"?version={cfg.version}&expires={expires}&signature={sig}"
    )


def listing(cfg: ExportSettings, now_s: float) -> dict[str, Any]:
    days = listed_days(now_s, cfg.days, cfg.delay_s)
    data = [
        {
            "export_date": day.isoformat(),
            "files": [{"version": cfg.version, "type": "csv", "path": file_url(cfg, day, now_s)}],
        }
        for day in days
    ]
    return {"data": data, "total_row_count": len(data), "timeframe": [int(now_s) - DAY_S, int(now_s)]}


def parse_file_name(name: str) -> date | None:
    """`2025_03_10.csv.gz` -> the day, else None."""
    stem = name.removesuffix(".csv.gz")
    if stem == name:
        return None
    try:
        return datetime.strptime(stem, "%Y_%m_%d").date()
    except ValueError:
        return None


# -- the file ---------------------------------------------------------------------------------------------

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_SHIFTS = np.arange(60, -4, -4, dtype=np.int64).astype(np.uint64)


def _hex64(values: np.ndarray) -> np.ndarray:
    """uint64 values -> (n, 16) ASCII hex digits, most significant first."""
    return _HEX[((values[:, None] >> _SHIFTS) & np.uint64(15)).astype(np.intp)]


def _dashed(high: np.ndarray, low: np.ndarray, *, uuid4: bool) -> pa.Array:
    """Two 64-bit words as `8-4-4-4-12` text: the same strings as views.py / store.py format one by one."""
    n = len(high)
    text = np.concatenate([_hex64(high), _hex64(low)], axis=1)
    if uuid4:  # store.uuid4_text stamps the version and variant nibbles
        text[:, 12] = ord("4")
        text[:, 16] = ord("a")
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = text[:, 0:8]
    out[:, 9:13] = text[:, 8:12]
    out[:, 14:18] = text[:, 12:16]
    out[:, 19:23] = text[:, 16:20]
    out[:, 24:36] = text[:, 20:32]
    return _fixed_width(out)


def _fixed_width(chars: np.ndarray) -> pa.Array:
    """(n, w) ASCII bytes -> a string array of n values of width w, without a Python object per value."""
    n, width = chars.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars).tobytes()))


def _iso(seconds: np.ndarray) -> pa.Array:
    """Epoch seconds as `2025-03-10T14:05:35Z`, the Data API's format (views.iso)."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").astype("S19")
    chars = np.full((len(seconds), 20), ord("Z"), dtype=np.uint8)
    chars[:, :19] = text.view(np.uint8).reshape(-1, 19)
    return _fixed_width(chars)


def csv_field(value: str) -> str:
    """A CSV field: quoted, with inner quotes doubled, only when it holds a comma, a quote or a line break."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _lookup(indices: np.ndarray, values: list[Any], type_: pa.DataType) -> pa.Array:
    """values[indices] for a small table of values (lessons, profiles, countries), text already CSV-quoted.

    Every text column of a file comes from such a table (or is hex ids and timestamps, which never need
    quotes), so quoting happens once per distinct value instead of once per row.
    """
    if not values:
        return pa.nulls(len(indices), type_)
    if pa.types.is_string(type_):
        values = [csv_field(v) if isinstance(v, str) else v for v in values]
    dictionary = pa.array(values, type=type_)
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), dictionary).dictionary_decode()


def _score_text(value: float, digits: int) -> str:
    return str(round(value, digits))


class _Day:
    """The rows of one export file, with the values get-video-view computes, column by column."""

    def __init__(self, store: ViewStore, lo: int, hi: int, environment_id: str) -> None:
        self.store = store
        self.rows = slice(lo, hi)
        self.n = hi - lo
        self.environment_id = environment_id
        self.c = {name: store[name][lo:hi] for name in store.columns}
        self.started = self.c["startup_ms"] > 0
        self.flags = self.c["flags"]
        self.error = self.c["error"].astype(np.int64)

    def _bool(self, mask: np.ndarray) -> pa.Array:
        return pa.array(mask, type=pa.bool_())

    def _lesson(self, attribute: Callable[[Any], Any], type_: pa.DataType) -> pa.Array:
        return _lookup(self.c["lesson"], [attribute(lesson) for lesson in self.store.lessons], type_)

    def _profile(self, attribute: str) -> pa.Array:
        return _lookup(self.c["profile"], [getattr(p, attribute) for p in catalog.PROFILES], pa.string())

    def _error(self, attribute: str, type_: pa.DataType) -> pa.Array:
        # Index 0 = no error; the store keeps error + 1.
        values = [None, *[getattr(e, attribute) for e in catalog.ERRORS]]
        return _lookup(self.error, values, type_)

    def _startup_score(self) -> pa.Array:
        startup = self.c["startup_ms"].astype(np.int64)
        uniques, inverse = np.unique(startup, return_inverse=True)
        texts = [
            _score_text(1.0 / (1.0 + (int(s) / 4000.0) ** 1.5), 3) if s > 0 else _score_text(1.0, 3) for s in uniques
        ]
        return _lookup(inverse, texts, pa.string())

    def _rebuffer_percentage(self) -> pa.Array:
        rebuf, watch = self.c["rebuf_ms"].tolist(), self.c["watch_ms"].tolist()
        return pa.array(
            [
                "0" if w == 0 else ("0.0" if b == 0 else _score_text(b / w, 6))
                for b, w in zip(rebuf, watch, strict=True)
            ],
            type=pa.string(),
        )

    def _bitrate(self) -> pa.Array:
        lesson_rate = np.array(
            [float(TIER_BITRATE.get(lesson.resolution_tier, 4_800_000)) for lesson in self.store.lessons] or [0.0]
        )
        lesson_audio = np.array([lesson.resolution_tier == "audio-only" for lesson in self.store.lessons] or [False])
        phone = np.array([p.device == "phone" for p in catalog.PROFILES])[self.c["profile"]]
        lesson = self.c["lesson"]
        rate = np.where(phone & ~lesson_audio[lesson], float(TIER_BITRATE["720p"]), lesson_rate[lesson])
        return pa.array(rate, type=pa.float64(), mask=~self.started)

    def _duration_ms(self) -> pa.Array:
        return self._lesson(lambda lesson: round(lesson.duration_s * 1000), pa.int64())

    def column(self, name: str) -> pa.Array:
        c, store = self.c, self.store
        if name in CONSTANTS:
            value = CONSTANTS[name]
            if value is None:
                return pa.nulls(self.n, pa.string())
            return pa.repeat(pa.scalar(csv_field(value) if isinstance(value, str) else value), self.n)
        serial = c["serial"].astype(np.uint64)
        salt = np.uint64(store.salt)
        builders: dict[str, Callable[[], pa.Array]] = {
            "asset_id": lambda: self._lesson(lambda lesson: lesson.asset_id, pa.string()),
            "browser": lambda: self._profile("browser"),
            "country": lambda: _lookup(c["country"], [x.code for x in catalog.COUNTRIES], pa.string()),
            "environment_id": lambda: pa.repeat(pa.scalar(csv_field(self.environment_id)), self.n),
            "error_type": lambda: self._error("type_id", pa.int64()),
            "exit_before_video_start": lambda: self._bool((self.flags & FLAG_EXIT_BEFORE_START) > 0),
            "mux_viewer_id": lambda: self._mux_viewer_id(),
            "operating_system": lambda: self._profile("os"),
            "playback_failure_error_type_id": lambda: self._error("type_id", pa.int64()),
            "playback_id": lambda: self._lesson(lambda lesson: lesson.playback_id, pa.string()),
            "playback_success_score": lambda: pa.array(
                np.where((self.flags & FLAG_PLAYBACK_FAILURE) > 0, "0.0", np.where(self.started, "1.0", "0.5")),
                type=pa.string(),
            ),
            "player_error_code": lambda: self._error("code", pa.string()),
            "player_error_message": lambda: self._error("message", pa.string()),
            "player_name": lambda: self._profile("player"),
            "player_source_duration": self._duration_ms,
            "player_source_url": lambda: self._lesson(
                lambda lesson: f"https://stream.mux.com/{lesson.playback_id}.m3u8" if lesson.playback_id else None,
                pa.string(),
            ),
            "rebuffer_count": lambda: pa.array(c["rebuf_count"], type=pa.int64()),
            "rebuffer_duration": lambda: pa.array(c["rebuf_ms"], type=pa.int64()),
            "rebuffer_percentage": self._rebuffer_percentage,
            "session_id": lambda: _dashed(
                mix64_many(salt ^ serial ^ np.uint64(0x5E55)), mix64_many(serial), uuid4=True
            ),
            "startup_time_score": self._startup_score,
            "used_fullscreen": lambda: self._bool((mix64_many(salt ^ serial) & np.uint64(1)) > 0),
            "video_duration": self._duration_ms,
            "video_id": lambda: self._lesson(lambda lesson: lesson.video_id, pa.string()),
            "video_startup_failure": lambda: self._bool((self.flags & FLAG_STARTUP_FAILURE) > 0),
            # The export's name for the view's time_to_first_frame (Mux's field table: "video_startup_time").
            "video_startup_time": lambda: pa.array(c["startup_ms"], type=pa.int64(), mask=~self.started),
            "view_content_startup_time": lambda: pa.array(c["startup_ms"], type=pa.int64(), mask=~self.started),
            "player_startup_time": lambda: pa.array(player_startup_many(store, c["serial"]), type=pa.int64()),
            "video_title": lambda: self._lesson(lambda lesson: lesson.title, pa.string()),
            "view_end": lambda: _iso(c["end_ms"] // 1000),
            # The UUID view_id (get-video-view's `view_id`); the files carry no opaque `id`.
            "view_id": lambda: _dashed(*store.view_id_words(self.rows), uuid4=True),
            "view_max_playhead_position": lambda: pa.array(c["playhead_ms"], type=pa.int64()),
            "view_playing_time": lambda: pa.array(c["playing_ms"], type=pa.int64()),
            "view_seek_count": lambda: pa.array(c["seeks"], type=pa.int64()),
            "view_seek_duration": lambda: pa.array(c["seeks"].astype(np.int64) * 250, type=pa.int64()),
            "view_start": lambda: _iso((c["end_ms"] - c["wall_ms"].astype(np.int64)) // 1000),
            "view_total_content_playback_time": lambda: pa.array(c["playing_ms"], type=pa.int64()),
            "viewer_device_category": lambda: self._profile("device"),
            "viewer_experience_score": lambda: _lookup(
                c["ves"], [_score_text(i / VES_SCALE, 3) for i in range(256)], pa.string()
            ),
            "viewer_user_id": lambda: _lookup(c["viewer"], store.viewers, pa.string()),
            "watch_time": lambda: pa.array(c["watch_ms"], type=pa.int64()),
            "watched": lambda: self._bool(c["playing_ms"] > 0),
            "weighted_average_bitrate": self._bitrate,
        }
        return builders[name]()

    def _mux_viewer_id(self) -> pa.Array:
        salt = np.uint64(self.store.salt)
        key = (self.c["viewer"].astype(np.uint64) << np.uint64(1)) | ((self.flags & FLAG_SECOND_DEVICE) > 0).astype(
            np.uint64
        )
        return _dashed(mix64_many(salt ^ key), mix64_many(salt + key), uuid4=True)

    def table(self, version: int) -> pa.Table:
        names = columns_for(version)
        return pa.table([self.column(name) for name in names], names=names)


def csv_lines(table: pa.Table) -> pa.Array:
    """One CSV line (with its newline) per row: text arrives quoted by `_lookup`; NULL is an empty field."""
    columns = []
    for column in table.columns:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        columns.append(array if pa.types.is_string(array.type) else pc.cast(array, pa.string()))
    rows = pc.binary_join_element_wise(*columns, ",", null_handling="replace", null_replacement="")
    return pc.binary_join_element_wise(rows, "", "\n")


def _text_bytes(lines: pa.Array) -> memoryview:
    """The characters of a string array, back to back (its data buffer between the first and last offsets)."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


BATCH_ROWS = 32_768


def write_file(store: ViewStore, lo: int, hi: int, version: int, environment_id: str, path: Path) -> int:
    """Write the day's rows [lo, hi) as Mux's gzipped CSV, atomically; returns the row count.

    Rows are rendered a batch at a time (Arrow's string kernels) while the previous batch is gzipped on a
    second thread (zlib releases the GIL); level 1, since the emulator's time matters more than bytes. zlib
    writes gzip's mtime as 0, so the same rows give byte-identical files.
    """
    table = _Day(store, lo, hi, environment_id).table(version)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle, ThreadPoolExecutor(1, thread_name_prefix="export-gzip") as gzip:
            packer = zlib.compressobj(1, zlib.DEFLATED, 31)

            def pack(data: bytes | memoryview) -> None:
                handle.write(packer.compress(data))

            # One thread, in submission order: the compressor sees the batches in file order.
            pending = [gzip.submit(pack, (",".join(table.column_names) + "\n").encode())]
            for start in range(0, table.num_rows, BATCH_ROWS):
                lines = csv_lines(table.slice(start, BATCH_ROWS))
                pending.append(gzip.submit(pack, _text_bytes(lines)))  # the view keeps `lines` alive
                while len(pending) > 2:  # at most two rendered batches wait in memory
                    pending.pop(0).result()
            for future in pending:
                future.result()
            handle.write(packer.flush())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return int(table.num_rows)


@dataclass(frozen=True)
class ExportFile:
    path: Path
    etag: str
    rows: int


class ExportFiles:
    """Built files under `root`, one per (day, version, fingerprint); stale ones are deleted when replaced."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._building: dict[Path, threading.Lock] = {}
        self._fingerprints: dict[tuple[int, date, int, str], str] = {}

    def fingerprint(self, store: ViewStore, day: date, version: int, environment_id: str) -> str:
        """A hash of everything the file is made of: its rows, ids' salt, the videos and viewers they name."""
        key = (store.token, day, version, environment_id)
        with self._lock:
            known = self._fingerprints.get(key)
        if known is not None:
            return known
        lo, hi = day_bounds(store, day)
        digest = hashlib.blake2b(digest_size=16)
        digest.update(json.dumps([FILE_FORMAT, version, environment_id, store.salt, day.isoformat()]).encode())
        for name in sorted(store.columns):
            digest.update(store[name][lo:hi].tobytes())
        lessons = np.unique(store["lesson"][lo:hi])
        digest.update(json.dumps([asdict(store.lessons[int(i)]) for i in lessons]).encode())
        viewers = np.unique(store["viewer"][lo:hi])
        digest.update("\0".join(store.viewers[int(i)] for i in viewers).encode())
        value = digest.hexdigest()
        with self._lock:
            if len(self._fingerprints) > 1024:  # stores come and go with simulations; keep this bounded
                self._fingerprints.clear()
            self._fingerprints[key] = value
        return value

    def get(self, store: ViewStore, day: date, version: int, environment_id: str) -> ExportFile:
        etag = self.fingerprint(store, day, version, environment_id)
        path = self.root / f"{day:%Y_%m_%d}.v{version}.{etag}.csv.gz"
        with self._lock:
            building = self._building.setdefault(path, threading.Lock())
        with building:  # concurrent downloads of a new file build it once
            if not path.exists():
                lo, hi = day_bounds(store, day)
                write_file(store, lo, hi, version, environment_id, path)
                for stale in self.root.glob(f"{day:%Y_%m_%d}.*.csv.gz"):
                    if stale != path:
                        stale.unlink(missing_ok=True)
        lo, hi = day_bounds(store, day)
        return ExportFile(path=path, etag=etag, rows=hi - lo)


def day_bounds(store: ViewStore, day: date) -> tuple[int, int]:
    """Rows whose view_end falls in the UTC day (the day is over, so every one of them is visible)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return store.bounds(start, start + DAY_S, start + DAY_S)

"""Columnar store of simulated views, sorted by `view_end` so a timeframe is two binary searches.

One numpy array per field in the narrowest dtype that holds it; strings are codes into small tables
(lessons, viewers, and the fixed vocabularies in `catalog`). A store is immutable once built: a new
simulation builds a new store and the service swaps the reference, so readers never lock and never see
a half-built store. View ids are not stored. A view has two, as on Mux: `id`, the opaque id the views
list returns and get-video-view takes, is a keyed, reversible scramble of the row's serial number plus
check words, written in base 62 (so a GET finds the row without an index); `view_id`, the UUID the full
view and the export files carry, is a keyed hash of the serial number. Both survive merges (a row keeps
its serial) and cost no memory.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emulator.data import catalog

COLUMNS: dict[str, type[np.generic]] = {
    "end_ms": np.int64,  # view_end, epoch milliseconds (the sort key)
    "wall_ms": np.uint32,  # view_end - view_start (includes pauses)
    "lesson": np.uint16,  # index into ViewStore.lessons
    "viewer": np.uint32,  # index into ViewStore.viewers
    "profile": np.uint8,  # index into catalog.PROFILES (device, OS, browser, player)
    "country": np.uint8,  # index into catalog.COUNTRIES
    "playing_ms": np.uint32,  # view_playing_time
    "watch_ms": np.uint32,  # watch_time
    "playhead_ms": np.uint32,  # view_max_playhead_position
    "startup_ms": np.uint16,  # time_to_first_frame (export: video_startup_time); 0 when it never started
    "rebuf_count": np.uint16,
    "rebuf_ms": np.uint32,
    "seeks": np.uint8,
    "flags": np.uint8,  # FLAG_* bits
    "error": np.uint8,  # 0 = none, else index into catalog.ERRORS + 1
    "ves": np.uint8,  # viewer_experience_score * VES_SCALE
    "serial": np.uint32,  # creation number: the id is derived from it
}

FLAG_PLAYBACK_FAILURE = 1
FLAG_STARTUP_FAILURE = 2
FLAG_EXIT_BEFORE_START = 4
FLAG_SECOND_DEVICE = 8  # the viewer's other device (another mux_viewer_id)
FLAG_RESUMED = 16  # started part-way (a revisit)
VES_SCALE = 250.0
FORMAT_VERSION = 1
MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Lesson:
    """One simulated video: what the player reports (video_id, title) and the asset behind it."""

    video_id: str
    title: str
    asset_id: str
    playback_id: str | None
    duration_s: float
    resolution_tier: str
    video_quality: str
    created_at: str
    passthrough: str | None
    course: str
    position: int


def mix64(value: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread 64-bit hash."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def mix64_many(values: np.ndarray) -> np.ndarray:
    """`mix64` over a uint64 array (numpy's uint64 arithmetic wraps exactly like the masked version)."""
    v = values.astype(np.uint64, copy=True) + np.uint64(0x9E3779B97F4A7C15)
    v = (v ^ (v >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    v = (v ^ (v >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return v ^ (v >> np.uint64(31))


def _feistel(block: int, key: int, rounds: range) -> int:
    left, right = block >> 32, block & 0xFFFFFFFF
    for r in rounds:
        left, right = right, left ^ (mix64(right ^ (key + r)) & 0xFFFFFFFF)
    return (left << 32) | right


def _unfeistel(block: int, key: int, rounds: range) -> int:
    left, right = block >> 32, block & 0xFFFFFFFF
    for r in reversed(rounds):
        left, right = right ^ (mix64(left ^ (key + r)) & 0xFFFFFFFF), left
    return (left << 32) | right


_ROUNDS = range(4)
_tokens = itertools.count(1)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_INDEX = {c: i for i, c in enumerate(_BASE62)}
OPAQUE_ID_LENGTH = 34  # the length of the view ids in Mux's own examples ("k8n4aklUyrRDekILDWta1qSJqNFpYB7N50")
_VIEW_UUID_TAG = 0x76_69_65_77_5F_69_64_00  # keys the view_id hash apart from session ids and viewer ids
_VIEW_UUID_TAG2 = 0x55_55_49_44_5F_6C_6F_77


def _base62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(_BASE62[digit])
    return "".join(reversed(out))


def _unbase62(text: str) -> int | None:
    value = 0
    for c in text:
        digit = _BASE62_INDEX.get(c)
        if digit is None:
            return None
        value = value * 62 + digit
    return value


def uuid4_text(high: int, low: int) -> str:
    """Two 64-bit words as a version-4 UUID string (version and variant nibbles stamped)."""
    text = f"{high & MASK64:016x}{low & MASK64:016x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"


class ViewStore:
    def __init__(self, columns: dict[str, np.ndarray], lessons: list[Lesson], viewers: list[str], salt: int) -> None:
        missing = set(COLUMNS) - set(columns)
        if missing:
            raise ValueError(f"missing columns: {', '.join(sorted(missing))}")
        self.columns = {name: np.ascontiguousarray(columns[name], dtype=dtype) for name, dtype in COLUMNS.items()}
        self.n = len(self.columns["end_ms"])
        self.lessons = lessons
        self.viewers = viewers
        self.salt = salt & MASK64
        # Caches key on this, never on id(): a freed store's id can be reused by the next one.
        self.token = next(_tokens)
        for array in self.columns.values():
            array.flags.writeable = False
        # Derived lookups, each tiny (per lesson / per asset), built once.
        self.asset_ids: list[str] = list(dict.fromkeys(lesson.asset_id for lesson in lessons))
        asset_index = {asset_id: i for i, asset_id in enumerate(self.asset_ids)}
        self.lesson_asset = np.array([asset_index[lesson.asset_id] for lesson in lessons], dtype=np.int32)
        self._viewer_index: dict[str, int] | None = None
        self._row_of_serial: np.ndarray | None = None
        serial = self.columns["serial"]
        self._serial_is_row = self.n == 0 or bool(
            serial[0] == 0 and serial[-1] == self.n - 1 and np.all(serial[1:] > serial[:-1])
        )

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @classmethod
    def empty(cls) -> ViewStore:
        return cls({name: np.empty(0, dtype=dtype) for name, dtype in COLUMNS.items()}, [], [], 0)

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for array in self.columns.values())

    # -- time ----------------------------------------------------------------------------------

    def bounds(self, start_s: float, end_s: float, now_s: float) -> tuple[int, int]:
        """Rows whose view_end is in [start, end) and not after now (Mux only knows finished views)."""
        end_ms = self.columns["end_ms"]
        stop = min(end_s * 1000.0, now_s * 1000.0 + 1)
        lo = int(np.searchsorted(end_ms, int(np.ceil(start_s * 1000.0)), side="left"))
        hi = int(np.searchsorted(end_ms, int(np.ceil(stop)), side="left"))
        return lo, max(lo, hi)

    def visible(self, now_s: float) -> int:
        """Number of rows whose view has ended by `now`."""
        return int(np.searchsorted(self.columns["end_ms"], int(now_s * 1000.0), side="right"))

    # -- ids -----------------------------------------------------------------------------------

    def _block(self, row: int) -> int:
        serial = int(self.columns["serial"][row])
        return _feistel(((self.salt & 0xFFFFFFFF) << 32) | serial, self.salt, _ROUNDS)

    def opaque_id(self, row: int) -> str:
        """Mux's `id` of the view: what the list returns and `GET /data/v1/video-views/{id}` takes.

        Base 62 of the scrambled serial (64 bits) and two check words (64 + 72 bits), 34 characters like
        the ids in Mux's examples; `row_of_id` reverses it and rejects any other string.
        """
        block = self._block(row)
        check = mix64(block ^ self.salt)
        tail = mix64(check ^ block ^ _VIEW_UUID_TAG2) & ((1 << 72) - 1)
        return _base62((block << 136) | (check << 72) | tail, OPAQUE_ID_LENGTH)

    def view_id(self, row: int) -> str:
        """The view's `view_id`: a UUID (version 4 shape), keyed hash of the serial; not a GET key."""
        serial = int(self.columns["serial"][row])
        high = mix64(self.salt ^ serial ^ _VIEW_UUID_TAG)
        return uuid4_text(high, mix64(high ^ serial ^ _VIEW_UUID_TAG2))

    def view_id_words(self, rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two 64-bit words of `view_id` for many rows at once (bulk exports format them as a UUID)."""
        serial = self.columns["serial"][rows].astype(np.uint64)
        high = mix64_many(np.uint64(self.salt) ^ serial ^ np.uint64(_VIEW_UUID_TAG))
        return high, mix64_many(high ^ serial ^ np.uint64(_VIEW_UUID_TAG2))

    def row_of_id(self, opaque_id: str) -> int | None:
        """The row of an opaque `id`, or None for anything else (a view_id UUID included: Mux GETs by `id`)."""
        if len(opaque_id) != OPAQUE_ID_LENGTH:
            return None
        value = _unbase62(opaque_id)
        if value is None or value >> 200:
            return None
        block, check, tail = value >> 136, (value >> 72) & MASK64, value & ((1 << 72) - 1)
        if block > MASK64 or mix64(block ^ self.salt) != check:
            return None
        if mix64(check ^ block ^ _VIEW_UUID_TAG2) & ((1 << 72) - 1) != tail:
            return None
        plain = _unfeistel(block, self.salt, _ROUNDS)
        if plain >> 32 != self.salt & 0xFFFFFFFF:
            return None
        serial = plain & 0xFFFFFFFF
        if serial >= self.n:
            return None
        if self._serial_is_row:
            return serial
        if self._row_of_serial is None:
            inverse = np.empty(self.n, dtype=np.uint32)
            inverse[self.columns["serial"]] = np.arange(self.n, dtype=np.uint32)
            self._row_of_serial = inverse
        return int(self._row_of_serial[serial])

    def viewer_index(self) -> dict[str, int]:
        if self._viewer_index is None:
            self._viewer_index = {viewer: i for i, viewer in enumerate(self.viewers)}
        return self._viewer_index

    # -- combining -----------------------------------------------------------------------------

    def merged_with(self, other: ViewStore) -> ViewStore:
        """This store plus `other`'s views (ids of existing views stay the same)."""
        if self.n == 0:
            return other
        lessons = list(self.lessons)
        lesson_key = {(lesson.video_id, lesson.asset_id): i for i, lesson in enumerate(lessons)}
        lesson_map = np.empty(max(1, len(other.lessons)), dtype=np.int64)
        for i, lesson in enumerate(other.lessons):
            key = (lesson.video_id, lesson.asset_id)
            if key not in lesson_key:
                lesson_key[key] = len(lessons)
                lessons.append(lesson)
            lesson_map[i] = lesson_key[key]
        if len(lessons) > np.iinfo(np.uint16).max:
            raise ValueError("too many distinct videos in one store")
        viewers = list(self.viewers)
        viewer_key = dict(self.viewer_index())
        viewer_map = np.empty(max(1, len(other.viewers)), dtype=np.int64)
        for i, viewer in enumerate(other.viewers):
            if viewer not in viewer_key:
                viewer_key[viewer] = len(viewers)
                viewers.append(viewer)
            viewer_map[i] = viewer_key[viewer]
        if self.n + other.n > np.iinfo(np.uint32).max:
            raise ValueError("a store holds at most 4,294,967,295 views")
        incoming = dict(other.columns)
        incoming["lesson"] = lesson_map[other["lesson"]]
        incoming["viewer"] = viewer_map[other["viewer"]]
        incoming["serial"] = other["serial"].astype(np.int64) + self.n
        order = np.argsort(np.concatenate([self["end_ms"], other["end_ms"]]), kind="stable")
        columns = {}
        for name, dtype in COLUMNS.items():
            joined = np.concatenate([self[name].astype(dtype, copy=False), incoming[name].astype(dtype, copy=False)])
            columns[name] = joined[order]
            del joined
        return ViewStore(columns, lessons, viewers, self.salt)

    # -- persistence ---------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file behind."""
        meta = {
            "version": FORMAT_VERSION,
            "catalog": catalog_fingerprint(),
            "salt": self.salt,
            "lessons": [asdict(lesson) for lesson in self.lessons],
            "viewers": self.viewers,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                # mypy matches **self.columns against savez's `allow_pickle: bool` keyword too.
                np.savez(handle, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **self.columns)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> ViewStore | None:
        """The saved store, or None when the file is missing or from another format/catalog."""
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as archive:
            meta: dict[str, Any] = json.loads(archive["meta"].tobytes().decode())
            if meta.get("version") != FORMAT_VERSION or meta.get("catalog") != catalog_fingerprint():
                return None
            columns = {name: archive[name] for name in COLUMNS}
        lessons = [Lesson(**lesson) for lesson in meta["lessons"]]
        return cls(columns, lessons, list(meta["viewers"]), int(meta["salt"]))


def catalog_fingerprint() -> str:
    """Codes in a saved store index the catalog tables; a changed catalog invalidates old files."""
    names = [
        [(p.device, p.os, p.browser, p.player) for p in catalog.PROFILES],
        [c.code for c in catalog.COUNTRIES],
        [e.code for e in catalog.ERRORS],
    ]
    return hashlib.sha256(json.dumps(names).encode()).hexdigest()[:16]

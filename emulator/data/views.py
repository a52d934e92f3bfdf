"""Rows of the store as Mux JSON: AbridgedVideoView (list items) and VideoView (get one view).

Types follow mux-python 5.x models: several numeric-looking VideoView fields are strings
(`view_playing_time`, `view_max_playhead_position`, `rebuffer_percentage`, `viewer_experience_score`,
the `*_score` fields), while `watch_time`, `video_duration`, `time_to_first_frame`, `buffering_*` are ints.
Only the rows of a page are materialised.

Identity as on Mux (mux-python's `VideoView`/`AbridgedVideoView`): a list item carries only `id` (opaque);
the full view carries `id` and `view_id` (a UUID, the export files' key), and get-video-view takes `id`.
Startup times as on Mux: `time_to_first_frame` (play requested -> first frame; the export files call it
`video_startup_time`), `view_content_startup_time` (the same up to the first *content* frame, so equal
here: no emulated view has a preroll ad) and `player_startup_time` (player init -> ready, a few hundred
ms, for every view, also those that never started). A view has no `video_startup_time` key: that name
is a metric id in the metrics API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from emulator.data import catalog
from emulator.data.store import (
    FLAG_EXIT_BEFORE_START,
    FLAG_PLAYBACK_FAILURE,
    FLAG_RESUMED,
    FLAG_SECOND_DEVICE,
    FLAG_STARTUP_FAILURE,
    VES_SCALE,
    ViewStore,
    mix64,
    mix64_many,
    uuid4_text,
)

# Typical delivered bitrates per tier (bits/s), for weighted_average_bitrate.
TIER_BITRATE = {"audio-only": 128_000, "720p": 2_500_000, "1080p": 4_800_000, "1440p": 8_000_000, "2160p": 14_000_000}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000.0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# player_startup_time (player init -> ready): PLAYER_STARTUP_MIN_MS plus a keyed hash of the view's serial
# modulo PLAYER_STARTUP_SPREAD_MS, i.e. 180-599 ms, independent of the video's own startup.
PLAYER_STARTUP_MIN_MS = 180
PLAYER_STARTUP_SPREAD_MS = 420
_PLAYER_TAG = 0x70_6C_61_79_65_72_75_70


def _uuid(value: int, other: int) -> str:
    return uuid4_text(value, other)


def player_startup_ms(store: ViewStore, serial: int) -> int:
    return PLAYER_STARTUP_MIN_MS + mix64(store.salt ^ serial ^ _PLAYER_TAG) % PLAYER_STARTUP_SPREAD_MS


def player_startup_many(store: ViewStore, serials: np.ndarray) -> np.ndarray:
    """`player_startup_ms` for many serials at once (export files)."""
    mixed = mix64_many(np.uint64(store.salt) ^ serials.astype(np.uint64) ^ np.uint64(_PLAYER_TAG))
    return (mixed % np.uint64(PLAYER_STARTUP_SPREAD_MS)).astype(np.int64) + PLAYER_STARTUP_MIN_MS


def mux_viewer_id(store: ViewStore, viewer: int, second_device: bool) -> str:
    """Mux's own per-device viewer id (a cookie): one per student and device."""
    key = (viewer << 1) | int(second_device)
    return _uuid(mix64(store.salt ^ key), mix64(store.salt + key))


def _row(store: ViewStore, row: int) -> dict[str, int]:
    return {name: int(column[row]) for name, column in store.columns.items()}


def iso_many(ms: np.ndarray) -> list[str]:
    stamps = np.datetime_as_string((ms // 1000).astype("datetime64[s]"), unit="s")
    return [f"{stamp}Z" for stamp in stamps.tolist()]


def abridged_page(store: ViewStore, rows: np.ndarray, total: int) -> list[dict[str, Any]]:
    """List items for a page of rows: one gather per column, then plain Python values."""
    rows = np.asarray(rows, dtype=np.int64)
    end_ms = store["end_ms"][rows]
    starts = iso_many(end_ms - store["wall_ms"][rows])
    ends = iso_many(end_ms)
    lesson = store["lesson"][rows].tolist()
    profile = store["profile"][rows].tolist()
    country = store["country"][rows].tolist()
    error = store["error"][rows].tolist()
    ves = (store["ves"][rows] / VES_SCALE).round(3).tolist()
    watch = store["watch_ms"][rows].tolist()
    failed = ((store["flags"][rows] & FLAG_PLAYBACK_FAILURE) > 0).tolist()
    items = []
    for i, row in enumerate(rows.tolist()):
        setup = catalog.PROFILES[profile[i]]
        err = catalog.ERRORS[error[i] - 1] if error[i] else None
        items.append(
            {
                "id": store.opaque_id(row),
                "viewer_os_family": setup.os,
                "viewer_application_name": setup.browser,
                "video_title": store.lessons[lesson[i]].title,
                "total_row_count": total,
                "player_error_message": err.message if err else None,
                "player_error_code": err.code if err else None,
                "error_type_id": err.type_id if err else None,
                "country_code": catalog.COUNTRIES[country[i]].code,
                "view_start": starts[i],
                "view_end": ends[i],
                "viewer_experience_score": ves[i],
                "watch_time": watch[i],
                "playback_failure": failed[i],
            }
        )
    return items


def _scores(r: dict[str, int]) -> dict[str, float]:
    """Component scores consistent with the stored overall score (same formula as the simulator)."""
    started = r["startup_ms"] > 0
    failed = bool(r["flags"] & FLAG_PLAYBACK_FAILURE)
    playback = 0.0 if failed else (1.0 if started else 0.5)
    startup = 1.0 / (1.0 + (r["startup_ms"] / 4000.0) ** 1.5) if started else 1.0
    rebuffering = 2.718281828 ** (-12.0 * (r["rebuf_ms"] / r["watch_ms"] if r["watch_ms"] else 0.0))
    ves = r["ves"] / VES_SCALE
    quality = 1.0
    if started and playback > 0:
        quality = min(1.0, max(0.0, (ves / playback - 0.35 * startup - 0.4 * rebuffering) / 0.25))
    return {"playback": playback, "startup": startup, "rebuffering": rebuffering, "quality": quality, "ves": ves}


def _events(r: dict[str, int], start_ms: int, duration_ms: int) -> list[dict[str, Any]]:
    playhead = r["playhead_ms"]
    resumed_at = 0
    if r["flags"] & FLAG_RESUMED:
        resumed_at = max(0, playhead - int(r["playing_ms"]))
    events: list[tuple[str, int, int]] = [("playerready", 0, resumed_at), ("viewstart", 5, resumed_at)]
    flags = r["flags"]
    if flags & FLAG_EXIT_BEFORE_START:
        events.append(("viewend", r["watch_ms"], resumed_at))
    elif flags & FLAG_STARTUP_FAILURE:
        events.append(("error", r["watch_ms"], resumed_at))
        events.append(("viewend", r["watch_ms"] + 10, resumed_at))
    else:
        events.append(("play", 10, resumed_at))
        events.append(("playing", 10 + r["startup_ms"], resumed_at))
        end_at = r["wall_ms"]
        if flags & FLAG_PLAYBACK_FAILURE:
            events.append(("error", end_at, playhead))
        elif playhead >= duration_ms:
            events.append(("ended", end_at, playhead))
        else:
            events.append(("pause", end_at, playhead))
        events.append(("viewend", end_at + 10, playhead))
    return [
        {
            "name": name,
            "viewer_time": start_ms + at,
            "event_time": start_ms + at + 40,
            "playback_time": pos,
            "details": {},
        }
        for name, at, pos in events
    ]


def full(store: ViewStore, row: int, *, environment_id: str) -> dict[str, Any]:
    r = _row(store, row)
    lesson = store.lessons[r["lesson"]]
    profile = catalog.PROFILES[r["profile"]]
    country = catalog.COUNTRIES[r["country"]]
    error = catalog.ERRORS[r["error"] - 1] if r["error"] else None
    start_ms = r["end_ms"] - r["wall_ms"]
    duration_ms = round(lesson.duration_s * 1000)
    started = r["startup_ms"] > 0
    scores = _scores(r)
    playing_minutes = r["playing_ms"] / 60_000.0
    tier = lesson.resolution_tier if profile.device != "phone" or lesson.resolution_tier == "audio-only" else "720p"
    secondary = bool(r["flags"] & FLAG_SECOND_DEVICE)
    view: dict[str, Any] = {
        "id": store.opaque_id(row),
        "view_id": store.view_id(row),
        "view_session_id": None,
        "session_id": _uuid(mix64(store.salt ^ r["serial"] ^ 0x5E55), mix64(r["serial"])),
        "mux_viewer_id": mux_viewer_id(store, r["viewer"], secondary),
        "viewer_user_id": store.viewers[r["viewer"]],
        "property_id": 1,
        "environment_id": environment_id,
        "mux_api_version": "v1",
        "mux_embed": "mux-player",
        "mux_embed_version": "5.9.0",
        "player_mux_plugin_name": "mux-player",
        "player_mux_plugin_version": "3.1.0",
        "player_software": "mux-player",
        "player_software_version": "3.1.0",
        "player_name": profile.player,
        "player_version": "1.0.0",
        "player_autoplay": False,
        "player_preload": False,
        "player_remote_played": False,
        "player_source_host_name": "stream.mux.com",
        "player_source_url": f"https://stream.mux.com/{lesson.playback_id}.m3u8" if lesson.playback_id else None,
        "player_source_duration": duration_ms,
        "player_source_stream_type": "on-demand",
        "player_source_type": "application/x-mpegURL",
        "player_error_code": error.code if error else None,
        "player_error_message": error.message if error else None,
        "player_error_context": None,
        "error_type_id": error.type_id if error else None,
        "view_error_id": error.type_id if error else None,
        "playback_failure_error_type_id": error.type_id if error else None,
        "playback_failure": bool(r["flags"] & FLAG_PLAYBACK_FAILURE),
        "video_startup_failure": bool(r["flags"] & FLAG_STARTUP_FAILURE),
        "exit_before_video_start": bool(r["flags"] & FLAG_EXIT_BEFORE_START),
        "view_dropped": False,
        "view_has_ad": False,
        "watched": r["playing_ms"] > 0,
        "video_id": lesson.video_id,
        "video_title": lesson.title,
        "video_duration": duration_ms,
        "video_stream_type": "on-demand",
        "video_content_type": "lesson",
        "asset_id": lesson.asset_id,
        "playback_id": lesson.playback_id,
        "live_stream_id": None,
        "viewer_application_name": profile.browser,
        "viewer_os_family": profile.os,
        "viewer_device_category": profile.device,
        "viewer_device_name": None,
        "viewer_device_model": None,
        "viewer_device_manufacturer": None,
        "viewer_connection_type": None,
        "country_code": country.code,
        "country_name": None,
        "view_start": iso(start_ms),
        "view_end": iso(r["end_ms"]),
        "inserted_at": iso(r["end_ms"]),
        "updated_at": iso(r["end_ms"]),
        "short_time": iso(start_ms),
        "watch_time": r["watch_ms"],
        "view_playing_time": str(r["playing_ms"]),
        "view_total_content_playback_time": r["playing_ms"],
        "view_max_playhead_position": str(r["playhead_ms"]),
        "time_to_first_frame": r["startup_ms"] if started else None,
        "view_content_startup_time": r["startup_ms"] if started else None,
        "player_startup_time": player_startup_ms(store, r["serial"]),
        "page_load_time": None,
        "buffering_count": r["rebuf_count"],
        "buffering_duration": r["rebuf_ms"],
        "buffering_rate": str(round(r["rebuf_count"] / playing_minutes, 4)) if playing_minutes else "0",
        "rebuffer_percentage": str(round(r["rebuf_ms"] / r["watch_ms"], 6)) if r["watch_ms"] else "0",
        "view_seek_count": r["seeks"],
        "view_seek_duration": r["seeks"] * 250,
        "view_max_downscale_percentage": "0",
        "view_max_upscale_percentage": "0",
        "view_total_downscaling": "0",
        "view_total_upscaling": "0",
        "weighted_average_bitrate": float(TIER_BITRATE.get(tier, 4_800_000)) if started else None,
        "viewer_experience_score": str(round(scores["ves"], 3)),
        "playback_score": str(round(scores["playback"], 3)),
        "startup_score": str(round(scores["startup"], 3)),
        "rebuffering_score": str(round(scores["rebuffering"], 3)),
        "quality_score": str(round(scores["quality"], 3)),
        "used_fullscreen": bool(mix64(store.salt ^ r["serial"]) & 1),
        "used_captions": False,
        "used_pip": False,
        "events": _events(r, start_ms, duration_ms),
    }
    for i in range(1, 11):
        view[f"custom_{i}"] = None
    return view

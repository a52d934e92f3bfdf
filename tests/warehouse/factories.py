"""Test factories: Mux-shaped view / usage / asset dicts and list-backed fake sources (the jobs' seams)."""

from __future__ import annotations

import csv
import random
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from core.errors import MuxInvalidRequest
from core.mux.models import ExportDownload, ViewExport, ViewExportFile
from core.privacy import student_key

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def view_uuid(n: int) -> str:
    """The `view_id` of `make_view(n)`: a UUID, as Mux's (the export files' key)."""
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def mux_id(n: int) -> str:
    """The `id` of `make_view(n)`: Mux's opaque view id (the list's, the one get-video-view takes)."""
    return f"k{n:08d}Mx"


def make_view(
    n: int,
    *,
    end: datetime,
    lesson_id: int = 1,
    viewer: int = 100,
    duration_ms: int = 600_000,
    playhead_ms: int = 300_000,
    watch_ms: int = 320_000,
    startup_ms: int = 800,
    browser: str = "Chrome",
    os: str = "macOS",
    **extra: Any,
) -> dict[str, Any]:
    """A full Mux VideoView as the emulator / Mux send it (several numbers as strings, two ids)."""
    start = end - timedelta(milliseconds=watch_ms + 5_000)
    view: dict[str, Any] = {
        "id": mux_id(n),
        "view_id": view_uuid(n),
        "viewer_user_id": str(viewer),
        "video_id": str(lesson_id),
        "video_title": f"Lesson {lesson_id}",
        "asset_id": f"asset-{lesson_id}",
        "playback_id": f"pb-{lesson_id}",
        "view_start": iso(start),
        "view_end": iso(end),
        "watch_time": watch_ms,
        "view_playing_time": str(watch_ms - startup_ms),
        "view_max_playhead_position": str(playhead_ms),
        "video_duration": duration_ms,
        "time_to_first_frame": startup_ms,
        "view_content_startup_time": startup_ms,
        "player_startup_time": 250 + n % 300,
        "buffering_count": 1,
        "buffering_duration": 1200,
        "rebuffer_percentage": "0.00375",
        "playback_failure": False,
        "video_startup_failure": False,
        "exit_before_video_start": False,
        "error_type_id": None,
        "player_error_code": None,
        "player_error_message": None,
        "viewer_application_name": browser,
        "viewer_os_family": os,
        "viewer_device_category": "desktop",
        "country_code": "US",
        "player_name": "lectern-web",
        "viewer_experience_score": "0.91",
    }
    view.update(extra)
    return view


def random_views(
    count: int, *, seed: int = 1, start: datetime = T0, days: int = 10, lessons: int = 5, viewers: int = 50
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        end = start + timedelta(seconds=rng.randrange(days * 86_400))
        duration = 600_000
        playhead = rng.randrange(0, duration + 1)
        out.append(
            make_view(
                n,
                end=end,
                lesson_id=1 + rng.randrange(lessons),
                viewer=1000 + rng.randrange(viewers),
                playhead_ms=playhead,
                watch_ms=playhead + rng.randrange(0, 60_000),
                startup_ms=200 + rng.randrange(3000),
                browser=rng.choice(["Chrome", "Safari", "Firefox"]),
            )
        )
    return out


@dataclass
class FakeViews:
    """ViewsSource over a list: returns views whose view_end is in [start, end), oldest first."""

    views: list[dict[str, Any]]
    page_size: int = 100
    calls: list[tuple[datetime, datetime]] = field(default_factory=list)
    fail_after_pages: int | None = None

    def iter_view_pages(
        self, start: datetime, end: datetime, *, known: Container[str] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        self.calls.append((start, end))
        lo, hi = iso(start), iso(end)
        matching = sorted((v for v in self.views if lo <= v["view_end"] < hi), key=lambda v: v["view_end"])
        for i in range(0, len(matching), self.page_size):
            if self.fail_after_pages is not None:
                if self.fail_after_pages == 0:
                    raise RuntimeError("injected source failure")
                self.fail_after_pages -= 1
            yield [dict(v) for v in matching[i : i + self.page_size]]


# Data API field -> export column (Mux's export files use other names for some fields; the field table
# of Mux's "Export raw video view data" guide).
EXPORT_NAMES = {
    "time_to_first_frame": "video_startup_time",
    "viewer_application_name": "browser",
    "viewer_os_family": "operating_system",
    "country_code": "country",
    "error_type_id": "error_type",
    "buffering_count": "rebuffer_count",
    "buffering_duration": "rebuffer_duration",
}


def export_row(view: dict[str, Any]) -> dict[str, Any]:
    """A full view as a row of Mux's export file: export names, no opaque `id`, no `playback_failure` flag."""
    row = {EXPORT_NAMES.get(k, k): v for k, v in view.items() if k not in ("id", "playback_failure")}
    row["playback_failure_error_type_id"] = view.get("error_type_id") if view.get("playback_failure") else None
    return row


def write_export_csv(path: Path, views: list[dict[str, Any]], *, columns: list[str] | None = None) -> None:
    rows = [export_row(v) for v in views]
    names = columns or sorted({k for r in rows for k in r} | {"player_view_count"})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            text = {k: "" if v is None else str(v).lower() if isinstance(v, bool) else v for k, v in row.items()}
            writer.writerow({**text, "player_view_count": 1})


@dataclass
class FakeViewExports(FakeViews):
    """FakeViews that also exports each complete day (by `clock`) of its views as a file, like Mux."""

    clock: datetime = T0
    version: int = 14
    view_exports_enabled: bool = True
    etags: dict[date, str] = field(default_factory=dict)
    downloads: list[tuple[date, str | None]] = field(default_factory=list)
    refuse: set[date] = field(default_factory=set)  # days whose file URL is refused (403)
    expire_once: set[date] = field(default_factory=set)  # days whose first URL has expired (403 once)
    columns: list[str] | None = None

    def _day(self, day: date) -> list[dict[str, Any]]:
        lo = datetime.combine(day, time(), UTC)
        return [v for v in self.views if iso(lo) <= v["view_end"] < iso(lo + timedelta(days=1))]

    def list_view_exports(self) -> list[ViewExport]:
        today = self.clock.date()
        days = [today - timedelta(days=k) for k in range(1, 8)]
        return [ViewExport(d, (ViewExportFile(self.version, "csv", f"fake://{d}"),)) for d in days]

    def download_view_export(self, url: str, dest: Path, *, if_none_match: str | None = None) -> ExportDownload:
        day = date.fromisoformat(url.removeprefix("fake://"))
        self.downloads.append((day, if_none_match))
        if day in self.refuse or day in self.expire_once:
            self.expire_once.discard(day)
            raise MuxInvalidRequest("Mux download view export failed (403): AccessDenied", status=403)
        views = sorted(self._day(day), key=lambda v: v["view_end"])
        etag = f'"{self.version}-{len(views)}-{hash(tuple(v["id"] for v in views)) & 0xFFFF}"'
        if if_none_match == etag:
            return ExportDownload(not_modified=True, etag=etag)
        write_export_csv(dest, views, columns=self.columns)
        return ExportDownload(not_modified=False, etag=etag, bytes=dest.stat().st_size)


@dataclass
class FakeUsage:
    """UsageSource: hourly delivered seconds per asset, summed over the asked timeframe."""

    hourly: dict[tuple[str, datetime], float]
    calls: list[tuple[datetime, datetime]] = field(default_factory=list)

    def iter_usage_pages(self, start: datetime, end: datetime) -> Iterator[list[dict[str, Any]]]:
        self.calls.append((start, end))
        totals: dict[str, float] = {}
        for (asset, hour), seconds in self.hourly.items():
            if start <= hour < end:
                totals[asset] = totals.get(asset, 0.0) + seconds
        rows = [
            {
                "asset_id": asset,
                "passthrough": asset.removeprefix("asset-"),
                "asset_state": "ready",
                "asset_duration": 600.0,
                "asset_resolution_tier": "1080p",
                "asset_video_quality": "basic",
                "created_at": "1740000000",
                "delivered_seconds": seconds,
                "delivered_seconds_by_resolution": {"tier_1080p": seconds * 0.75, "tier_720p": seconds * 0.25},
            }
            for asset, seconds in sorted(totals.items())
            if seconds > 0
        ]
        if rows:
            yield rows


@dataclass
class FakeAssets:
    assets: list[dict[str, Any]]

    def iter_asset_pages(self) -> Iterator[list[dict[str, Any]]]:
        for i in range(0, len(self.assets), 2):
            yield [dict(a) for a in self.assets[i : i + 2]]


def make_asset(
    asset_id: str,
    *,
    status: str = "ready",
    passthrough: str | None = None,
    duration: float = 600.0,
    policy: str = "public",
) -> dict[str, Any]:
    return {
        "id": asset_id,
        "status": status,
        "duration": duration if status == "ready" else None,
        "passthrough": passthrough,
        "playback_ids": [{"id": f"pb-{asset_id}", "policy": policy}] if status == "ready" else [],
        "resolution_tier": "1080p",
        "max_resolution_tier": "1080p",
        "video_quality": "basic",
        "aspect_ratio": "16:9",
        "created_at": "1740000000",
        "errors": {"type": "invalid_input", "messages": ["bad file"]} if status == "errored" else None,
    }


PSEUDONYM_SECRET = b"pseudonym-key-for-tests"


def as_player_sends(views: list[dict[str, Any]], secret: bytes = PSEUDONYM_SECRET) -> list[dict[str, Any]]:
    """The views with viewer_user_id as Lectern's player sends it: the viewer's student key (core/privacy.py)."""
    return [v | {"viewer_user_id": str(student_key(secret, int(v["viewer_user_id"])))} for v in views]

"""A small, seeded platform with Mux usage, as estimator frames and as a published warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.store import WarehouseLayout, WarehouseWriter

TIERS = ["720p", "1080p", "1080p", "1440p", "audio-only"]
QUALITIES = ["basic", "plus", "plus", "premium"]


@dataclass
class Demo:
    today: date
    users: pd.DataFrame
    courses: pd.DataFrame
    lessons: pd.DataFrame
    assets: pd.DataFrame
    delivery: pd.DataFrame
    views: pd.DataFrame
    attribution: pd.DataFrame
    s3_lessons: pd.DataFrame


def _at(d: date, hour: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def build_demo(today: date, *, seed: int = 7, n_lessons: int = 40, history_days: int = 120) -> Demo:
    rng = np.random.default_rng(seed)
    users = pd.DataFrame(
        {"id": [1, 2, 3], "email": [f"t{i}@demo.test" for i in (1, 2, 3)], "name": ["Ada", "Ben", "Cy"],
         "role": "teacher", "created_at": _at(today - timedelta(days=400))}
    )  # fmt: skip
    courses = pd.DataFrame(
        {"id": range(10, 16), "teacher_id": [1 + i % 3 for i in range(6)], "title": [f"Course {i}" for i in range(6)]}
    )
    lesson_ids = np.arange(100, 100 + n_lessons)
    on_s3 = lesson_ids[-6:]
    lessons = pd.DataFrame(
        {
            "id": lesson_ids,
            "course_id": 10 + (lesson_ids - 100) % 6,
            "position": (lesson_ids - 100) // 6 + 1,
            "title": [f"Lesson {i}" for i in lesson_ids],
            "duration_s": rng.uniform(120, 1800, n_lessons).round(1),
            "video_provider": ["s3" if i in on_s3 else "mux" for i in lesson_ids],
            "video_url": [f"lessons/{i}.mp4" if i in on_s3 else None for i in lesson_ids],
            "mux_asset_id": [None if i in on_s3 else f"asset-{i}" for i in lesson_ids],
            "created_at": _at(today - timedelta(days=history_days + 30)),
        }
    )
    mux_lessons = lessons[lessons["mux_asset_id"].notna()]
    n_assets = len(mux_lessons) + 4  # four assets nobody linked to a lesson
    start = today - timedelta(days=history_days)
    created_day = [start + timedelta(days=int(d)) for d in rng.integers(-60, history_days - 5, n_assets)]
    deleted = [None] * n_assets
    for i in rng.choice(n_assets, 4, replace=False):
        deleted[i] = _at(created_day[i] + timedelta(days=int(rng.integers(3, 60))))
    assets = pd.DataFrame(
        {
            "asset_id": [*mux_lessons["mux_asset_id"], *(f"orphan-{i}" for i in range(4))],
            "lesson_id": pd.array([*mux_lessons["id"], None, None, None, None], dtype="Int64"),
            "duration_s": [*mux_lessons["duration_s"], 300.0, 600.0, 90.0, 1200.0],
            "resolution_tier": rng.choice(TIERS, n_assets),
            "video_quality": rng.choice(QUALITIES, n_assets),
            "created_at": [_at(d, 9) for d in created_day],
            "deleted_at": pd.Series(deleted, dtype="object"),
            "status": "ready",
        }
    )
    rows = []
    for asset, made, gone, tier in zip(
        assets["asset_id"], created_day, assets["deleted_at"], assets["resolution_tier"], strict=True
    ):
        last = (gone.date() if gone is not None else today + timedelta(days=1)) - timedelta(days=1)
        d = made
        while d <= min(last, today):
            # Views grow over time, so the forecast has a trend to find.
            growth = 1.0 + (d - start).days / history_days
            if rng.random() < 0.35:
                seconds = float(rng.exponential(1500.0) * growth)
                rows.append((asset, d, tier, seconds * 0.8))
                rows.append((asset, d, "720p", seconds * 0.2))
            d += timedelta(days=1)
    rows.append(("ghost-1", today - timedelta(days=2), "1080p", 900.0))  # deleted long ago, only in usage
    delivery = pd.DataFrame(rows, columns=["asset_id", "day", "resolution_tier", "delivered_s"])
    delivery = delivery.groupby(["asset_id", "day", "resolution_tier"], as_index=False)["delivered_s"].sum()
    views = delivery[["asset_id", "day"]].drop_duplicates().reset_index(drop=True)
    attribution = lessons.merge(courses, left_on="course_id", right_on="id", suffixes=("", "_c")).merge(
        users, left_on="teacher_id", right_on="id", suffixes=("", "_t")
    )
    attribution = pd.DataFrame(
        {
            "lesson_id": attribution["id"],
            "lesson_title": attribution["title"],
            "course_id": attribution["course_id"],
            "course_title": attribution["title_c"],
            "teacher_id": attribution["teacher_id"],
            "teacher_name": attribution["name"],
        }
    )
    s3 = lessons[lessons["video_provider"] == "s3"]
    s3_lessons = pd.DataFrame(
        {"lesson_id": s3["id"], "duration_s": s3["duration_s"], "watched_s_per_day": rng.uniform(0, 3000, len(s3))}
    )
    s3_lessons.loc[s3_lessons.index[0], "watched_s_per_day"] = 0.0
    return Demo(today, users, courses, lessons, assets, delivery, views, attribution, s3_lessons)


def write_warehouse(path: Path, demo: Demo) -> Path:
    """Publish the demo as a warehouse snapshot at `path` (the LECTERN_WAREHOUSE_PATH pointer)."""
    now = datetime.now(UTC)
    writer = WarehouseWriter(WarehouseLayout(path))
    usage = demo.delivery.pivot_table(
        index=["asset_id", "day"], columns="resolution_tier", values="delivered_s", aggfunc="sum", fill_value=0.0
    ).reset_index()
    for tier in ("720p", "1080p", "1440p", "2160p", "audio-only"):
        if tier not in usage.columns:
            usage[tier] = 0.0
    meta = demo.assets.set_index("asset_id")
    usage = usage.assign(
        window_start=[_at(d) for d in usage["day"]],
        window_end=[_at(d) + timedelta(days=1) for d in usage["day"]],
        delivered_seconds=usage[["720p", "1080p", "1440p", "2160p", "audio-only"]].sum(axis=1),
        resolution=usage["asset_id"].map(meta["resolution_tier"]).fillna("1080p"),
        quality=usage["asset_id"].map(meta["video_quality"]).fillna("plus"),
        duration=usage["asset_id"].map(meta["duration_s"]).fillna(60.0),
        created=[meta["created_at"].get(a, _at(demo.today - timedelta(days=500))) for a in usage["asset_id"]],
        loaded=now,
    )
    assets = demo.assets.assign(last_seen_at=now)
    lessons = demo.lessons
    courses, users = demo.courses.assign(description="", created_at=now), demo.users
    with writer.open() as con:
        con.register("u", usage)
        con.execute(
            """INSERT INTO delivery_usage (asset_id, window_start, window_end, usage_day, delivered_seconds,
                   delivered_seconds_720p, delivered_seconds_1080p, delivered_seconds_1440p,
                   delivered_seconds_2160p, delivered_seconds_audio_only, asset_state, asset_duration_s,
                   asset_resolution_tier, asset_video_quality, asset_created_at, loaded_at)
               SELECT asset_id, window_start, window_end, day, delivered_seconds, "720p", "1080p", "1440p",
                   "2160p", "audio-only", 'ready', duration, resolution, quality, created, loaded FROM u"""
        )
        con.register("a", assets)
        con.execute(
            """INSERT INTO assets (asset_id, status, duration_s, resolution_tier, video_quality, lesson_id,
                   created_at, deleted_at, last_seen_at)
               SELECT asset_id, status, duration_s, resolution_tier, video_quality, lesson_id, created_at,
                   CAST(deleted_at AS TIMESTAMPTZ), last_seen_at FROM a"""
        )
        con.register("v", demo.views.assign(view_id=[f"v{i}" for i in range(len(demo.views))], loaded=now))
        con.execute(
            "INSERT INTO mux_views (view_id, view_key, asset_id, view_day, loaded_at) "
            "SELECT view_id, hash(view_id), asset_id, day, loaded FROM v"
        )
        con.register("us", users)
        con.execute("INSERT INTO users SELECT id, name, role, created_at FROM us")
        con.register("c", courses)
        con.execute("INSERT INTO courses SELECT id, teacher_id, title, description, created_at FROM c")
        con.register("l", lessons)
        con.execute(
            """INSERT INTO lessons (id, course_id, position, title, video_url, duration_s, created_at,
                   video_provider, mux_asset_id)
               SELECT id, course_id, position, title, video_url, duration_s, created_at, video_provider,
                   mux_asset_id FROM l"""
        )
        con.execute(
            "INSERT INTO enrollments VALUES (1, 50, 10, ?), (2, 51, 15, ?)",
            [_at(demo.today - timedelta(days=60)), _at(demo.today - timedelta(days=60))],
        )
        con.execute(
            "INSERT INTO lesson_progress VALUES (1, 50, ?, 6000, 600, NULL, ?)",
            [int(demo.s3_lessons["lesson_id"].iloc[-1]), now],
        )
    return path

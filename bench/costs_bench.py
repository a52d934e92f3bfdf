"""Cost report speed: 100,000 assets over 12 months, from the warehouse to the JSON body (target: under 1 s).

A warehouse snapshot is built first (not timed): assets created across the year and before it, 5 %
deleted, a mix of qualities and tiers; each asset played on ~15 days a year, each play a Mux Data view and
a day of delivery usage (30 % of them split over two delivered tiers), so ~1.1 M usage rows and ~1.4 M
priced delivery rows. Then, timed, what `GET /api/costs/report?group_by=course` does after its checks:
`estimate_period` on a reader cursor (DuckDB prices in place; only roll-ups come back) and
`report_payload`. `--quick`: 10,000 assets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import write_result
from core.costs.inputs import read_inputs
from core.costs.period import Period, day_number, priced_window
from core.costs.pricebook import PriceBook, load_pricebook
from core.costs.pricing import price_inputs
from core.costs.report import report_payload
from core.costs.rollups import estimate
from core.memory import keep_freed_memory
from warehouse.costs import cost_sources, load_attribution
from warehouse.reader import WarehouseReader
from warehouse.store import WarehouseLayout, WarehouseWriter

TARGET_S = 1.0
TIER_COLUMNS = {"720p": "s720", "1080p": "s1080", "1440p": "s1440", "2160p": "s2160", "audio-only": "saudio"}


def synthesize(
    n_assets: int, period: Period, *, seed: int = 7, plays_per_year: float = 15.0
) -> dict[str, pd.DataFrame]:
    """Platform tables and Mux usage as frames (the same model the estimator bench always used)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(period.start, "D")
    span = period.days
    created = start + rng.integers(-365, span, n_assets).astype("timedelta64[D]")
    deleted = np.where(
        rng.random(n_assets) < 0.05,
        created + rng.integers(5, 200, n_assets).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    ids = np.char.add("asset-", np.arange(n_assets).astype(str))
    tiers = rng.choice(list(TIER_COLUMNS), n_assets, p=[0.2, 0.4, 0.2, 0.0, 0.2])
    assets = pd.DataFrame(
        {
            "asset_id": ids,
            "lesson_id": np.arange(n_assets),
            "duration_s": rng.uniform(120, 2400, n_assets).round(6),  # Mux reports microseconds
            "resolution_tier": tiers,
            "video_quality": rng.choice(["basic", "plus", "plus", "premium"], n_assets),
            "created_at": pd.to_datetime(created).tz_localize("UTC"),
            "deleted_at": pd.to_datetime(deleted).tz_localize("UTC"),
        }
    )
    n_plays = int(n_assets * plays_per_year * span / 365)
    who = rng.integers(0, n_assets, n_plays)
    day = start + rng.integers(0, span, n_plays).astype("timedelta64[D]")
    alive = (day >= created[who]) & (np.isnat(deleted[who]) | (day < deleted[who]))
    plays = pd.DataFrame({"asset": who[alive], "day": day[alive], "seconds": rng.exponential(900.0, alive.sum())})
    # One usage row per asset and day (a day with two plays adds up); 30 % also delivered some 720p.
    usage = plays.groupby(["asset", "day"], as_index=False)["seconds"].sum()
    usage["seconds"] = usage["seconds"].round(0)  # Mux reports whole seconds
    second = rng.random(len(usage)) < 0.3
    tier = tiers[usage["asset"].to_numpy()]
    for name, column in TIER_COLUMNS.items():
        usage[column] = np.where(tier == name, usage["seconds"], 0.0)
    usage["s720"] += np.where(second, (usage["seconds"] * 0.3).round(0), 0.0)
    usage["asset_id"] = ids[usage["asset"].to_numpy()]
    views = pd.DataFrame({"asset_id": ids[plays["asset"].to_numpy()], "day": plays["day"].to_numpy()})
    lessons = np.arange(n_assets)
    platform = {
        "users": pd.DataFrame({"id": np.arange(n_assets // 200 + 1), "name": "Teacher"}),
        "courses": pd.DataFrame(
            {"id": np.arange(n_assets // 20 + 1), "teacher_id": np.arange(n_assets // 20 + 1) // 10, "title": "C"}
        ),
        "lessons": pd.DataFrame({"id": lessons, "course_id": lessons // 20, "title": "Lesson", "mux_asset_id": ids}),
    }
    return {"assets": assets, "usage": usage, "views": views, **platform}


def build_warehouse(path: Path, frames: dict[str, pd.DataFrame]) -> Path:
    """Publish the frames as a warehouse snapshot (the tables `lectern sync` fills)."""
    now = datetime.now(UTC)
    with WarehouseWriter(WarehouseLayout(path), memory_limit="2GB").open() as con:
        for name, frame in frames.items():
            con.register(f"f_{name}", frame)
        con.execute(
            """INSERT INTO assets (asset_id, status, duration_s, resolution_tier, video_quality, lesson_id,
                   created_at, deleted_at, last_seen_at)
               SELECT asset_id, 'ready', duration_s, resolution_tier, video_quality, lesson_id, created_at,
                   deleted_at, $now FROM f_assets""",
            {"now": now},
        )
        con.execute(
            """INSERT INTO delivery_usage (asset_id, window_start, window_end, usage_day, delivered_seconds,
                   delivered_seconds_720p, delivered_seconds_1080p, delivered_seconds_1440p,
                   delivered_seconds_2160p, delivered_seconds_audio_only, asset_state, loaded_at)
               SELECT asset_id, CAST(day AS TIMESTAMPTZ), CAST(day AS TIMESTAMPTZ) + INTERVAL 1 DAY, day,
                   s720 + s1080 + s1440 + s2160 + saudio, s720, s1080, s1440, s2160, saudio, 'ready', $now
               FROM f_usage""",
            {"now": now},
        )
        con.execute(
            """INSERT INTO mux_views (view_id, view_key, asset_id, view_day, loaded_at)
               SELECT id, hash(id), asset_id, day, $now
               FROM (SELECT 'v' || row_number() OVER () AS id, asset_id, day FROM f_views)""",
            {"now": now},
        )
        con.execute("INSERT INTO users (id, name, role) SELECT id, name || ' ' || id, 'teacher' FROM f_users")
        con.execute("INSERT INTO courses (id, teacher_id, title) SELECT id, teacher_id, title || id FROM f_courses")
        con.execute(
            """INSERT INTO lessons (id, course_id, title, mux_asset_id, video_provider)
               SELECT id, course_id, title || ' ' || id, mux_asset_id, 'mux' FROM f_lessons"""
        )
    return path


def report_once(
    reader: WarehouseReader, period: Period, as_of: date, book: PriceBook
) -> tuple[dict[str, float], float, dict[str, object]]:
    """What GET /api/costs/report?group_by=course does after its checks (`estimate_period`, then
    `report_payload`), timed stage by stage; also the CPU seconds and the body."""
    c0, t0 = time.process_time(), time.perf_counter()
    with reader.connect() as con:
        start, end, notes = priced_window(period, as_of)
        sources = cost_sources(con, period, cold_after_days=book.cold_after_days)
        inputs = read_inputs(con, sources, book, window=(day_number(start), day_number(end)))
        attribution = load_attribution(con)
    t1 = time.perf_counter()
    priced = price_inputs(inputs, book, window=(start, end), boundaries=[period.start, period.end])
    t2 = time.perf_counter()
    payload = report_payload(estimate(priced, period, notes=notes), "course", attribution)
    t3, c3 = time.perf_counter(), time.process_time()
    # Returning only figures and the body: a server drops a request's arrays once it has answered (kept,
    # they would make the next run allocate, and fault in, a second copy).
    stages = {"read": t1 - t0, "price": t2 - t1, "rollup_json": t3 - t2, "report": t3 - t0, "compute": t3 - t1}
    return stages, c3 - c0, payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 assets instead of 100,000")
    parser.add_argument(
        "--repeat", type=int, default=7, help="timed runs: the first is reported apart, the median of the rest"
    )
    args = parser.parse_args(argv)
    keep_freed_memory()  # as the API's and the dashboard's processes do
    n_assets = 10_000 if args.quick else 100_000
    period = Period(date(2025, 12, 1), date(2026, 12, 1))
    today = period.last  # the whole year has data
    as_of = today + timedelta(days=1)
    book = load_pricebook()
    frames = synthesize(n_assets, period)
    timings: dict[str, list[float]] = {"read": [], "price": [], "rollup_json": [], "report": [], "compute": []}
    cpu: list[float] = []
    payload: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="lectern-costs-bench-") as tmp:
        path = build_warehouse(Path(tmp) / "warehouse.duckdb", frames)
        reader = WarehouseReader(path)
        for _ in range(max(1, args.repeat)):
            stages, seconds_cpu, payload = report_once(reader, period, as_of, book)
            cpu.append(seconds_cpu)
            for key, seconds in stages.items():
                timings[key].append(seconds)
        # A sync publishes a new snapshot: the server's next report opens it (DuckDB's buffers start empty).
        with WarehouseWriter(WarehouseLayout(path)).open():
            pass
        after_sync, _, _ = report_once(reader, period, as_of, book)
        reader.close()
    # The first run of a new process pays for memory it touches for the first time (the kernel zeroes each
    # page; ~0.6 s of system time here); later requests of the same server reuse it: the steady state.
    steady = {k: v[1:] or v for k, v in timings.items()}
    median = {k: round(statistics.median(v), 3) for k, v in steady.items()}
    groups = payload["groups"]
    assert isinstance(groups, list)
    figures = {
        "assets": n_assets,
        "months": 12,
        "usage_rows": len(frames["usage"]),
        "view_rows": len(frames["views"]),
        "course_groups": len(groups),
        "seconds_median": median,
        "seconds_first_run": {k: round(v[0], 3) for k, v in timings.items()},
        "seconds_first_after_new_snapshot": {k: round(v, 3) for k, v in after_sync.items()},
        "report_seconds_each_run": [round(v, 3) for v in timings["report"]],
        "seconds_median_is": "median of the runs after the first (a running server's requests); the first run "
        "of a new process is seconds_first_run",
        # CPU seconds of the report (all DuckDB threads): steadier than wall time on a shared machine.
        "report_cpu_seconds_median": round(statistics.median(cpu[1:] or cpu), 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "report_is": "warehouse read (DuckDB) + pricing (numpy, exact integers) + roll-up by course + JSON body: "
        "what GET /api/costs/report computes after its checks",
        "compute_is": "pricing + roll-up by course + JSON from inputs already in memory (like this bench's "
        "figure before 2026-11-25, which left the warehouse read out)",
        "target_seconds": TARGET_S,
        "meets_target": median["report"] < TARGET_S,
        "total_micros": payload["total_micros"],
        "period": f"{period.start}..{period.last}",
    }
    path = write_result("costs" + ("-quick" if args.quick else ""), figures)
    print(
        f"costs report for {n_assets:,} assets x 12 months ({len(frames['usage']):,} usage rows, "
        f"{len(frames['views']):,} views): {median['report']} s (read {median['read']} s, pricing "
        f"{median['price']} s, roll-up and JSON {median['rollup_json']} s; compute only "
        f"{median['compute']} s; CPU {figures['report_cpu_seconds_median']} s, load {figures['load_average_1m']}; "
        f"first run of the process {figures['seconds_first_run']['report']} s, first on a new snapshot "
        f"{after_sync['report']:.3f} s) "
        f"-> {path}"
    )


if __name__ == "__main__":
    main()

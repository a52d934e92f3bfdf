"""Cost report speed: estimate + rollup for 100,000 assets over 12 months (target: under 1 s).

Frames are synthesised in memory (the warehouse read is not measured): assets created across the year
and before it, 5 % deleted, a mix of qualities and tiers; each asset played on ~15 days a year (so
~1.5 M asset-days of delivery, split over one or two delivered tiers). `--quick`: 10,000 assets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date

import numpy as np
import pandas as pd

from bench.common import write_result
from core.costs.estimate import Period, estimate_costs
from core.costs.pricebook import load_pricebook
from core.costs.report import rollup

TARGET_S = 1.0


def synthesize(
    n_assets: int, period: Period, *, seed: int = 7, plays_per_year: float = 15.0
) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    start = np.datetime64(period.start, "D")
    span = period.days
    created = start + rng.integers(-365, span, n_assets).astype("timedelta64[D]")
    deleted = np.where(
        rng.random(n_assets) < 0.05,
        created + rng.integers(5, 200, n_assets).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    assets = pd.DataFrame(
        {
            "asset_id": pd.Series(np.char.add("asset-", np.arange(n_assets).astype(str)), dtype="string"),
            "lesson_id": pd.array(np.arange(n_assets), dtype="Int64"),
            "duration_s": rng.uniform(120, 2400, n_assets),
            "resolution_tier": rng.choice(["720p", "1080p", "1080p", "1440p", "audio-only"], n_assets),
            "video_quality": rng.choice(["basic", "plus", "plus", "premium"], n_assets),
            "created_at": pd.to_datetime(created).tz_localize("UTC"),
            "deleted_at": pd.to_datetime(deleted).tz_localize("UTC"),
        }
    )
    n_plays = int(n_assets * plays_per_year * span / 365)
    who = rng.integers(0, n_assets, n_plays)
    day = start + rng.integers(0, span, n_plays).astype("timedelta64[D]")
    alive = (day >= created[who]) & (np.isnat(deleted[who]) | (day < deleted[who]))
    who, day = who[alive], day[alive]
    seconds = rng.exponential(900.0, who.size)
    second_tier = rng.random(who.size) < 0.3
    delivery = pd.DataFrame(
        {
            "asset_id": pd.Categorical.from_codes(
                np.r_[who, who[second_tier]], categories=assets["asset_id"].to_numpy()
            ),
            "day": np.r_[day, day[second_tier]],
            "resolution_tier": np.r_[assets["resolution_tier"].to_numpy()[who], np.full(second_tier.sum(), "720p")],
            "delivered_s": np.r_[seconds, seconds[second_tier] * 0.3],
        }
    )
    views = pd.DataFrame({"asset_id": delivery["asset_id"], "day": delivery["day"]}).drop_duplicates()
    lessons = np.arange(n_assets)
    attribution = pd.DataFrame(
        {
            "lesson_id": lessons,
            "lesson_title": pd.Series(np.char.add("Lesson ", lessons.astype(str)), dtype="string"),
            "course_id": lessons // 20,
            "course_title": pd.Series(np.char.add("Course ", (lessons // 20).astype(str)), dtype="string"),
            "teacher_id": lessons // 200,
            "teacher_name": pd.Series(np.char.add("Teacher ", (lessons // 200).astype(str)), dtype="string"),
        }
    )
    return {"assets": assets, "delivery": delivery, "views": views, "attribution": attribution}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 assets instead of 100,000")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (the median is reported)")
    args = parser.parse_args(argv)
    n_assets = 10_000 if args.quick else 100_000
    period = Period(date(2025, 12, 1), date(2026, 12, 1))
    book = load_pricebook()
    frames = synthesize(n_assets, period)
    timings: dict[str, list[float]] = {"estimate": [], "rollup_course": [], "rollup_day": [], "report": []}
    cpu: list[float] = []
    rows = 0
    for _ in range(max(1, args.repeat)):
        c0, t0 = time.process_time(), time.perf_counter()
        estimate = estimate_costs(frames["assets"], frames["delivery"], frames["views"], period, book)
        t1 = time.perf_counter()
        rollup(estimate, "course", frames["attribution"])
        t2, c2 = time.perf_counter(), time.process_time()
        cpu.append(c2 - c0)
        rollup(estimate, "day")
        t3 = time.perf_counter()
        timings["estimate"].append(t1 - t0)
        timings["rollup_course"].append(t2 - t1)
        timings["rollup_day"].append(t3 - t2)
        timings["report"].append(t2 - t0)
        rows = len(estimate.rows)
    median = {k: round(statistics.median(v), 3) for k, v in timings.items()}
    figures = {
        "assets": n_assets,
        "months": 12,
        "delivery_rows": len(frames["delivery"]),
        "view_days": len(frames["views"]),
        "priced_rows": rows,
        "seconds_median": median,
        "seconds_first_run": {k: round(v[0], 3) for k, v in timings.items()},
        # CPU seconds of the report: close to wall time on an idle machine, steadier on a shared one.
        "report_cpu_seconds_median": round(statistics.median(cpu), 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "report_is": "estimate_costs + rollup by course (what GET /api/costs/report computes after the read)",
        "target_seconds": TARGET_S,
        "meets_target": median["report"] < TARGET_S,
        "total_usd": round(estimate.total_micros / 1e6, 2),
        "period": f"{period.start}..{period.last}",
    }
    path = write_result("costs" + ("-quick" if args.quick else ""), figures)
    print(
        f"costs report for {n_assets:,} assets x 12 months ({len(frames['delivery']):,} delivery rows, "
        f"{rows:,} priced rows): {median['report']} s (estimate {median['estimate']} s, rollup by course "
        f"{median['rollup_course']} s; by day {median['rollup_day']} s; report CPU "
        f"{figures['report_cpu_seconds_median']} s, load {figures['load_average_1m']}) -> {path}"
    )


if __name__ == "__main__":
    main()

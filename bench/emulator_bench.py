"""Mux emulator, Mux Data: view generation speed, page latency, memory while serving 10M views.

Targets: 1,000,000 views generated in well under 60 s; a page of video views at the maximum page size
(100) in under 50 ms (p50 and p99 over many pages spread across the range); memory bounded while
serving 10,000,000 views (no growth per request). `--quick` uses 100,000 views and skips the 10M run.
The 10M run happens in a child process so its RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import write_result
from emulator.data.simulator import generate
from emulator.data.store import Lesson
from emulator.state import AssetRecord, Store
from emulator.testing import EmulatorServer

COURSES, LESSONS, STUDENTS = 12, 12, 4_000


def catalogue() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, list[str]]]:
    """(assets by id, lessons for /_emulator/simulate, students by course)."""
    rng = random.Random(1)
    assets: dict[str, dict[str, Any]] = {}
    lessons: dict[str, dict[str, Any]] = {}
    students: dict[str, list[str]] = {}
    for c in range(COURSES):
        students[str(c)] = [str(s) for s in rng.sample(range(1, STUDENTS * 3), STUDENTS // 2)]
        for k in range(LESSONS):
            lesson_id = str(1000 + c * 100 + k)
            asset_id = f"benchAsset{lesson_id}" + "x" * 30
            assets[asset_id] = {
                "id": asset_id,
                "created_at": "1700000000",
                "status": "ready",
                "duration": round(rng.uniform(240, 1800), 3),
                "resolution_tier": "1080p",
                "video_quality": "plus",
                "passthrough": lesson_id,
                "playback_ids": [{"id": f"pb{lesson_id}", "policy": "public"}],
            }
            lessons[lesson_id] = {"asset_id": asset_id, "course": str(c), "position": k + 1}
    return assets, lessons, students


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_generation(views: int) -> dict[str, Any]:
    _, lessons, students = catalogue()
    table = [
        Lesson(lid, lid, spec["asset_id"], None, 900.0, "1080p", "plus", "1", lid, spec["course"], spec["position"])
        for lid, spec in lessons.items()
    ]
    started = time.perf_counter()
    store, _ = generate(table, students, views=views, days=90, end_s=time.time(), seed=7)
    seconds = time.perf_counter() - started
    return {
        "views": views,
        "seconds": round(seconds, 2),
        "views_per_second": round(views / seconds),
        "store_mb": round(store.nbytes / 2**20, 1),
    }


def serving(views: int, pages: int, root: Path) -> dict[str, Any]:
    """Start an emulator, simulate `views`, then time pages of GET /data/v1/video-views."""
    assets, lessons, students = catalogue()
    state = Store(root / "state.json")
    for seq, asset in enumerate(assets.values(), start=1):
        state.assets[asset["id"]] = AssetRecord(data=asset, seq=seq)
        state.seq = seq
    state.commit()
    figures: dict[str, Any] = {"views": views}
    with EmulatorServer(state_file=root / "state.json", data_dir=root / "media") as emu:
        rss_idle = rss_mb()
        started = time.perf_counter()
        response = emu.http.post(
            "/_emulator/simulate",
            json={"views": views, "days": 90, "seed": 7, "lessons": lessons, "students": students},
            timeout=3_600,
        )
        response.raise_for_status()
        summary = response.json()["data"]
        figures["simulate_seconds_request"] = round(time.perf_counter() - started, 2)  # incl. saving the .npz
        figures["simulate_seconds_generate"] = summary["generate_seconds"]
        figures["store_mb"] = round(summary["memory_bytes"] / 2**20, 1)
        figures["rss_mb_idle"] = round(rss_idle, 1)
        figures["rss_mb_peak_during_simulate"] = round(rss_mb("VmHWM"), 1)
        span = summary["time_range"]
        window = [str(span["start"] - 86_400), str(span["end"] + 86_400)]
        auth = (emu.token_id, emu.token_secret)
        rng = random.Random(3)
        with httpx.Client(base_url=emu.url, auth=auth, timeout=60) as client:

            def page(params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
                began = time.perf_counter()
                reply = client.get("/data/v1/video-views", params=params)
                reply.raise_for_status()
                return (time.perf_counter() - began) * 1000, reply.json()

            _, first = page({"limit": 100, "timeframe[]": window})
            total = first["total_row_count"]
            rss_before = rss_mb()
            samples: list[float] = []
            rss_trace: list[float] = []
            plain: list[float] = []
            for i in range(pages):
                number = rng.randint(1, max(1, total // 100))
                ms, body = page(
                    {
                        "limit": 100,
                        "page": number,
                        "timeframe[]": window,
                        "order_direction": rng.choice(["asc", "desc"]),
                    }
                )
                assert len(body["data"]) == 100 or number == total // 100 + 1
                plain.append(ms)
                if i % max(1, pages // 20) == 0:
                    samples.append(rss_mb())
            filtered: list[float] = []
            chrome = page({"limit": 1, "timeframe[]": window, "filters[]": "browser:Chrome"})[1]["total_row_count"]
            for _ in range(pages // 2):
                number = rng.randint(1, max(1, chrome // 100))
                params = {"limit": 100, "page": number, "timeframe[]": window, "filters[]": "browser:Chrome"}
                filtered.append(page(params)[0])
                rss_trace.append(rss_mb())
            rss_after = rss_mb()
            began = time.perf_counter()
            client.get(
                "/data/v1/metrics/video_startup_time/breakdown", params={"group_by": "browser", "timeframe[]": window}
            )
            figures["breakdown_median_startup_by_browser_ms"] = round((time.perf_counter() - began) * 1000, 1)
            began = time.perf_counter()
            client.get("/data/v1/metrics/views/overall", params={"timeframe[]": window, "filters[]": "country:US"})
            figures["overall_views_filtered_ms"] = round((time.perf_counter() - began) * 1000, 1)
        figures.update(
            {
                "pages": pages,
                "page_limit": 100,
                "total_row_count": total,
                "page_ms_p50": round(percentile(plain, 0.5), 2),
                "page_ms_p99": round(percentile(plain, 0.99), 2),
                "page_ms_max": round(max(plain), 2),
                "filtered_pages": len(filtered),
                "filtered_total_row_count": chrome,
                "filtered_page_ms_p50": round(percentile(filtered, 0.5), 2),
                "filtered_page_ms_p99": round(percentile(filtered, 0.99), 2),
                "rss_mb_before_paging": round(rss_before, 1),
                "rss_mb_after_paging": round(rss_after, 1),
                "rss_mb_max_while_paging": round(max(samples + rss_trace + [rss_after]), 1),
                "rss_mb_growth_while_paging": round(rss_after - rss_before, 1),
                "target_page_ms": 50,
            }
        )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 views; no 10M memory run")
    parser.add_argument("--big-views", type=int, default=10_000_000, help="views for the memory run")
    parser.add_argument("--serve-only", type=int, default=0, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args(argv)
    if args.serve_only:
        with tempfile.TemporaryDirectory(prefix="emulator-bench-") as root:
            print(json.dumps(serving(args.serve_only, 1_000, Path(root))))
        return

    views = 100_000 if args.quick else 1_000_000
    # Other work on a shared machine skews every figure here; the load averages say how much.
    figures: dict[str, Any] = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    figures |= {"generate": time_generation(views), "target_generate_seconds": 60}
    print(f"generate {views:,} views: {figures['generate']['seconds']} s")
    with tempfile.TemporaryDirectory(prefix="emulator-bench-") as root:
        figures["serve"] = serving(views, 200 if args.quick else 500, Path(root))
    serve = figures["serve"]
    print(f"pages of 100 over {views:,} views: p50 {serve['page_ms_p50']} ms, p99 {serve['page_ms_p99']} ms")
    if not args.quick:
        child = subprocess.run(
            [sys.executable, "-m", "bench.emulator_bench", "--serve-only", str(args.big_views)],
            capture_output=True,
            text=True,
            check=True,
        )
        big = json.loads(child.stdout.strip().splitlines()[-1])
        figures["big"] = big
        print(
            f"{args.big_views:,} views: generated in {big['simulate_seconds_generate']} s, store {big['store_mb']} MB, "
            f"RSS {big['rss_mb_before_paging']} -> {big['rss_mb_after_paging']} MB over {big['pages']} pages "
            f"(peak while simulating {big['rss_mb_peak_during_simulate']} MB), "
            f"page p50 {big['page_ms_p50']} ms p99 {big['page_ms_p99']} ms"
        )
    figures["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("emulator" + ("-quick" if args.quick else ""), figures)
    print(f"-> {path}")


if __name__ == "__main__":
    main()

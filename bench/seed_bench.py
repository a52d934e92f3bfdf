"""Seed speed: `lectern seed --students 20000` on PostgreSQL (target: under 60 s)."""

from __future__ import annotations

import argparse
import time

from bench.common import scratch_postgres, write_result
from core.db.engine import make_engine
from core.db.migrate import upgrade
from lectern.sample_data import SeedConfig, build_platform
from lectern.seed import write_platform


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 students instead of 20,000")
    args = parser.parse_args(argv)
    students = 2_000 if args.quick else 20_000
    with scratch_postgres() as url:
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        platform = build_platform(SeedConfig(seed=7, students=students))
        built = time.perf_counter()
        counts = write_platform(engine, platform)
        done = time.perf_counter()
        engine.dispose()
    rows = sum(counts.values())
    figures = {
        "students": students,
        "rows": counts,
        "seconds_total": round(done - started, 2),
        "seconds_generate": round(built - started, 2),
        "seconds_write": round(done - built, 2),
        "rows_per_second_write": round(rows / (done - built)),
        "target_seconds": 60,
    }
    path = write_result("seed" + ("-quick" if args.quick else ""), figures)
    print(f"seed {students:,} students on PostgreSQL: {figures['seconds_total']} s ({rows:,} rows) -> {path}")


if __name__ == "__main__":
    main()

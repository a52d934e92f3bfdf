"""Warehouse and sync: views from the emulator into DuckDB end to end, the loader alone, an incremental run
with nothing new, and the dashboards' named queries on a 10,000,000-view warehouse.

    python -m bench.warehouse_bench --quick    # 50,000 views everywhere: a smoke run
    python -m bench.warehouse_bench            # 1,000,000 views end to end; 10,000,000 for the queries

End to end is a backfill the way it runs against an account with Mux Data view exports: the views are
simulated over the seven whole UTC days before today (the days Mux keeps export files for), so the views
job loads them from the daily export files; the other 83 days of its 90-day range are list calls that
find nothing. The loader alone (warehouse/loaders.py: typed Arrow batches upserted by view id, with the
sync's batch size and writer settings) loads the same rows into a fresh warehouse, three times, and the
same rows again (all updates). Reported beside it, not as the loader: the same export files through
DuckDB's CSV reader (parsing 67 text columns is most of that), and the JSON transform of the list+get path.

Targets: >= 20,000 views/s end to end; loader >= 500,000 rows/s; peak RSS of the sync < 1 GB; an
incremental run with nothing new < 2 s; every dashboard query < 150 ms on 10M views. Each phase runs in
its own process (the emulator in another) so its memory figure is its own. Results go to
bench/results/warehouse.json (warehouse-quick.json for --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import write_result

TARGETS = {
    "e2e_views_per_s": 20_000,
    "loader_rows_per_s": 500_000,
    "peak_rss_mb": 1024,
    "incremental_nothing_new_s": 2.0,
    "dashboard_query_ms": 150,
}
ROOT = Path(__file__).resolve().parents[1]


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- end to end ----------------------------------------------------------------------------------------


PSEUDONYM_KEY = "bench-pseudonym-key-0123456789abcdef"


def build_world(root: Path, students: int) -> tuple[str, Path, dict[str, Any], dict[str, list[str]]]:
    """A seeded SQLite platform whose every lesson is on Mux, and the emulator state holding those assets."""
    from sqlalchemy import update

    from core.db.engine import make_engine
    from core.db.migrate import upgrade
    from core.db.models import Lesson
    from core.privacy import student_key
    from emulator.state import AssetRecord, Store
    from lectern.sample_data import SeedConfig, build_platform
    from lectern.seed import write_platform

    db_url = f"sqlite:///{root / 'platform.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    platform = build_platform(SeedConfig(seed=11, teachers=6, courses=12, students=students, days=90))
    write_platform(engine, platform)
    store = Store(root / "emulator" / "state.json")
    lessons: dict[str, Any] = {}
    with engine.begin() as conn:
        for seq, lesson in enumerate(platform.lessons, start=1):
            asset_id = f"benchAsset{lesson['id']:05d}" + "x" * 28
            conn.execute(
                update(Lesson)
                .where(Lesson.id == lesson["id"])
                .values(video_provider="mux", video_status="ready", mux_asset_id=asset_id, video_duration_s=600.0)
            )
            store.assets[asset_id] = AssetRecord(
                data={
                    "id": asset_id,
                    "created_at": "1730000000",
                    "status": "ready",
                    "duration": float(lesson["duration_s"] or 600.0),
                    "resolution_tier": "1080p",
                    "max_resolution_tier": "1080p",
                    "video_quality": "basic",
                    "passthrough": str(lesson["id"]),
                    "playback_ids": [{"id": f"pb{lesson['id']:05d}", "policy": "public"}],
                },
                seq=seq,
                has_video=True,
            )
            store.seq = seq
            lessons[str(lesson["id"])] = {
                "asset_id": asset_id,
                "course": str(lesson["course_id"]),
                "position": lesson["position"],
            }
    store.commit()
    engine.dispose()
    # Students watch under their keys, as the player sends them (core/privacy.py): views under platform ids
    # would make the platform job re-key them all, a one-off of an upgrade, not the steady state measured here.
    secret = PSEUDONYM_KEY.encode()
    students_by_course: dict[str, list[str]] = {}
    for e in platform.enrollments:
        students_by_course.setdefault(str(e["course_id"]), []).append(str(student_key(secret, int(e["user_id"]))))
    return db_url, root / "emulator" / "state.json", lessons, students_by_course


def start_emulator(state_file: Path, port: int) -> subprocess.Popen[bytes]:
    code = (
        "from pathlib import Path\n"
        "from emulator.config import EmulatorConfig\n"
        "from emulator.server import serve\n"
        f"serve(EmulatorConfig(host='127.0.0.1', port={port}, token_id='bench', token_secret='bench-secret', "
        f"state_file=Path({str(state_file)!r}), data_dir=Path({str(state_file.parent / 'media')!r}), "
        "log_level='warning'))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("emulator did not start")


def phase_e2e(views: int, workdir: Path) -> dict[str, Any]:
    from core.settings import load_settings
    from sync.runner import SyncContext, run_jobs
    from tests.conftest import free_port

    db_url, state_file, lessons, students = build_world(workdir, students=3000)
    port = free_port()
    emulator = start_emulator(state_file, port)
    try:
        url = f"http://127.0.0.1:{port}"
        # The seven whole UTC days before today, sessions starting until 22:00 on the last one so that every
        # view has ended by midnight: each one is in a day Mux has an export file for.
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end = midnight - timedelta(hours=2)
        started = time.perf_counter()
        sim = httpx.post(
            f"{url}/_emulator/simulate",
            json={
                "views": views,
                "days": 7 - 2 / 24,
                "seed": 21,
                "end": end.timestamp(),
                "lessons": lessons,
                "students": students,
            },
            timeout=600,
        )
        sim.raise_for_status()
        simulate_s = time.perf_counter() - started
        settings = load_settings(
            DATABASE_URL=db_url,
            LECTERN_WAREHOUSE_PATH=str(workdir / "var" / "warehouse.duckdb"),
            MUX_API_URL=url,
            MUX_TOKEN_ID="bench",
            MUX_TOKEN_SECRET="bench-secret",
            LECTERN_PSEUDONYM_KEY=PSEUDONYM_KEY,
        )
        ctx = SyncContext.from_settings(settings)
        now = midnight + timedelta(minutes=10)
        ctx.clock = lambda: now
        timings: dict[str, float] = {}
        loaded: dict[str, int] = {}
        details: dict[str, Any] = {}
        for job in ("platform", "assets", "views", "delivery_usage"):
            t0 = time.perf_counter()
            (result,) = run_jobs(ctx, [job])
            if result.status != "ok":
                raise RuntimeError(f"{job} failed: {result.error}")
            timings[job] = time.perf_counter() - t0
            loaded[job] = result.rows
            if job == "views":
                details = {k: v for k, v in result.details.items() if k not in ("start", "end")}
        rss_after_backfill = rss_peak_mb()
        later = now + timedelta(minutes=5)
        ctx.clock = lambda: later
        t0 = time.perf_counter()
        (incremental,) = run_jobs(ctx, ["views"])
        incremental_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = run_jobs(ctx, ["platform", "assets", "views", "delivery_usage"])
        all_jobs_s = time.perf_counter() - t0
        ctx.close()
        stats = httpx.get(f"{url}/_emulator/stats").json()["data"]["requests"]
        size_mb = (workdir / "var" / "warehouse" / "work.duckdb").stat().st_size / 1e6
        export_bytes = save_export_files(url, workdir / "exports")
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    return {
        "views_simulated": views,
        "views_loaded": loaded["views"],
        "simulate_seconds": round(simulate_s, 2),
        "job_seconds": {k: round(v, 2) for k, v in timings.items()},
        "views_per_second": round(loaded["views"] / timings["views"]),
        "views_job": details,
        "export_files": export_bytes,
        "http_requests": {k: v["count"] for k, v in stats.items()},
        "warehouse_mb": round(size_mb, 1),
        "peak_rss_mb": round(rss_after_backfill, 1),
        "load_average_during": [round(x, 2) for x in os.getloadavg()],
        "incremental_nothing_new": {
            "views_job_seconds": round(incremental_s, 3),
            "new_rows": incremental.new_rows,
            "exports_unchanged": incremental.details.get("exports_unchanged"),
            "all_four_jobs_seconds": round(all_jobs_s, 3),
            "all_four_new_rows": sum(r.new_rows for r in again if r.job in ("views", "delivery_usage")),
        },
        "note": "Whole days come from Mux Data's daily view export files (one download per day, built by the "
        "emulator on first request, loaded by DuckDB's CSV reader while the next day downloads). Views of "
        "days without an export still cost one get-video-view call each (about 290 views/s here).",
    }


def save_export_files(url: str, directory: Path) -> dict[str, Any]:
    """The export files the sync loaded, downloaded again (gzipped, as served) for the loader-alone phase."""
    directory.mkdir(parents=True, exist_ok=True)
    listing = httpx.get(f"{url}/data/v1/exports/views", auth=("bench", "bench-secret"), timeout=60).json()["data"]
    sizes = {"files": 0, "gzip_mb": 0.0}
    for item in listing:
        target = directory / f"{item['export_date']}.csv.gz"
        with httpx.stream("GET", item["files"][0]["path"], timeout=600) as response, target.open("wb") as out:
            response.raise_for_status()
            for chunk in response.iter_raw(1 << 20):
                out.write(chunk)
        sizes["files"] += 1
        sizes["gzip_mb"] += target.stat().st_size / 1e6
    sizes["gzip_mb"] = round(sizes["gzip_mb"], 1)
    return sizes


# --- loader alone ----------------------------------------------------------------------------------------

# Mux field <- warehouse column, with the fields Mux sends as strings (see warehouse/loaders.py).
_AS_STRING = {"view_playing_time", "view_max_playhead_position", "rebuffer_percentage", "viewer_experience_score"}


def _mux_rows(batch: Any) -> list[dict[str, Any]]:
    from warehouse.loaders import VIEW_FIELDS

    columns = batch.to_pydict()
    out: list[dict[str, Any]] = []
    n = batch.num_rows
    mapping = {fields[0]: column for column, fields in VIEW_FIELDS.items()}
    for i in range(n):
        row: dict[str, Any] = {}
        for field, column in mapping.items():
            value = columns[column][i]
            if isinstance(value, datetime):
                value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
            elif field in _AS_STRING and value is not None:
                value = str(value)
            row[field] = value
        out.append(row)
    return out


LOADER_PASSES = 3  # each into a fresh warehouse; the median is the figure (this machine's speed drifts)


def phase_loader(source_db: Path, workdir: Path) -> dict[str, Any]:
    """The loader alone on the end-to-end run's rows: typed Arrow batches upserted by view id into DuckDB
    (warehouse/loaders.py: the batches the sync hands it, the writer's settings), then the same rows again
    (every one an update). Apart from it: the transform of the same rows as Mux JSON (dicts -> Arrow)."""
    import duckdb
    import pyarrow as pa

    from core.settings import Settings
    from warehouse.loaders import upsert, views_to_arrow
    from warehouse.rollups import refresh_rollups
    from warehouse.store import WarehouseLayout, WarehouseWriter

    settings = Settings()
    src = duckdb.connect(str(source_db), read_only=True)
    table = src.sql("SELECT * EXCLUDE (view_key) FROM mux_views ORDER BY view_end").to_arrow_table()
    src.close()
    rows = table.num_rows
    batches = [pa.Table.from_batches([b]) for b in table.to_batches(settings.sync_batch_rows)]
    fresh: list[float] = []
    again: list[float] = []
    rollup_s = 0.0
    for i in range(LOADER_PASSES):
        writer = WarehouseWriter(
            WarehouseLayout(workdir / f"loader-{i}" / "warehouse.duckdb"),
            memory_limit=settings.warehouse_memory_limit,
            threads=settings.warehouse_writer_threads,
        )
        with writer.open(publish=False) as con:
            for timings in (fresh, again):
                t0 = time.perf_counter()
                con.execute("BEGIN TRANSACTION")
                for batch in batches:
                    upsert(con, "mux_views", batch, ["view_id"])
                con.execute("COMMIT")
                timings.append(time.perf_counter() - t0)
            count = con.execute("SELECT count(*), count(DISTINCT view_id) FROM mux_views").fetchall()[0]
            if count != (rows, rows):
                raise RuntimeError(f"the loader left {count} rows (total, distinct) for {rows} views")
            if i == 0:
                t0 = time.perf_counter()
                con.execute("BEGIN TRANSACTION")
                refresh_rollups(con, None)
                con.execute("COMMIT")
                rollup_s = time.perf_counter() - t0
        shutil.rmtree(workdir / f"loader-{i}", ignore_errors=True)
    loader_peak = rss_peak_mb()
    # The list+get path's transform, on the same rows as Mux JSON: dicts -> typed Arrow.
    transform_s = 0.0
    now = datetime.now(UTC)
    for batch in table.to_batches(settings.sync_batch_rows):
        dicts = _mux_rows(batch)
        t0 = time.perf_counter()
        views_to_arrow(dicts, loaded_at=now)
        transform_s += time.perf_counter() - t0
    upsert_s = statistics.median(fresh)
    return {
        "rows": rows,
        "batch_rows": settings.sync_batch_rows,
        "writer_threads": settings.warehouse_writer_threads,
        "passes": LOADER_PASSES,
        "loader_rows_per_second": round(rows / upsert_s),
        "loader_rows_per_second_each_pass": [round(rows / t) for t in fresh],
        "reupsert_rows_per_second": round(rows / statistics.median(again)),
        "reupsert_rows_per_second_each_pass": [round(rows / t) for t in again],
        "rollup_refresh_seconds": round(rollup_s, 2),
        "loader_peak_rss_mb": round(loader_peak, 1),
        "transform_rows_per_second": round(rows / transform_s),
        "json_to_duckdb_rows_per_second": round(rows / (transform_s + upsert_s)),
    }


def phase_export_loader(exports: Path, workdir: Path) -> dict[str, Any]:
    """The export path's loader alone: the e2e run's export files -> staging -> upsert into an empty warehouse."""
    import zlib

    import duckdb

    from warehouse.rollups import refresh_rollups
    from warehouse.schema import migrate
    from warehouse.view_exports import load_export_file, read_header

    plain = workdir / "csv"
    plain.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    csv_bytes = 0
    for gz in sorted(exports.glob("*.csv.gz")):
        # What the sync does while downloading: gunzip on the way to disk.
        decoder = zlib.decompressobj(wbits=31)
        with gz.open("rb") as src, (plain / gz.name.removesuffix(".gz")).open("wb") as out:
            while chunk := src.read(1 << 20):
                data = decoder.decompress(chunk)
                csv_bytes += len(data)
                out.write(data)
    gunzip_s = time.perf_counter() - t0
    target = duckdb.connect(str(workdir / "export-load.duckdb"))
    migrate(target)
    target.execute("SET TimeZone = 'UTC'")
    now = datetime.now(UTC)
    timings: list[float] = []
    rows = 0
    days: list[Any] = []
    for round_ in range(2):  # first into an empty warehouse, then every row again (the re-published case)
        t0 = time.perf_counter()
        for path in sorted(plain.glob("*.csv")):
            target.execute("BEGIN TRANSACTION")
            loaded = load_export_file(target, path, loaded_at=now)
            target.execute("COMMIT")
            if round_ == 0:
                rows += loaded.rows
                days += [d for d in loaded.days or ()]
        timings.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    target.execute("BEGIN TRANSACTION")
    refresh_rollups(target, (min(days), max(days)) if days else None)
    target.execute("COMMIT")
    rollups_s = time.perf_counter() - t0
    target.close()
    return {
        "rows": rows,
        "files": len(list(plain.glob("*.csv"))),
        "csv_mb": round(csv_bytes / 1e6, 1),
        "columns_per_row": len(read_header(first)) if (first := next(plain.glob("*.csv"), None)) else 0,
        "loader_rows_per_second": round(rows / timings[0]),
        "reload_rows_per_second": round(rows / timings[1]),
        "gunzip_seconds": round(gunzip_s, 2),
        "rollups_seconds": round(rollups_s, 2),
        "peak_rss_mb": round(rss_peak_mb(), 1),
    }


# --- dashboard queries on a big warehouse -------------------------------------------------------------


def synthesize(con: Any, views: int, days: int = 365) -> None:
    """A plausible platform and `views` views straight in SQL: a year of traffic growing from 1x to 2x a day,
    lessons skewed towards each course's first ones, 50,000 students; then the real rollups."""
    end = datetime(2025, 6, 1, tzinfo=UTC)
    con.execute(
        "INSERT INTO users SELECT i, CASE WHEN i <= 20 THEN 'User ' || i END, "
        "CASE WHEN i <= 20 THEN 'teacher' ELSE 'student' END, TIMESTAMPTZ '2024-01-01' FROM range(1, 50021) t(i)"
    )
    con.execute(
        "INSERT INTO courses SELECT i, 1 + (i - 1) % 20, 'Course ' || i, '', TIMESTAMPTZ '2024-01-01' "
        "FROM range(1, 41) t(i)"
    )
    con.execute(
        "INSERT INTO lessons (id, course_id, position, title, duration_s, video_provider, mux_asset_id, "
        "video_status, video_duration_s) SELECT i, 1 + (i - 1) // 12, 1 + (i - 1) % 12, 'Lesson ' || i, 600, 'mux', "
        "'asset' || i, 'ready', 600 FROM range(1, 481) t(i)"
    )
    con.execute(
        "INSERT INTO enrollments SELECT row_number() OVER (), s, c, TIMESTAMPTZ '2024-12-01' FROM "
        "(SELECT DISTINCT 21 + (hash(i) % 50000) AS s, 1 + hash(i * 7) % 40 AS c FROM range(120000) t(i))"
    )
    con.execute(
        "INSERT INTO lesson_progress SELECT row_number() OVER (), e.user_id, l.id, 300, 450, "
        "CASE WHEN hash(e.user_id * l.id) % 3 = 0 THEN TIMESTAMPTZ '2025-03-01' END, TIMESTAMPTZ '2025-03-01' "
        "FROM enrollments e JOIN lessons l ON l.course_id = e.course_id WHERE l.position <= 1 + hash(e.user_id) % 12"
    )
    span = days * 86_400
    con.execute(
        f"""INSERT INTO mux_views BY NAME
        SELECT 'v-' || i AS view_id, hash('v-' || i) AS view_key, u::VARCHAR AS viewer_user_id, u AS user_id,
               lesson::VARCHAR AS video_id,
               lesson AS lesson_id, 'Lesson ' || lesson AS video_title, 'asset' || lesson AS asset_id,
               'pb' || lesson AS playback_id, ts AS view_start, ts + to_seconds(watch // 1000) AS view_end,
               ts::DATE AS view_day, watch AS watch_time_ms, watch - 800 AS playing_time_ms,
               least(watch, 600000) AS max_playhead_ms, 600000 AS video_duration_ms,
               300 + hash(i * 11) % 2500 AS startup_time_ms, hash(i * 13) % 3 AS rebuffer_count,
               (hash(i * 13) % 3) * 900 AS rebuffer_duration_ms, (hash(i * 17) % 100) / 10000.0 AS rebuffer_percentage,
               hash(i * 19) % 200 = 0 AS playback_failure, hash(i * 23) % 300 = 0 AS video_startup_failure,
               hash(i * 29) % 80 = 0 AS exit_before_video_start, NULL AS error_type_id, NULL AS error_code,
               NULL AS error_message,
               ['Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet'][1 + (hash(i * 31) % 5)::BIGINT] AS browser,
               ['Windows', 'macOS', 'iOS', 'Android', 'Linux'][1 + (hash(i * 37) % 5)::BIGINT] AS os,
               ['desktop', 'phone', 'tablet'][1 + (hash(i * 41) % 3)::BIGINT] AS device, 'US' AS country,
               'lectern-web' AS player, 0.8 + (hash(i * 43) % 20) / 100.0 AS viewer_experience_score,
               TIMESTAMPTZ '{end.isoformat()}' AS loaded_at
        FROM (
            SELECT i,
                   21 + hash(i * 3) % 50000 AS u,
                   1 + floor(480 * pow((hash(i * 5) % 1000000) / 1000000.0, 1.6))::BIGINT AS lesson,
                   TIMESTAMPTZ '{end.isoformat()}'
                       - to_seconds({span} - floor({span} * (sqrt(1 + 3 * i / {views}.0) - 1))::BIGINT) AS ts,
                   (hash(i * 7) % 660000)::BIGINT AS watch
            FROM range({views}) t(i)
        )"""
    )
    con.execute(
        f"""INSERT INTO delivery_usage BY NAME
        SELECT 'asset' || l AS asset_id, d::TIMESTAMPTZ AS window_start, d::TIMESTAMPTZ + INTERVAL 1 DAY AS window_end,
               d::DATE AS usage_day, l::VARCHAR AS passthrough, l AS lesson_id,
               3600.0 * (1 + hash(l, d) % 10) AS delivered_seconds, 0.0 AS delivered_seconds_720p,
               0.0 AS delivered_seconds_1080p,
               0.0 AS delivered_seconds_1440p, 0.0 AS delivered_seconds_2160p, 0.0 AS delivered_seconds_audio_only,
               'ready' AS asset_state, 600.0 AS asset_duration_s, '1080p' AS asset_resolution_tier,
               'basic' AS asset_video_quality, TIMESTAMPTZ '{end.isoformat()}' AS loaded_at
        FROM range(1, 481) a(l),
             range(DATE '{(end - timedelta(days=90)).date()}', DATE '{end.date()}', INTERVAL 1 DAY) b(d)"""
    )


def phase_dashboard(views: int, workdir: Path) -> dict[str, Any]:
    from warehouse import queries
    from warehouse.reader import WarehouseReader
    from warehouse.rollups import refresh_platform_rollups, refresh_rollups
    from warehouse.store import WarehouseLayout, WarehouseWriter

    writer = WarehouseWriter(WarehouseLayout(workdir / "warehouse.duckdb"), memory_limit="2GB")
    t0 = time.perf_counter()
    with writer.open() as con:
        synthesize(con, views)
        refresh_rollups(con, None)
        refresh_platform_rollups(con)
    build_s = time.perf_counter() - t0
    reader = WarehouseReader(writer.layout.pointer)
    end = date(2025, 5, 31)
    d30, d90 = end - timedelta(days=29), end - timedelta(days=89)
    teacher = 3
    cases: dict[str, Callable[[Any], Any]] = {
        "kpis_30d_all": lambda c: queries.engagement_kpis(c, start=d30, end=end),
        "kpis_90d_all": lambda c: queries.engagement_kpis(c, start=d90, end=end),
        "kpis_30d_teacher": lambda c: queries.engagement_kpis(c, start=d30, end=end, teacher_id=teacher),
        "kpis_90d_course": lambda c: queries.engagement_kpis(c, start=d90, end=end, course_id=3, teacher_id=teacher),
        "trend_90d_all": lambda c: queries.engagement_trend(c, start=d90, end=end),
        "trend_90d_teacher": lambda c: queries.engagement_trend(c, start=d90, end=end, teacher_id=teacher),
        "lesson_table_30d_all": lambda c: queries.lesson_table(c, start=d30, end=end),
        "lesson_table_90d_teacher": lambda c: queries.lesson_table(c, start=d90, end=end, teacher_id=teacher),
        "retention_90d_lesson": lambda c: queries.retention_curve(c, lesson_id=5, start=d90, end=end),
        "funnel_course": lambda c: queries.course_funnel(c, course_id=3, teacher_id=teacher),
        "students_30d_course": lambda c: queries.students_table(c, start=d30, end=end, course_id=3),
        "students_90d_teacher": lambda c: queries.students_table(c, start=d90, end=end, teacher_id=teacher),
        "qoe_browser_30d_all": lambda c: queries.qoe_breakdown(c, start=d30, end=end, by="browser"),
        "qoe_os_30d_teacher": lambda c: queries.qoe_breakdown(c, start=d30, end=end, by="os", teacher_id=teacher),
        "qoe_browser_90d_all": lambda c: queries.qoe_breakdown(c, start=d90, end=end, by="browser"),
        "usage_by_day_90d_all": lambda c: queries.usage_by_day(c, start=d90, end=end),
        "usage_by_asset_90d_teacher": lambda c: queries.usage_by_asset(c, start=d90, end=end, teacher_id=teacher),
    }
    results: dict[str, float] = {}
    for name, run in cases.items():
        samples = []
        for i in range(6):
            with reader.connect() as con:
                t = time.perf_counter()
                run(con)
                if i:  # the first run warms the page cache and DuckDB's buffers
                    samples.append((time.perf_counter() - t) * 1000)
        results[name] = round(statistics.median(samples), 1)
    with reader.connect() as con:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM mux_views), (SELECT count(*) FROM viewer_lesson_daily), "
            "(SELECT count(*) FROM lesson_progress)"
        ).fetchall()[0]
    reader.close()
    size_mb = sum(p.stat().st_size for p in writer.layout.snapshot_files()) / 1e6
    snapshot = writer.layout.published()
    assert snapshot is not None
    return {
        "views": counts[0],
        "viewer_lesson_daily_rows": counts[1],
        "lesson_progress_rows": counts[2],
        "build_seconds": round(build_s, 1),
        "snapshot_mb": round(size_mb, 1),
        "query_ms_median": results,
        "slowest_ms": max(results.values()),
        "over_target": [k for k, v in results.items() if v >= TARGETS["dashboard_query_ms"]],
    }


# --- driver ------------------------------------------------------------------------------------------


def run_phase(name: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.warehouse_bench", "--phase", name, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "LECTERN_LOG_LEVEL": "WARNING"},
    )
    if out.returncode != 0:
        raise RuntimeError(f"phase {name} failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 views everywhere.")
    parser.add_argument("--views", type=int, default=None, help="Views end to end (default 1,000,000).")
    parser.add_argument("--dashboard-views", type=int, default=None, help="Views for the query run (default 10M).")
    parser.add_argument("--phase", choices=["e2e", "loader", "export_loader", "dashboard"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase:
        args.workdir.mkdir(parents=True, exist_ok=True)
        if args.phase == "e2e":
            figures = phase_e2e(args.views, args.workdir)
        elif args.phase == "loader":
            figures = phase_loader(args.source, args.workdir)
        elif args.phase == "export_loader":
            figures = phase_export_loader(args.source, args.workdir)
        else:
            figures = phase_dashboard(args.dashboard_views, args.workdir)
        print(json.dumps(figures, default=str))
        return 0

    views = args.views or (50_000 if args.quick else 1_000_000)
    dashboard_views = args.dashboard_views or (50_000 if args.quick else 10_000_000)
    workdir = Path(tempfile.mkdtemp(prefix="warehouse-bench-"))
    try:
        print(f"end to end: {views:,} views from the emulator ...", flush=True)
        e2e = run_phase("e2e", "--views", str(views), "--workdir", str(workdir / "e2e"))
        print(json.dumps(e2e, indent=2), flush=True)
        print("the same rows from the export files (CSV parsing + load) ...", flush=True)
        exports = workdir / "e2e" / "exports"
        export_loader = run_phase("export_loader", "--source", str(exports), "--workdir", str(workdir / "xload"))
        print(json.dumps(export_loader, indent=2), flush=True)
        source = workdir / "e2e" / "var" / "warehouse" / "work.duckdb"
        print("... and the loader alone: the same rows as typed Arrow batches, upserted ...", flush=True)
        loader = run_phase("loader", "--source", str(source), "--workdir", str(workdir / "loader"))
        print(json.dumps(loader, indent=2), flush=True)
        print(f"dashboard queries on {dashboard_views:,} views ...", flush=True)
        dashboard = run_phase(
            "dashboard", "--dashboard-views", str(dashboard_views), "--workdir", str(workdir / "dashboard")
        )
        print(json.dumps(dashboard, indent=2), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    verdict = {
        "e2e_views_per_s": e2e["views_per_second"] >= TARGETS["e2e_views_per_s"],
        # The loader (warehouse/loaders.py): typed Arrow batches upserted into DuckDB, the same rows as end to
        # end. Parsing the export CSV and the JSON transform are sources' work, reported beside it.
        "loader_rows_per_s": loader["loader_rows_per_second"] >= TARGETS["loader_rows_per_s"],
        # The sync's own process (the end-to-end run). The loader phases are harnesses with their own memory
        # figures (the loader phase holds all 1M rows in memory at once, unlike the sync).
        "peak_rss_mb": e2e["peak_rss_mb"] < TARGETS["peak_rss_mb"],
        "incremental_nothing_new_s": e2e["incremental_nothing_new"]["views_job_seconds"]
        < TARGETS["incremental_nothing_new_s"],
        "dashboard_query_ms": not dashboard["over_target"],
    }
    path = write_result(
        "warehouse-quick" if args.quick else "warehouse",
        {
            "targets": TARGETS,
            "met": verdict,
            # Other work on the machine slows every figure; the 1-minute load average says how much.
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "e2e": e2e,
            "export_loader": export_loader,
            "loader": loader,
            "dashboard": dashboard,
        },
    )
    print(f"results: {path}; targets met: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

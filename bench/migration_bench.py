"""S3-to-Mux migration throughput: 200 lessons (20 with --quick), concurrency 8, emulator + moto over HTTP.

Presigned mode is measured end to end (plan -> start -> worker until idle) with the worker's transfer
counters: bytes Lectern read from S3 and sent to Mux must be 0 (Mux fetched every video itself). A small
stream-mode run follows as a control, proving the same counters see every byte when bytes DO go through
Lectern. The limiting factor is read from the emulator's own events (how many assets waited for its
processing threads) and the machine's CPU use during the run.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from bench.common import scratch_postgres, write_result
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import upgrade
from core.db.models import Course, Lesson, User
from core.migration.jobs import JobStore
from core.migration.service import MigrationService
from core.migration.worker import MigrationWorker
from core.mux.service import MuxService
from core.playback import PlaybackService, PlaybackSigner
from core.settings import Settings, load_settings
from core.storage import StorageService, build_s3_client
from emulator.testing import EmulatorServer
from lectern.sample_media import sample_clips


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _moto() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def _database(use_sqlite: bool, workdir: Path) -> Iterator[str]:
    if use_sqlite:
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    with scratch_postgres("lectern_migration_bench") as url:
        yield url


def _seed(settings: Settings, factory: Any, clips: list[Path], count: int, prefix: str) -> int:
    """`count` legacy lessons, each with its own S3 object (the clips reused round-robin)."""
    s3 = boto3.client(
        "s3",
        endpoint_url=str(settings.s3_endpoint_url),
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    )
    durations = {c: float(c.stem.split("-")[-1].rstrip("s")) for c in clips}
    with transaction(factory) as s:
        teacher = User(email=f"{prefix}@bench.test", name="Bench Teacher", role="teacher", password_hash="!")
        s.add(teacher)
        s.flush()
        course = Course(teacher_id=teacher.id, title=f"Bench {prefix}")
        s.add(course)
        s.flush()
        for n in range(count):
            clip = clips[n % len(clips)]
            key = f"{prefix}/lesson-{n}.mp4"
            s3.upload_file(str(clip), settings.s3_bucket, key)
            s.add(
                Lesson(
                    course_id=course.id,
                    position=n,
                    title=f"{prefix} {n}",
                    video_url=key,
                    duration_s=durations[clip],
                    video_duration_s=durations[clip],
                    video_provider="s3",
                    video_status="ready",
                )
            )
        return int(course.id)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _run(
    settings: Settings, factory: Any, mux: MuxService, storage: StorageService, course_id: int, mode: str
) -> dict[str, Any]:
    service = MigrationService(settings, factory, storage=storage, mux=mux)
    started = time.perf_counter()
    plan = service.plan().subset(course_id=course_id)
    planned = time.perf_counter()
    service.start(plan, ingest_mode=mode)
    playback = PlaybackService(settings, storage=storage, signer=PlaybackSigner.from_settings(settings))
    worker = MigrationWorker(settings, factory, mux, storage, playback=playback)
    cpu0, t0 = _cpu(), time.perf_counter()
    stats = worker.run(until_idle=True)
    wall = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    worker.close()
    jobs = [j for j in JobStore(factory).list() if j.lesson_id in {i.lesson_id for i in plan.items}]
    latencies = sorted((j.finished_at - j.started_at).total_seconds() for j in jobs if j.finished_at and j.started_at)
    return {
        "lessons": len(plan.items),
        "done": stats.done,
        "failed": stats.failed,
        "plan_seconds": round(planned - started, 2),
        "worker_seconds": round(wall, 2),
        "lessons_per_min": round(len(plan.items) / wall * 60, 1),
        "job_seconds_p50": round(statistics.median(latencies), 2) if latencies else None,
        "job_seconds_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        "source_bytes": sum(j.source_size_bytes or 0 for j in jobs),
        "transfer": worker.counters.as_dict(),
        "bytes_proxied_recorded_on_jobs": sum(j.bytes_proxied for j in jobs),
        "cpu_seconds": round(cpu, 1),
        "cpu_utilisation_of_all_cores": round(cpu / (wall * (os.cpu_count() or 1)), 2),
        "mux_create_wait_s": round(worker.mux.writes.waited_s, 2),
    }


def _processing_backlog(emu: EmulatorServer) -> dict[str, Any]:
    """From the emulator's events: how many assets were waiting for (or in) processing, on average."""
    events = sorted(
        (datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")), e["type"])
        for e in emu.events()
        if e["type"] in ("video.asset.created", "video.asset.ready", "video.asset.errored")
    )
    if not events:
        return {}
    backlog, area, last = 0, 0.0, events[0][0]
    for at, kind in events:
        area += backlog * (at - last).total_seconds()
        backlog += 1 if kind == "video.asset.created" else -1
        last = at
    span = (events[-1][0] - events[0][0]).total_seconds() or 1.0
    ready = [at for at, kind in events if kind == "video.asset.ready"]
    return {
        "mean_assets_preparing": round(area / span, 1),
        "emulator_processing_threads": emu.config.processing_workers,
        "ready_per_min": round(len(ready) / span * 60, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 lessons instead of 200")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--processing-delay", type=float, default=0.05, help="emulator's minimum preparing time")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of a scratch PostgreSQL database")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines drown the result
    lessons = 20 if args.quick else 200
    streamed = 4 if args.quick else 10
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, _moto() as s3_url, _database(args.sqlite, Path(tmp)) as db_url:
        workdir = Path(tmp)
        clips = sample_clips(workdir / "clips", count=4)
        clip_notes = [f"{c.name} ({c.stat().st_size // 1024} KB)" for c in clips]
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client(
            "s3", endpoint_url=s3_url, aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
        ).create_bucket(Bucket=bucket)
        upgrade(db_url)
        engine = make_engine(db_url, pool_size=args.concurrency + 4) if not args.sqlite else make_engine(db_url)
        factory = make_session_factory(engine)
        with EmulatorServer(processing_delay=args.processing_delay) as emu:
            settings = load_settings(
                database_url=db_url,
                s3_endpoint_url=s3_url,
                s3_bucket=bucket,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
                mux_api_url=emu.url,
                mux_token_id=emu.token_id,
                mux_token_secret=emu.token_secret,
                mux_stream_base_url=f"{emu.url}/stream",
                mux_image_base_url=f"{emu.url}/image",
                migration_concurrency=args.concurrency,
                migration_poll_s=0.1,
                migration_heartbeat_s=1.0,
                migration_stale_after_s=10.0,
                # The emulator has no rate limit; real Mux allows about 1 create/s (see the note in the result).
                migration_mux_create_per_s=50.0,
                migration_mux_read_per_s=200.0,
                migration_probe_source=False,
                mux_upload_chunk_bytes=256 * 1024,
            )
            mux = MuxService(settings)
            storage = StorageService(settings, build_s3_client(settings), mux=mux)
            url_course = _seed(settings, factory, clips, lessons, "presigned")
            stream_course = _seed(settings, factory, clips, streamed, "streamed")
            presigned = _run(settings, factory, mux, storage, url_course, "url")
            presigned["emulator"] = _processing_backlog(emu)
            stream = _run(settings, factory, mux, storage, stream_course, "stream")
            assets = emu.stats()["assets"]
            mux.close()
        engine.dispose()
    ok = presigned["done"] == lessons and stream["done"] == streamed and assets["total"] == lessons + streamed
    proxied = presigned["transfer"]["s3_bytes_read"] + presigned["transfer"]["mux_bytes_sent"]
    emulator = presigned["emulator"]
    figures = {
        "lessons": lessons,
        "concurrency": args.concurrency,
        "database": "sqlite" if args.sqlite else "postgresql",
        "clips": clip_notes,
        "emulator_processing_delay_s": args.processing_delay,
        "presigned": presigned,
        "stream_control": stream,
        "mux_assets_created": assets["total"],
        "every_lesson_once": ok,
        # Other work on the machine skews every figure here; this says how busy it was.
        "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "bytes_proxied_presigned": proxied,
        "limiting_factor": (
            f"the emulator's media processing: {emulator.get('emulator_processing_threads')} ffmpeg threads "
            f"(HLS + thumbnail + storyboard per asset) on {os.cpu_count()} cores, with on average "
            f"{emulator.get('mean_assets_preparing')} assets queued for them while Lectern's {args.concurrency} "
            f"threads waited; CPU use {presigned['cpu_utilisation_of_all_cores']:.0%} of all cores. Against real "
            "Mux the limit is Mux's create rate (~1 asset/s = 60 lessons/min per account, the default "
            "LECTERN_MIGRATION_MUX_CREATE_PER_S) and Mux's processing time, not Lectern."
        ),
    }
    path = write_result("migration" + ("-quick" if args.quick else ""), figures)
    print(
        f"migration: {lessons} lessons in {presigned['worker_seconds']} s = {presigned['lessons_per_min']} lessons/min "
        f"(concurrency {args.concurrency}); bytes through Lectern in presigned mode: {proxied}; "
        f"stream control: {stream['transfer']['s3_bytes_read']:,} B read = {stream['source_bytes']:,} B of sources; "
        f"{'OK' if ok else 'NOT OK'} -> {path}"
    )
    if not ok or proxied:
        sys.exit(1)


if __name__ == "__main__":
    main()

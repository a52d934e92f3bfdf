"""API throughput: signed webhook events/s (verified, stored, applied) and signed-lesson playback/s.

    python -m bench.api_bench --quick     # SQLite, one worker, 2 s runs: a smoke run
    python -m bench.api_bench             # PostgreSQL (BENCH_DATABASE_URL / TEST_DATABASE_URL, own database),
                                          # `lectern api --workers 2` in its own processes

Everything goes over real HTTP from wrk (bench/wrk.py): keep-alive connections replaying distinct, pre-signed
requests for a fixed time, from a C load generator that leaves the cores to the server it measures.
Targets: >= 500 webhook events/s; >= 1,000 playback requests/s with p99 < 50 ms. Results (figures, CPU
seconds of server and load generator, machine, load average) go to bench/results/api.json (api-quick.json
for --quick).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from bench.common import scratch_postgres, write_result
from bench.wrk import Request, run_wrk
from core.auth import mint_token
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import upgrade
from core.db.models import Course, Enrollment, Lesson, User, WebhookEvent
from core.webhooks import sign

JWT_SECRET = "bench-platform-jwt-secret-0123456789abcdef"
WEBHOOK_SECRET = "whsec-bench"
STARTUP_TIMEOUT_S = 300.0  # `lectern` imports every command; on a busy 2-core machine that takes a while
TARGETS = {"webhook_events_per_s": 500, "playback_requests_per_s": 1000, "playback_p99_ms": 50}


# --- data ----------------------------------------------------------------------------------------


def signing_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return "bench-kid", base64.b64encode(pem).decode()


def seed(url: str, *, upload_lessons: int, signed_lessons: int, students: int) -> dict[str, list[int]]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        teacher = User(email="t@bench", name="T", role="teacher", password_hash="!")
        s.add(teacher)
        s.flush()
        course = Course(teacher_id=teacher.id, title="Bench")
        s.add(course)
        s.flush()
        people = [User(email=f"s{i}@bench", name=f"S{i}", role="student", password_hash="!") for i in range(students)]
        s.add_all(people)
        uploads = [
            Lesson(
                course_id=course.id,
                position=i,
                title=f"U{i}",
                playback_policy="signed",
                video_status="waiting_upload",
                mux_upload_id=f"up-{i}",
            )
            for i in range(upload_lessons)
        ]
        signed = [
            Lesson(
                course_id=course.id,
                position=upload_lessons + i,
                title=f"S{i}",
                playback_policy="signed",
                video_status="ready",
                video_provider="mux",
                mux_asset_id=f"as-{i}",
                mux_playback_id=f"pb-{i}",
                video_duration_s=600.0,
            )
            for i in range(signed_lessons)
        ]
        s.add_all(uploads + signed)
        s.flush()
        s.add_all(Enrollment(user_id=p.id, course_id=course.id) for p in people)
        ids = {
            "uploads": [lesson.id for lesson in uploads],
            "signed": [lesson.id for lesson in signed],
            "students": [p.id for p in people],
        }
    engine.dispose()
    return ids


def webhook_requests(lesson_ids: list[int]) -> list[Request]:
    """Three events per lesson (asset_created, asset.created, ready), signed now, in a realistic order."""
    now = int(time.time())
    out: list[Request] = []
    for n, lesson_id in enumerate(lesson_ids):
        upload_id, asset_id = f"up-{n}", f"asset-{n}"
        base = time.time()
        docs = [
            (
                "video.upload.asset_created",
                {
                    "id": upload_id,
                    "status": "asset_created",
                    "asset_id": asset_id,
                    "new_asset_settings": {"passthrough": str(lesson_id)},
                },
                "upload",
            ),
            (
                "video.asset.created",
                {"id": asset_id, "status": "preparing", "upload_id": upload_id, "passthrough": str(lesson_id)},
                "asset",
            ),
            (
                "video.asset.ready",
                {
                    "id": asset_id,
                    "status": "ready",
                    "upload_id": upload_id,
                    "duration": 3.0,
                    "passthrough": str(lesson_id),
                    "playback_ids": [{"id": f"pb-new-{n}", "policy": "signed"}],
                },
                "asset",
            ),
        ]
        for i, (event_type, data, object_type) in enumerate(docs):
            doc = {
                "type": event_type,
                "id": str(uuid.uuid4()),
                "object": {"type": object_type, "id": data["id"]},
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base)) + f".{i:06d}Z",
                "environment": {"id": "bench", "name": "bench"},
                "data": data,
                "attempts": [],
            }
            raw = json.dumps(doc).encode()
            headers = {"Mux-Signature": sign(raw, WEBHOOK_SECRET, now), "Content-Type": "application/json"}
            out.append(Request("POST", "/api/videos/mux/webhook", headers, raw))
    return out


def playback_requests(
    ids: dict[str, list[int]], viewers: int, *, count: int | None = None, seed_: int = 7
) -> list[Request]:
    """Every (viewer, lesson) pair once in random order, or `count` requests drawn from those pairs."""
    rng = random.Random(seed_)
    students = ids["students"][:viewers]
    auth = {s: {"Authorization": f"Bearer {mint_token(JWT_SECRET, s, ttl_s=3600)}"} for s in students}
    pairs = [(s, lesson) for s in students for lesson in ids["signed"]]
    chosen = rng.sample(pairs, len(pairs)) if count is None else [rng.choice(pairs) for _ in range(count)]
    return [Request("GET", f"/api/videos/{lesson}/playback", auth[s]) for s, lesson in chosen]


# --- server --------------------------------------------------------------------------------------


def server_env(url: str, key_id: str, private_key: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "LECTERN_PLATFORM_JWT_SECRET": JWT_SECRET,
        "MUX_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MUX_SIGNING_KEY_ID": key_id,
        "MUX_SIGNING_PRIVATE_KEY": private_key,
        "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "",
        "LECTERN_LOG_LEVEL": "WARNING",
        # One-hour buckets: the warm phase must not cross a bucket boundary (which re-signs every pair).
        "LECTERN_PLAYBACK_TOKEN_BUCKET_S": "3600",
        "LECTERN_PLAYBACK_TOKEN_TTL_S": "900",
    }


def proc_cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            pass
    return total


def child_pids(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(int(c) for c in children)]


@contextmanager
def serve(env: dict[str, str], workers: int) -> Iterator[tuple[str, list[int]]]:
    """`lectern api --workers N` (the production entry point) in a child process."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "lectern",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(cmd, env=os.environ | env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not _ready(url, workers):
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    log.seek(0)
                    raise RuntimeError(f"API did not start:\n{log.read().decode(errors='replace')[-3000:]}")
                time.sleep(0.2)
            yield url, child_pids(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _ready(url: str, workers: int) -> bool:
    """Ready when /readyz answers on fresh connections often enough that every worker has started."""
    try:
        return all(httpx.get(f"{url}/readyz", timeout=2).status_code == 200 for _ in range(4 * workers))
    except httpx.HTTPError:
        return False


@contextmanager
def database(quick: bool, name: str = "lectern_api_bench") -> Iterator[str]:
    """A throwaway platform database: SQLite in a temporary directory (quick), else PostgreSQL database `name`."""
    if quick:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
    else:
        with scratch_postgres(name) as url:
            yield url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="SQLite, one worker, short runs: a smoke run")
    parser.add_argument("--workers", type=int, default=None, help="uvicorn worker processes (default 2; quick 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (one keeps up with 2 workers)")
    parser.add_argument("--seconds", type=float, default=None, help="length of each measured run (default 10; quick 2)")
    parser.add_argument("--webhook-lessons", type=int, default=None, help="lessons x 3 events (default 6000)")
    args = parser.parse_args(argv)
    quick = args.quick
    workers = args.workers or (1 if quick else 2)
    seconds = args.seconds or (2.0 if quick else 10.0)
    webhook_lessons = args.webhook_lessons or (300 if quick else 6000)
    # Cold pairs (viewers x 20 signed lessons) must outlast the cold run: 10,000 pairs last 5 s up to 2,000/s.
    viewers = 20 if quick else 500

    def load(requests: list[Request], length: float = seconds) -> dict[str, Any]:
        return run_wrk(api_url, requests, seconds=length, connections=args.concurrency, threads=args.threads)

    key_id, private_key = signing_key()
    # Other work on the machine skews every figure; the load average says how much there was.
    load_before = [round(x, 2) for x in os.getloadavg()]
    with database(quick) as url:
        upgrade(url)
        ids = seed(url, upload_lessons=webhook_lessons, signed_lessons=20, students=viewers)
        env = server_env(url, key_id, private_key)
        with serve(env, workers) as (api_url, pids):
            health = [Request("GET", "/healthz", {})]
            load(health, 2.0)  # every worker up and warm
            # The ceiling: the same stack answering a route that does nothing (uvicorn + FastAPI + middleware).
            c = proc_cpu_seconds(pids)
            ceiling = load(health, seconds / 2) | {"server_cpu_s": round(proc_cpu_seconds(pids) - c, 2)}
            cpu0 = proc_cpu_seconds(pids)
            hooks = load(webhook_requests(ids["uploads"]))
            cpu1 = proc_cpu_seconds(pids)
            # Cold: each (viewer, lesson) pair at most once, so every answer signs three fresh RS256 tokens.
            cold = load(playback_requests(ids, viewers), seconds / 2)
            cold["server_cpu_s"] = round(proc_cpu_seconds(pids) - cpu1, 2)
            # Warm: the same pairs again and again, as viewers reload and seek; tokens come from the cache.
            # First the cache is filled, unmeasured. Each worker process has its own cache and a keep-alive
            # connection stays with one worker, so every pair is sent over several fresh sets of connections
            # (each wrk run reconnects): after 2 x workers + 2 passes, a worker misses a pair with
            # probability (1 - 1/workers)^passes (1.6 % for two workers).
            rate = cold["per_second"]
            for n in range(2 * workers + 2):
                pairs = playback_requests(ids, viewers, seed_=100 + n)
                while True:
                    warming = load(pairs, len(pairs) / max(rate, 50.0) + 1)
                    rate = warming["per_second"]
                    if warming["sent_past_the_end"]:
                        break
            cpu2 = proc_cpu_seconds(pids)
            play = load(playback_requests(ids, viewers, count=20000))
            cpu3 = proc_cpu_seconds(pids)
        hooks["server_cpu_s"] = round(cpu1 - cpu0, 2)
        play["server_cpu_s"] = round(cpu3 - cpu2, 2)
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            applied = s.execute(
                select(func.count()).select_from(WebhookEvent).where(WebhookEvent.outcome == "applied")
            ).scalar()
            ready = s.execute(
                select(func.count())
                .select_from(Lesson)
                .where(Lesson.id.in_(ids["uploads"]), Lesson.video_status == "ready")
            ).scalar()
        engine.dispose()
    # A replayed event is answered from the dedup table, a re-asked pair from the token cache: not the
    # work these two runs claim to measure.
    if hooks["sent_past_the_end"]:
        raise SystemExit("ran out of distinct webhook events: raise --webhook-lessons")
    if cold["sent_past_the_end"]:
        raise SystemExit("ran out of distinct cold playback pairs (viewers x signed lessons)")
    hooks["events_applied"] = applied
    hooks["lessons_ready"] = ready
    figures = {
        "mode": "quick" if quick else "full",
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "database": "sqlite" if quick else "postgresql",
        "server": {"entry": "lectern api", "workers": workers},
        "healthz_ceiling": ceiling,
        "webhooks": hooks,
        "playback": play | {"viewers": viewers, "signed_lessons": len(ids["signed"]), "tokens": "cached"},
        "playback_cold": cold | {"tokens": "signed per request (3 x RS256)"},
        "targets": TARGETS,
        "met": {
            "webhook_events_per_s": hooks["per_second"] >= TARGETS["webhook_events_per_s"],
            "playback_requests_per_s": play["per_second"] >= TARGETS["playback_requests_per_s"],
            "playback_p99_ms": play["p99_ms"] < TARGETS["playback_p99_ms"],
        },
    }
    path = write_result("api" + ("-quick" if quick else ""), figures)
    print(
        f"webhooks: {hooks['per_second']:.0f} events/s (p99 {hooks['p99_ms']} ms, {applied} applied, "
        f"{hooks['errors']} errors); playback: {play['per_second']:.0f} req/s p50 {play['p50_ms']} ms "
        f"p99 {play['p99_ms']} ms ({play['errors']} errors); cold playback {cold['per_second']:.0f} req/s "
        f"p99 {cold['p99_ms']} ms; /healthz ceiling {ceiling['per_second']:.0f} req/s -> {path}"
    )


if __name__ == "__main__":
    main()

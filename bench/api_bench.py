"""API throughput: signed webhook events/s (verified, stored, applied) and signed-lesson playback/s.

    python -m bench.api_bench --quick     # SQLite, API in a thread, small counts: a smoke run in seconds
    python -m bench.api_bench             # PostgreSQL (BENCH_DATABASE_URL / TEST_DATABASE_URL, own database),
                                          # API under `uvicorn --workers N` in its own processes

Everything goes over real HTTP: concurrent keep-alive httpx clients (threads), spread over client processes
so the load generator is not the bottleneck it measures. Targets: >= 500 webhook events/s; >= 1,000
playback requests/s with p99 < 50 ms. Results (figures, CPU seconds of server and clients, machine) go to
bench/results/api.json (api-quick.json for --quick).
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from bench.common import scratch_postgres, write_result
from core.auth import mint_token
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import upgrade
from core.db.models import Course, Enrollment, Lesson, User, WebhookEvent
from core.webhooks import sign

JWT_SECRET = "bench-platform-jwt-secret-0123456789abcdef"
WEBHOOK_SECRET = "whsec-bench"
STARTUP_TIMEOUT_S = 300.0  # `lectern` imports every command; on a busy 2-core machine that takes a while
TARGETS = {"webhook_events_per_s": 500, "playback_requests_per_s": 1000, "playback_p99_ms": 50}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


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
            Lesson(course_id=course.id, position=i, title=f"U{i}", playback_policy="signed",
                   video_status="waiting_upload", mux_upload_id=f"up-{i}")
            for i in range(upload_lessons)
        ]  # fmt: skip
        signed = [
            Lesson(course_id=course.id, position=upload_lessons + i, title=f"S{i}", playback_policy="signed",
                   video_status="ready", video_provider="mux", mux_asset_id=f"as-{i}", mux_playback_id=f"pb-{i}",
                   video_duration_s=600.0)
            for i in range(signed_lessons)
        ]  # fmt: skip
        s.add_all(uploads + signed)
        s.flush()
        s.add_all(Enrollment(user_id=p.id, course_id=course.id) for p in people)
        ids = {"uploads": [lesson.id for lesson in uploads], "signed": [lesson.id for lesson in signed],
               "students": [p.id for p in people]}  # fmt: skip
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
            ("video.upload.asset_created", {"id": upload_id, "status": "asset_created", "asset_id": asset_id,
                                            "new_asset_settings": {"passthrough": str(lesson_id)}}, "upload"),
            ("video.asset.created", {"id": asset_id, "status": "preparing", "upload_id": upload_id,
                                     "passthrough": str(lesson_id)}, "asset"),
            ("video.asset.ready", {"id": asset_id, "status": "ready", "upload_id": upload_id, "duration": 3.0,
                                   "passthrough": str(lesson_id),
                                   "playback_ids": [{"id": f"pb-new-{n}", "policy": "signed"}]}, "asset"),
        ]  # fmt: skip
        for i, (event_type, data, object_type) in enumerate(docs):
            doc = {"type": event_type, "id": str(uuid.uuid4()), "object": {"type": object_type, "id": data["id"]},
                   "created_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base)) + f".{i:06d}Z",
                   "environment": {"id": "bench", "name": "bench"}, "data": data, "attempts": []}  # fmt: skip
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


# --- load ----------------------------------------------------------------------------------------


def _drive(url: str, requests: list[Request], concurrency: int) -> tuple[list[float], float, float, int]:
    """`concurrency` threads, each with its own keep-alive httpx.Client, pulling from one shared queue.

    Threads with sync clients, not one AsyncClient: measured here, httpx's async pool spent ~5 ms of
    client CPU per request at 32 connections — the load generator, not the API, was the bottleneck.
    """
    queue = iter(requests)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        with httpx.Client(base_url=url, timeout=30.0) as client:
            while True:
                with lock:
                    req = next(queue, None)
                if req is None:
                    break
                t0 = time.perf_counter()
                try:
                    resp = client.request(req.method, req.path, headers=req.headers, content=req.body)
                    ok = resp.status_code == 200
                except httpx.HTTPError:
                    ok = False
                mine.append(time.perf_counter() - t0)
                failed += not ok
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, started, time.time(), errors


def _client_process(url: str, requests: list[Request], concurrency: int, start_at: float, out: Any) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = time.process_time()
    try:
        latencies, started, ended, errors = _drive(url, requests, concurrency)
    except BaseException as exc:  # the parent must always get an answer, not wait forever
        out.put({"failed": f"{type(exc).__name__}: {exc}"})
        raise
    out.put({"latencies": latencies, "started": started, "ended": ended, "errors": errors,
             "cpu_s": time.process_time() - cpu0})  # fmt: skip


def run_load(url: str, requests: list[Request], *, concurrency: int, processes: int) -> dict[str, Any]:
    # fork: client processes start at once (the parent holds no threads or DB connections here).
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    shares = [requests[i::processes] for i in range(processes)]
    start_at = time.time() + 0.5  # every client process is up by then, so they start together
    procs = [
        ctx.Process(target=_client_process, args=(url, share, max(1, concurrency // processes), start_at, out))
        for share in shares
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=900) for _ in procs]
    for p in procs:
        p.join()
    failed = [r["failed"] for r in results if "failed" in r]
    if failed:
        raise RuntimeError(f"load generator failed: {failed}")
    latencies = sorted(x for r in results for x in r["latencies"])
    elapsed = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return {
        "requests": len(latencies),
        "errors": sum(r["errors"] for r in results),
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p90_ms": round(latencies[int(len(latencies) * 0.90)] * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "concurrency": concurrency,
        "client_processes": processes,
        "client_cpu_s": round(sum(r["cpu_s"] for r in results), 2),
    }


# --- server --------------------------------------------------------------------------------------


def server_env(url: str, key_id: str, private_key: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url, "LECTERN_PLATFORM_JWT_SECRET": JWT_SECRET, "MUX_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MUX_SIGNING_KEY_ID": key_id, "MUX_SIGNING_PRIVATE_KEY": private_key, "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "", "LECTERN_LOG_LEVEL": "WARNING",
        # One-hour buckets: the warm phase must not cross a bucket boundary (which re-signs every pair).
        "LECTERN_PLAYBACK_TOKEN_BUCKET_S": "3600", "LECTERN_PLAYBACK_TOKEN_TTL_S": "900",
    }  # fmt: skip


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
    cmd = [sys.executable, "-m", "lectern", "api", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--no-access-log"]  # fmt: skip
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
def database(quick: bool) -> Iterator[str]:
    if quick:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
    else:
        with scratch_postgres("lectern_api_bench") as url:
            yield url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="SQLite and small counts: a smoke run")
    parser.add_argument("--workers", type=int, default=None, help="uvicorn worker processes (default 2; quick 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections in total")
    parser.add_argument("--clients", type=int, default=None, help="load-generator processes (default 2; quick 1)")
    parser.add_argument("--webhook-lessons", type=int, default=None, help="lessons x 3 events (default 2000)")
    parser.add_argument("--playback", type=int, default=None, help="playback requests (default 20000)")
    args = parser.parse_args(argv)
    quick = args.quick
    workers = args.workers or (1 if quick else 2)
    clients = args.clients or (1 if quick else 2)
    webhook_lessons = args.webhook_lessons or (100 if quick else 2000)
    playback_count = args.playback or (1000 if quick else 20000)
    viewers = 20 if quick else 200

    key_id, private_key = signing_key()
    # Other work on the machine skews every figure; the load average says how much there was.
    load_before = [round(x, 2) for x in os.getloadavg()]
    with database(quick) as url:
        upgrade(url)
        ids = seed(url, upload_lessons=webhook_lessons, signed_lessons=20, students=viewers)
        env = server_env(url, key_id, private_key)
        with serve(env, workers) as (api_url, pids):
            health = [Request("GET", "/healthz", {})] * (200 * workers)
            run_load(api_url, health, concurrency=args.concurrency, processes=clients)  # every worker up and warm
            # The ceiling: the same stack answering a route that does nothing (uvicorn + FastAPI + middleware).
            c = proc_cpu_seconds(pids)
            ceiling = run_load(api_url, health * 10, concurrency=args.concurrency, processes=clients)
            ceiling["server_cpu_s"] = round(proc_cpu_seconds(pids) - c, 2)
            cpu0 = proc_cpu_seconds(pids)
            hooks = run_load(api_url, webhook_requests(ids["uploads"]), concurrency=args.concurrency, processes=clients)
            cpu1 = proc_cpu_seconds(pids)
            # Cold: each (viewer, lesson) pair once, so every answer signs three fresh RS256 tokens.
            cold = run_load(api_url, playback_requests(ids, viewers), concurrency=args.concurrency, processes=clients)
            cpu2 = proc_cpu_seconds(pids)
            # Warm: the same pairs again, as viewers reload and seek; tokens come from the cache.
            warm_requests = playback_requests(ids, viewers, count=playback_count)
            play = run_load(api_url, warm_requests, concurrency=args.concurrency, processes=clients)
            cpu3 = proc_cpu_seconds(pids)
        hooks["server_cpu_s"] = round(cpu1 - cpu0, 2)
        cold["server_cpu_s"] = round(cpu2 - cpu1, 2)
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

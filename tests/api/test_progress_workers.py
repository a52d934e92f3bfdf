"""Progress reports through `lectern api --workers 2` (real processes, real HTTP): reports for the same
sessions land on both workers at once, the server is killed (SIGKILL, no shutdown) in the middle, and every
report that had been answered 200 is in the database: nothing is acknowledged before its batch commits."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import select

from core.auth import mint_token
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import LessonView, LessonWatch
from core.progress.plan import from_bytes
from tests.api.conftest import JWT_SECRET
from tests.conftest import free_port
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.waiting import wait_until

STUDENTS = 12
REPORTS = 40  # per student, each adding its own 5 s range


def seed(db_url: str) -> tuple[int, list[int]]:
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as s:
        course = make_course(s)
        lesson = make_lesson(s, course, video_url="lessons/long.mp4", duration_s=600.0)
        students = [make_user(s) for _ in range(STUDENTS)]
        for student in students:
            enroll(s, student, course)
        ids = (lesson.id, [st.id for st in students])
    engine.dispose()
    return ids


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    metrics = tmp_path / "metrics"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LECTERN_", "PROMETHEUS_"))} | {
        "DATABASE_URL": db_url,
        "LECTERN_PLATFORM_JWT_SECRET": JWT_SECRET,
        "LECTERN_METRICS_DIR": str(metrics),
        "LECTERN_PROGRESS_BURST": "100000",
        "LECTERN_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "lectern", "api", "--port", str(port), "--workers", "2", "--no-access-log"]
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would stall the server
        # A session of its own, so the whole server (supervisor and workers) can be killed at once.
        proc = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the API exited:\n{log.read().decode(errors='replace')[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(up, timeout=120, interval=0.2, what="the API answering")
            yield url, proc, metrics
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def progress_requests_by_worker(metrics: Path) -> dict[int, float]:
    counts: dict[int, float] = {}
    for path in metrics.glob("counter_*.db"):
        counts[int(path.stem.split("_")[-1])] = sum(
            s.value
            for family in MultiProcessCollector.merge([str(path)])
            for s in family.samples
            if s.name == "lectern_http_requests_total" and s.labels["route"] == "/api/lessons/{lesson_id}/progress"
        )
    return counts


def test_every_acknowledged_report_is_committed_even_when_the_server_is_killed(
    db_url: str, server: tuple[str, subprocess.Popen[bytes], Path]
) -> None:
    url, proc, metrics = server
    lesson_id, students = seed(db_url)
    tokens = {s: mint_token(JWT_SECRET, s, ttl_s=600) for s in students}
    sessions = {s: str(uuid.uuid4()) for s in students}
    reports = [(s, seq) for s in students for seq in range(REPORTS)]
    random.Random(3).shuffle(reports)  # a session's reports spread over every client, in no order
    acknowledged: list[tuple[int, int]] = []
    refused: list[tuple[int, str]] = []
    lock = threading.Lock()
    killed = threading.Event()
    half = len(reports) // 2

    def client(share: list[tuple[int, int]]) -> None:
        # No keep-alive: each report on a new connection (a sendBeacon's), so both workers get some of each session.
        with httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            for student, seq in share:
                if killed.is_set():
                    return
                report = {
                    "session_id": sessions[student], "seq": seq, "position_s": seq * 10.0 + 5,
                    "ranges": [[seq * 10.0, seq * 10.0 + 5]], "event": "heartbeat",
                }  # fmt: skip
                try:
                    resp = http.post(
                        f"/api/lessons/{lesson_id}/progress",
                        json=report,
                        headers={"Authorization": f"Bearer {tokens[student]}"},
                    )
                except httpx.HTTPError:
                    continue  # the server died with this one in flight: it was never acknowledged
                if resp.status_code == 200:
                    with lock:
                        acknowledged.append((student, seq))
                        if len(acknowledged) == half:
                            os.killpg(proc.pid, signal.SIGKILL)  # mid-stream, no graceful shutdown
                            killed.set()
                else:
                    with lock:
                        refused.append((resp.status_code, resp.text[:200]))

    threads = [threading.Thread(target=client, args=(reports[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    proc.wait(timeout=30)
    assert killed.is_set() and len(acknowledged) >= half
    assert refused == []

    by_worker = progress_requests_by_worker(metrics)
    assert len([n for n in by_worker.values() if n > 0]) == 2, by_worker  # both workers took reports

    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        views = {v.user_id: v for v in s.scalars(select(LessonView).where(LessonView.lesson_id == lesson_id))}
        watches = {w.user_id: w for w in s.scalars(select(LessonWatch).where(LessonWatch.lesson_id == lesson_id))}
    engine.dispose()
    missing = []
    for student, seq in acknowledged:
        view = views.get(student)
        bits = from_bytes(view.watched) if view else 0
        covered = from_bytes(watches[student].covered) if student in watches else 0
        if (
            (bits >> (seq * 10)) & 0b11111 != 0b11111
            or (covered >> (seq * 10)) & 0b11111 != 0b11111
            or (view is not None and view.last_seq < seq)
        ):
            missing.append((student, seq))
    assert missing == [], f"{len(missing)} acknowledged reports not committed: {missing[:10]}"

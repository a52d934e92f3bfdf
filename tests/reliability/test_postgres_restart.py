"""PostgreSQL restarted under a running API and migration worker (a private server: tests/reliability/private_pg.py).

Traffic runs the whole time (a lesson's status, its playback, signed webhooks, an admin's webhook log, /readyz)
from a few threads while a migration worker moves S3 lessons to Mux. The server is stopped (fast shutdown: every
connection ended) and started again, once for the quick version and three times under `make soak`.

Checked: while the database is away every answer is 200 or a 503 in the API's error shape (kind `unavailable`),
never another 5xx; /healthz stays 200; after it is back every route answers 200 again within seconds, with the
same API process; the worker never dies and finishes every job, each lesson on its own single Mux asset.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import upgrade
from core.db.models import MigrationState, WebhookEvent
from core.webhooks import sign
from emulator.testing import EmulatorServer
from lectern.sample_media import make_clip
from tests.api.conftest import WEBHOOK_SECRET, RunningApi, api_settings
from tests.conftest import S3Server
from tests.core.mux_events import asset_event, body
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.migration.helpers import build_env
from tests.reliability.conftest import StartApi
from tests.reliability.private_pg import PrivatePostgres
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [make_clip(folder / f"clip-{i}.mp4", seconds=1.0, width=160, height=120, fps=10) for i in range(2)]


def signed(raw: bytes) -> dict[str, str]:
    return {"Mux-Signature": sign(raw, WEBHOOK_SECRET, int(time.time())), "Content-Type": "application/json"}


@dataclass
class Traffic:
    """Requests from a few threads until stopped: every answer's status, and the 5xx bodies."""

    api: RunningApi
    lesson_id: int
    headers: dict[str, str]
    admin: dict[str, str]
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    refused_events: list[bytes] = field(default_factory=list)  # webhooks answered 503: Mux delivers them again
    webhooks: defaultdict[bytes, list[int]] = field(default_factory=lambda: defaultdict(list))
    bad: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def calls(self) -> list[tuple[str, str, dict[str, Any]]]:
        raw = body(asset_event("video.asset.updated", "A-R", lesson_id=None, event_id=f"evt-{uuid.uuid4()}"))
        return [
            ("status", "GET", {"url": f"/api/lessons/{self.lesson_id}/status", "headers": self.headers}),
            ("playback", "GET", {"url": f"/api/videos/{self.lesson_id}/playback", "headers": self.headers}),
            ("webhook", "POST", {"url": "/api/videos/mux/webhook", "content": raw, "headers": signed(raw)}),
            ("admin_log", "GET", {"url": "/api/admin/webhooks", "headers": self.admin}),
            ("readyz", "GET", {"url": "/readyz"}),
            ("healthz", "GET", {"url": "/healthz"}),
        ]

    def one_round(self, http: httpx.Client) -> dict[str, int]:
        statuses: dict[str, int] = {}
        for name, method, kwargs in self.calls():
            try:
                response = http.request(method, **kwargs)
            except httpx.HTTPError as exc:  # the API must answer, whatever the database does
                self.bad.append(f"{name}: no answer ({type(exc).__name__}: {exc})")
                statuses[name] = 0
                continue
            statuses[name] = response.status_code
            if name == "webhook":
                self.webhooks[kwargs["content"]].append(response.status_code)
            self.answers[(name, response.status_code)] += 1
            if response.status_code >= 500 and not self.unavailable(name, response):
                self.bad.append(f"{name}: {response.status_code} {response.text[:300]}")
            if name == "webhook" and response.status_code == 503:
                self.refused_events.append(kwargs["content"])
        return statuses

    @staticmethod
    def unavailable(name: str, response: httpx.Response) -> bool:
        if response.status_code != 503:
            return False
        if name == "readyz":
            return bool(response.json()["status"] == "unavailable")
        error = response.json().get("error", {})
        return bool(error.get("kind") == "unavailable" and error.get("message"))

    def start(self, n: int = 3) -> None:
        def loop() -> None:
            with httpx.Client(base_url=self.api.url, timeout=30) as http:
                while not self.stop.is_set():
                    self.one_round(http)

        self.threads = [threading.Thread(target=loop, daemon=True) for _ in range(n)]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def all_ok(traffic: Traffic, http: httpx.Client) -> bool:
    return all(status == 200 for status in traffic.one_round(http).values())


def restarts(
    tmp_path: Path, start_api: StartApi, s3: S3Server, emu: EmulatorServer, clips: list[Path], outages: int
) -> None:
    with PrivatePostgres() as pg:
        upgrade(pg.url)
        engine = make_engine(pg.url)
        factory = make_session_factory(engine)
        with transaction(factory) as s:
            student, admin = make_user(s), make_user(s, "admin")
            course = make_course(s)
            enroll(s, student, course)
            lesson_id = make_lesson(
                s, course, mux_playback_id="PUBPID", mux_asset_id="A1", video_provider="mux", video_status="ready"
            ).id
            student_id, admin_id = student.id, admin.id
        api = start_api(api_settings(pg.url, s3=s3, emu=emu))
        traffic = Traffic(api, lesson_id, api.auth(student_id), api.auth(admin_id))

        # Assets take a while to process, so the outages find jobs in flight.
        emu.http.put("/_emulator/config", json={"processing_delay": 1.0}).raise_for_status()
        env = build_env(pg.url, s3, emu, factory, migration_stale_after_s=3.0)
        migrating = [env.add_lesson(clips[i % len(clips)]) for i in range(2 * outages)]
        env.start_all()
        worker = env.worker()
        worker_thread = threading.Thread(target=worker.run, daemon=True, name="restart-worker")
        worker_thread.start()
        traffic.start()
        try:
            with httpx.Client(base_url=api.url, timeout=30) as http:
                for n in range(outages):
                    left = len(migrating) - n  # each outage finds a job claimed and in flight
                    wait_until(lambda left=left: env.store.progress().counts.get("queued", 0) < left, timeout=60)
                    assert all_ok(traffic, http)
                    pg.stop()
                    during = traffic.one_round(http)
                    assert during["healthz"] == 200 and during["status"] == 503 and during["webhook"] == 503, during
                    refused = traffic.answers[("webhook", 503)] + 6  # the traffic threads meet the outage too
                    wait_until(
                        lambda refused=refused: traffic.answers[("webhook", 503)] >= refused, what="traffic refused"
                    )
                    pg.start()
                    back = time.monotonic()
                    wait_until(lambda: all_ok(traffic, http), timeout=20, what="every route answering 200 again")
                    print(f"outage {n + 1}: every route answered 200 {time.monotonic() - back:.2f} s after the restart")

            def finished() -> bool:
                counts = env.store.progress().counts
                return counts.get(MigrationState.done, 0) == len(migrating)

            wait_until(finished, timeout=120, what=f"every migration job done: {env.store.progress().counts}")
            assert worker_thread.is_alive()
        finally:
            traffic.finish()
            worker.stop()
            worker_thread.join(30)
            emu.http.put("/_emulator/config", json={"processing_delay": 0.0})
            env.close()
        assert not traffic.bad, traffic.bad[:5]
        print(dict(traffic.answers))
        assert traffic.answers[("status", 503)] > 0 and traffic.answers[("status", 200)] > 0
        # Mux delivers the refused webhooks again: each is handled now (a `failed` one is claimed), none is lost.
        for raw in traffic.refused_events:
            again = api.http.post("/api/videos/mux/webhook", content=raw, headers=signed(raw))
            assert again.status_code == 200 and again.json()["outcome"] == "ignored", again.text
        with engine.connect() as conn:
            rows = conn.execute(select(WebhookEvent.id, WebhookEvent.outcome, WebhookEvent.error)).all()
        answered = {json.loads(raw)["id"]: statuses for raw, statuses in traffic.webhooks.items()}
        stuck = [
            (row.id, row.outcome, (row.error or "")[:200], answered.get(row.id))
            for row in rows
            if row.outcome != "ignored"
        ]
        assert not stuck, stuck
        assert len(rows) == len(traffic.webhooks)  # every webhook stored once, whatever it was answered first
        for lesson in migrating:
            assert env.lesson(lesson).video_provider == "mux"
        assets = env.assets()
        assert len(assets) == len(migrating) == len({a["passthrough"] for a in assets})
        engine.dispose()


def test_postgres_restart_quick(
    tmp_path: Path, start_api: StartApi, s3: S3Server, fresh_emu: EmulatorServer, clips: list[Path]
) -> None:
    restarts(tmp_path, start_api, s3, fresh_emu, clips, outages=1)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_postgres_restart_soak(
    tmp_path: Path, start_api: StartApi, s3: S3Server, fresh_emu: EmulatorServer, clips: list[Path]
) -> None:
    restarts(tmp_path, start_api, s3, fresh_emu, clips, outages=3)

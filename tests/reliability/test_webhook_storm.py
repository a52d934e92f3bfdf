"""A webhook storm against `lectern api --workers 2` on PostgreSQL, over concurrent connections.

Every lesson waits for its upload; Mux tells its story in 3 or 4 events (the upload's asset created, the asset
created, then ready or errored, and for some a deletion after), each a second apart. The deliveries are those
events with 10 % of them sent late (out of order), 10 % more copies of events already sent (duplicates) and 1 %
forged (signed with another secret, some reusing a genuine event's id with a different playback id), sent by
many threads at once, so copies of one lesson's events also race each other.

Checked: every genuine event is stored exactly once and none failed; every duplicate answered `duplicate` and
every forged one 401, and both are counted in `webhook_rejections`; each lesson ends in the state of its last
event by Mux's `created_at`, whatever order the events arrived in. Quick: 1,000 deliveries; `make soak`: 10,000.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import Lesson, WebhookEvent, WebhookRejection
from core.webhooks import sign
from tests.api.conftest import JWT_SECRET, WEBHOOK_SECRET, api_settings
from tests.core.mux_events import asset_event, body, upload_event
from tests.factories import make_course
from tests.reliability.conftest import StartApi

PATH = "/api/videos/mux/webhook"


@dataclass
class LessonStory:
    lesson_id: int
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def upload_id(self) -> str:
        return f"U{self.lesson_id:06d}"

    @property
    def asset_id(self) -> str:
        return f"A{self.lesson_id:06d}"

    @property
    def playback_id(self) -> str:
        return f"P{self.lesson_id:06d}"

    def expected(self) -> dict[str, Any]:
        """The lesson after its last event by created_at."""
        last = max(self.events, key=lambda e: e["created_at"])["type"]
        if last == "video.asset.deleted":
            return {"video_status": "none", "mux_asset_id": None, "mux_playback_id": None, "mux_upload_id": None}
        if last == "video.asset.errored":
            return {"video_status": "errored", "mux_asset_id": self.asset_id, "mux_playback_id": None,
                    "mux_upload_id": self.upload_id}  # fmt: skip
        assert last == "video.asset.ready"
        return {"video_status": "ready", "mux_asset_id": self.asset_id, "mux_playback_id": self.playback_id,
                "mux_upload_id": self.upload_id}  # fmt: skip


def tell(story: LessonStory, start: datetime, rng: random.Random) -> None:
    """Mux's events about one lesson's upload, a second apart."""
    lesson, upload, asset = story.lesson_id, story.upload_id, story.asset_id
    common = {"lesson_id": lesson, "at": start}
    story.events = [
        upload_event("video.upload.asset_created", upload, asset_id=asset, seconds=1, **common),
        asset_event("video.asset.created", asset, upload_id=upload, seconds=2, **common),
    ]
    if rng.random() < 0.8:
        ids = [{"id": story.playback_id, "policy": "public"}]
        story.events.append(
            asset_event(
                "video.asset.ready", asset, upload_id=upload, seconds=3, playback_ids=ids, duration=60.0, **common
            )
        )
    else:
        errors = {"type": "invalid_input", "messages": ["not a video"]}
        story.events.append(
            asset_event("video.asset.errored", asset, upload_id=upload, seconds=3, errors=errors, **common)
        )
    if rng.random() < 0.2:
        story.events.append(asset_event("video.asset.deleted", asset, upload_id=upload, seconds=4, **common))


@dataclass(frozen=True)
class Delivery:
    raw: bytes
    kind: str  # genuine | duplicate | forged
    event_id: str


def deliveries(stories: list[LessonStory], total: int, rng: random.Random) -> list[Delivery]:
    """The genuine events in created_at order, 10 % of them moved later, plus duplicates (10 %) and forgeries (1 %)."""
    genuine = sorted((e for s in stories for e in s.events), key=lambda e: (e["created_at"], e["id"]))
    order: list[Delivery] = [Delivery(body(e), "genuine", e["id"]) for e in genuine]
    late = rng.sample(range(len(order)), len(order) // 10)
    for index in sorted(late, reverse=True):
        moved = order.pop(index)
        order.insert(min(len(order), index + rng.randint(20, 200)), moved)
    extra = total - len(order)
    forged_n = max(1, total // 100)
    for _ in range(extra - forged_n):  # a copy of an event, sent again a little after the first
        index = rng.randrange(len(order))
        original = order[index]
        order.insert(
            min(len(order), index + rng.randint(0, 100)), Delivery(original.raw, "duplicate", original.event_id)
        )
    for n in range(forged_n):
        victim = rng.choice(genuine)
        forged = {**victim, "data": {**victim["data"], "playback_ids": [{"id": f"EVIL{n}", "policy": "public"}]}}
        if n % 2:
            forged["id"] = f"forged-{n}"
            forged["type"] = "video.asset.ready"
        order.insert(rng.randrange(len(order)), Delivery(body(forged), "forged", forged["id"]))
    return order


def lesson_states(engine: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    columns = (Lesson.video_status, Lesson.mux_asset_id, Lesson.mux_playback_id, Lesson.mux_upload_id)
    with engine.connect() as conn:
        rows = conn.execute(select(Lesson.id, *columns).where(Lesson.id.in_(ids))).all()
    return {
        row[0]: dict(zip(("video_status", "mux_asset_id", "mux_playback_id", "mux_upload_id"), row[1:], strict=True))
        for row in rows
    }


def storm(pg_url: str, serve: Callable[[], str], total: int, seed: int, connections: int) -> None:
    rng = random.Random(seed)
    engine = make_engine(pg_url)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

    factory = make_session_factory(engine)
    n_lessons = max(10, int(total / 1.11 / 3.2))
    with transaction(factory) as s:
        course_id = make_course(s).id
    with engine.begin() as conn:
        first = conn.execute(select(func.coalesce(func.max(Lesson.id), 0))).scalar_one() + 1
        conn.execute(
            insert(Lesson),
            [
                {
                    "id": first + i,
                    "course_id": course_id,
                    "title": f"Storm {i}",
                    "position": i + 1,
                    "mux_upload_id": f"U{first + i:06d}",
                    "video_status": "waiting_upload",
                    "video_status_at": start - timedelta(minutes=5),
                }
                for i in range(n_lessons)
            ],
        )
    stories = [LessonStory(first + i) for i in range(n_lessons)]
    for i, story in enumerate(stories):
        tell(story, start + timedelta(seconds=i % 3600), rng)
    plan = deliveries(stories, total, rng)
    kinds = Counter(d.kind for d in plan)

    url = serve()
    answers: list[tuple[Delivery, int, str | None]] = []
    lock = threading.Lock()
    local = threading.local()

    clients: list[httpx.Client] = []

    def client() -> httpx.Client:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(keepalive_expiry=2.0))
            with lock:
                clients.append(local.http)
        return local.http

    def send(delivery: Delivery) -> None:
        secret = WEBHOOK_SECRET if delivery.kind != "forged" else "whsec-not-the-secret"
        headers = {"Mux-Signature": sign(delivery.raw, secret, int(time.time())), "Content-Type": "application/json"}
        response = client().post(PATH, content=delivery.raw, headers=headers)
        outcome = response.json().get("outcome") if response.status_code == 200 else None
        with lock:
            answers.append((delivery, response.status_code, outcome))

    began = time.monotonic()
    try:
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(send, plan))
    finally:
        for http in clients:
            http.close()
    elapsed = time.monotonic() - began
    print(f"storm: {len(plan)} deliveries {dict(kinds)} in {elapsed:.1f} s ({len(plan) / elapsed:.0f}/s)")

    statuses = Counter((d.kind, status) for d, status, _ in answers)
    assert statuses == Counter({("genuine", 200): kinds["genuine"], ("duplicate", 200): kinds["duplicate"],
                                ("forged", 401): kinds["forged"]}), statuses  # fmt: skip
    duplicates_answered = sum(1 for d, _, outcome in answers if d.kind != "forged" and outcome == "duplicate")
    assert duplicates_answered == kinds["duplicate"]

    genuine_ids = {e["id"] for s in stories for e in s.events}
    with engine.connect() as conn:
        stored = conn.execute(
            select(WebhookEvent.id, WebhookEvent.outcome, WebhookEvent.type, WebhookEvent.error)
        ).all()
        rejections = dict(
            conn.execute(
                select(WebhookRejection.reason, func.sum(WebhookRejection.count)).group_by(WebhookRejection.reason)
            ).all()
        )
    assert len(stored) == len({row.id for row in stored}) == len(genuine_ids)
    assert {row.id for row in stored} == genuine_ids
    unexpected = [(row.type, row.outcome, row.error) for row in stored if row.outcome not in ("applied", "stale")]
    assert not unexpected, f"{len(unexpected)} events neither applied nor stale, e.g. {unexpected[:5]}"
    assert rejections == {"duplicate": kinds["duplicate"], "signature_mismatch": kinds["forged"]}

    states = lesson_states(engine, [s.lesson_id for s in stories])
    wrong = {s.lesson_id: (states[s.lesson_id], s.expected()) for s in stories if states[s.lesson_id] != s.expected()}
    assert not wrong, f"{len(wrong)} lessons in the wrong state, e.g. {list(wrong.items())[:3]}"
    engine.dispose()


def test_webhook_storm_quick(pg_url: str, start_api: StartApi) -> None:
    """The test server (uvicorn in a thread): `lectern api` takes seconds to start on a busy machine."""
    storm(pg_url, lambda: start_api(api_settings(pg_url)).url, total=1_000, seed=1, connections=6)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_webhook_storm_soak(pg_url: str, lectern_api: Callable[..., str]) -> None:
    env = {"DATABASE_URL": pg_url, "LECTERN_PLATFORM_JWT_SECRET": JWT_SECRET, "MUX_WEBHOOK_SECRET": WEBHOOK_SECRET}
    storm(pg_url, lambda: lectern_api(env, workers=2), total=10_000, seed=2, connections=16)

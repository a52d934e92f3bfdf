"""The job store: claims never overlap, stale jobs are reclaimable, fenced writes, enqueue/retry/cancel/pause."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import downgrade, upgrade
from core.migration.errors import LeaseLost
from core.migration.jobs import EnqueueItem, JobStore
from tests.factories import make_course, make_lesson


def _lessons(factory: sessionmaker[Session], n: int) -> list[int]:
    with transaction(factory) as s:
        course = make_course(s)
        return [make_lesson(s, course=course, video_url=f"v/{i}.mp4").id for i in range(n)]


def _enqueue(store: JobStore, lesson_ids: list[int]) -> None:
    store.enqueue([EnqueueItem(i, f"v/{i}.mp4", size_bytes=5_000_000_000) for i in lesson_ids])


def test_concurrent_claimers_with_separate_engines_take_every_job_exactly_once(db_url: str, engine: Engine) -> None:
    """Four claimers, each with its own engine (own connections, as separate processes would have)."""
    factory = make_session_factory(engine)
    ids = _lessons(factory, 40)
    _enqueue(JobStore(factory), ids)
    claims: dict[str, list[int]] = {}
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        own = make_engine(db_url)
        store = JobStore(make_session_factory(own), stale_after_s=3600)
        mine = claims.setdefault(name, [])
        try:
            start.wait()
            while (job := store.claim(f"{name}:{len(mine)}")) is not None:
                mine.append(job.lesson_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    taken = [lesson for mine in claims.values() for lesson in mine]
    assert sorted(taken) == sorted(ids), "a job was claimed twice or not at all"
    assert sum(1 for mine in claims.values() if mine) >= 2, "one claimer took everything: no real contention"
    jobs = JobStore(factory).list()
    assert all(j.attempts == 1 and j.worker_id for j in jobs)
    # 5 GB sources: the size column is 64-bit on PostgreSQL too (revision 0004).
    assert {j.source_size_bytes for j in jobs} == {5_000_000_000}


@pytest.mark.postgres
def test_on_postgres_a_claim_skips_rows_locked_by_another_transaction(pg_url: str) -> None:
    """SKIP LOCKED: a claimer never waits behind (or takes) a row another transaction is claiming."""
    # Without SKIP LOCKED the claim would wait for the lock; lock_timeout turns that wait into a failure.
    engine = make_engine(pg_url, connect_args={"options": "-c lock_timeout=2000"})
    factory = make_session_factory(engine)
    ids = _lessons(factory, 2)
    _enqueue(JobStore(factory), ids)
    other = make_engine(pg_url)
    try:
        with other.connect() as conn, conn.begin():
            first = conn.execute(text("SELECT id FROM migration_jobs ORDER BY id LIMIT 1 FOR UPDATE")).scalar_one()
            claimed = JobStore(factory).claim("w:1")
            assert claimed is not None and claimed.id != first
    finally:
        other.dispose()
        engine.dispose()


def test_a_stale_job_is_reclaimed_and_the_old_lease_is_fenced_off(session_factory: sessionmaker[Session]) -> None:
    (lesson_id,) = _lessons(session_factory, 1)
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = JobStore(session_factory, stale_after_s=30, clock=lambda: now[0])
    _enqueue(store, [lesson_id])
    first = store.claim("dead:1")
    assert first is not None
    first = store.transition(first, "dead:1", "ingesting")
    now[0] += timedelta(seconds=10)
    assert store.claim("other:1") is None  # heartbeat fresh: still held
    now[0] += timedelta(seconds=25)
    second = store.claim("other:1")
    assert second is not None and second.state == "ingesting" and second.attempts == 2
    with pytest.raises(LeaseLost):
        store.transition(first, "dead:1", "waiting", mux_asset_id="A")
    assert store.heartbeat({"dead:1", "other:1"}) == {"other:1"}
    assert store.get(second.id).mux_asset_id is None  # type: ignore[union-attr]


def test_cancel_retry_and_the_pause_flag(session_factory: sessionmaker[Session]) -> None:
    ids = _lessons(session_factory, 3)
    store = JobStore(session_factory)
    _enqueue(store, ids)
    held = store.claim("w:1")
    assert held is not None
    assert store.cancel(lesson_ids=[held.lesson_id]) == 1
    with pytest.raises(LeaseLost):
        store.transition(held, "w:1", "ingesting")
    other = store.claim("w:2")
    assert other is not None
    store.fail(other, "w:2", "Mux could not process the video: boom")
    assert store.retry() == 1  # failed ones only
    assert store.retry(include_cancelled=True, ingest_mode="stream") == 1
    states = {j.lesson_id: (j.state, j.ingest_mode) for j in store.list()}
    assert states[held.lesson_id] == ("queued", "stream") and states[other.lesson_id] == ("queued", "url")
    # Enqueueing again changes nothing for active jobs; a failed one is queued again.
    assert store.enqueue([EnqueueItem(i, f"v/{i}.mp4") for i in ids]).skipped == 3

    assert store.paused() is False
    store.set_paused(True, by="admin", reason="Mux incident")
    store.set_paused(True, by="admin", reason="still")
    assert store.paused() is True and store.progress().pause_reason == "still"
    store.set_paused(False)
    assert store.paused() is False


def test_release_keeps_the_state_and_does_not_count_an_attempt(session_factory: sessionmaker[Session]) -> None:
    (lesson_id,) = _lessons(session_factory, 1)
    store = JobStore(session_factory)
    _enqueue(store, [lesson_id])
    job = store.claim("w:1")
    assert job is not None
    job = store.transition(job, "w:1", "waiting", from_states=("queued",), mux_asset_id="A")
    assert store.release(job, "w:1")
    again = store.claim("w:2")
    assert again is not None and (again.state, again.attempts, again.mux_asset_id) == ("waiting", 1, "A")


def test_progress_counts_rate_and_eta(session_factory: sessionmaker[Session]) -> None:
    ids = _lessons(session_factory, 4)
    now = [datetime.now(UTC)]
    store = JobStore(session_factory, clock=lambda: now[0])
    _enqueue(store, ids)
    for n in range(2):
        job = store.claim(f"host:1:abc:{n}")
        assert job is not None
        now[0] += timedelta(seconds=30)
        store.transition(job, f"host:1:abc:{n}", "done", from_states=("queued",), finished_at=now[0], worker_id=None)
    p = store.progress()
    assert p.counts["done"] == 2 and p.counts["queued"] == 2 and p.remaining == 2
    assert p.rate_per_min == pytest.approx(2.0, rel=0.05)  # 2 finished in the minute since the first started
    assert p.eta_s == pytest.approx(60.0, rel=0.05)
    assert p.bytes_done == 10_000_000_000 and p.bytes_total == 20_000_000_000


def test_revision_0004_upgrades_and_downgrades_with_jobs_in_place(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0003")
    engine = make_engine(empty_db_url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, role, password_hash, created_at) "
                "VALUES (1, 't@x', 'T', 'teacher', '!', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text("INSERT INTO courses (id, teacher_id, title, description, created_at) VALUES (1, 1, 'C', '', :now)"),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO lessons (id, course_id, position, title, video_url, created_at) "
                "VALUES (1, 1, 1, 'L', 'a.mp4', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO migration_jobs (id, lesson_id, s3_key, state, attempts, created_at, updated_at) "
                "VALUES (1, 1, 'a.mp4', 'queued', 0, :now, :now)"
            ),
            {"now": now},
        )
    engine.dispose()
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT ingest_mode, bytes_proxied, queued_at FROM migration_jobs")).one()
        assert row[0] == "url" and row[1] == 0 and row[2] is not None
        assert "migration_control" in inspect(conn).get_table_names()
    engine.dispose()
    downgrade(empty_db_url, "0003")
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        assert "ingest_mode" not in {c["name"] for c in inspect(conn).get_columns("migration_jobs")}
        assert conn.execute(text("SELECT count(*) FROM migration_jobs")).scalar_one() == 1
    engine.dispose()

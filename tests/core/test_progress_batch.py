"""Group commit (core/progress/batch.py) and the per-student rate limit (core/progress/limit.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.progress.batch import GroupCommit, WriterBusy
from core.progress.limit import RateLimiter, TooManyReports
from tests.waiting import wait_until


class Recorder:
    """A `write` that records its batches; holds the writer on `gate` while it is cleared."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(list(items))
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


def test_items_wait_for_their_batch_and_get_their_own_result_or_error() -> None:
    write = Recorder()
    writer: GroupCommit[int, int] = GroupCommit(write, linger_s=0.0, max_batch=100, max_queue=100)
    write.gate.clear()
    first = threading.Thread(target=writer.submit_wait, args=(0,))
    first.start()
    assert write.entered.wait(10)  # the writer is inside the first batch; the next ones queue meanwhile

    async def many() -> list[object]:
        return await asyncio.gather(*(writer.submit(i) for i in range(1, 7)), return_exceptions=True)

    results: list[object] = []
    runner = threading.Thread(target=lambda: results.extend(asyncio.run(many())))
    runner.start()
    # Nothing is answered while its batch has not been written.
    assert not write.gate.wait(0.2) and results == []
    write.gate.set()
    runner.join(10)
    first.join(10)
    assert [r if isinstance(r, int) else str(r) for r in results] == ["odd 1", 20, "odd 3", 40, "odd 5", 60]
    assert write.batches[0] == [0] and sorted(i for b in write.batches[1:] for i in b) == [1, 2, 3, 4, 5, 6]
    assert len(write.batches) <= 3  # the six that queued during the first write went together (or nearly)
    writer.close()


def test_a_failed_batch_fails_each_of_its_items_and_the_writer_goes_on() -> None:
    calls: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return items

    writer: GroupCommit[int, int] = GroupCommit(write, linger_s=0.0, max_batch=10, max_queue=10)
    with pytest.raises(RuntimeError, match="went away"):
        writer.submit_wait(1, 10)
    assert writer.submit_wait(2, 10) == 2
    writer.close()


def test_a_full_queue_refuses_at_once_and_close_writes_what_is_queued() -> None:
    write = Recorder()
    write.gate.clear()
    writer: GroupCommit[int, int] = GroupCommit(write, linger_s=0.0, max_batch=1, max_queue=2)
    first = threading.Thread(target=writer.submit_wait, args=(0, 10))
    first.start()
    assert write.entered.wait(10)  # item 0 is being written; two more fill the queue
    queued = [threading.Thread(target=writer.submit_wait, args=(i, 10)) for i in (2, 4)]
    for t in queued:
        t.start()
    wait_until(lambda: len(writer._queue) == 2, what="two queued")
    with pytest.raises(WriterBusy) as busy:
        writer.submit_wait(6, 10)
    assert busy.value.retry_after == 1
    closing = threading.Thread(target=writer.close)
    closing.start()
    write.gate.set()
    closing.join(10)
    for t in [first, *queued]:
        t.join(10)
    assert sorted(i for b in write.batches for i in b) == [0, 2, 4]
    with pytest.raises(WriterBusy):
        writer.submit_wait(8, 1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_allows_a_burst_then_the_rate_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(per_min=6, burst=3, clock=clock)  # one token every 10 s
    for _ in range(3):
        limiter.take(1)
    with pytest.raises(TooManyReports) as exc:
        limiter.take(1)
    assert exc.value.retry_after == 10
    limiter.take(2)  # another student has a bucket of their own
    clock.now += 10
    limiter.take(1)
    with pytest.raises(TooManyReports):
        limiter.take(1)


def test_full_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(per_min=60, burst=5, clock=clock)
    for student in range(100):
        limiter.take(student)
    assert len(limiter) == 100
    clock.now += 120  # every bucket has refilled (5 s) and the prune interval (60 s) has passed
    limiter.take(1000)
    assert len(limiter) == 1

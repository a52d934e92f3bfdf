"""Group commit: items queue in the process, one writer thread writes them a batch per transaction.

One transaction per progress report cannot keep up with thousands of players (each commit waits for the
WAL to reach the disk); one transaction for whatever arrived in the last few milliseconds can. Callers
`await submit(item)` (or `submit_wait` from a thread) and get the item's own result, or its own error,
only after the batch that holds it has committed: nothing is acknowledged before it is durable.

A writer takes every item waiting (up to `max_batch`) once the oldest has waited `linger_s`, or at once
when `max_batch` are waiting; while a batch is being written the next one gathers, so under load batches
grow by themselves and the linger costs nothing. With `writers` > 1, that many threads each write a batch
at a time (each on its own connection): a batch waiting for the database's commit (the WAL reaching the
disk) no longer holds up the next one; the writes must then be safe in any order (core/progress/store.py
locks per student and lesson). At most `max_queue` items wait: more are refused at once
(`WriterBusy`, 429 with Retry-After) rather than queued into a latency nobody waits for. Results reach
asyncio callers with one `call_soon_threadsafe` per event loop per batch, not one per item.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.errors import ErrorKind, TransientError
from core.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class WriterBusy(TransientError):
    """The writer's queue is full (or the writer is stopping): try again after `retry_after` seconds."""

    kind = ErrorKind.RETRYABLE

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(slots=True)
class _Entry(Generic[T]):
    item: T
    queued_at: float
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[object] | concurrent.futures.Future[object]


def _resolve(pairs: list[tuple[asyncio.Future[object], object]]) -> None:
    for future, result in pairs:
        if future.done():
            continue  # the caller went away (its request was cancelled)
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        write: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        linger_s: float,
        max_batch: int,
        max_queue: int,
        writers: int = 1,
        name: str = "group-commit",
    ) -> None:
        self.write = write
        self.writers = writers
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.name = name
        self._queue: deque[_Entry[T]] = deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closing = False
        self.batches = 0  # written so far (for tests and the bench)
        self.items = 0

    # --- callers -----------------------------------------------------------------------------------

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._put(_Entry(item, time.monotonic(), loop, future))
        return await future  # type: ignore[return-value]

    def submit_wait(self, item: T, timeout_s: float | None = None) -> R:
        future: concurrent.futures.Future[object] = concurrent.futures.Future()
        self._put(_Entry(item, time.monotonic(), None, future))
        return future.result(timeout_s)  # type: ignore[return-value]

    def _put(self, entry: _Entry[T]) -> None:
        with self._cond:
            if self._closing:
                raise WriterBusy(f"{self.name} is stopping")
            if len(self._queue) >= self.max_queue:
                raise WriterBusy(f"{self.name}: {self.max_queue} items already waiting")
            self._queue.append(entry)
            if not self._threads:
                for n in range(self.writers):
                    thread = threading.Thread(target=self._run, name=f"{self.name}-{n}", daemon=True)
                    thread.start()
                    self._threads.append(thread)
            if len(self._queue) == 1 or len(self._queue) >= self.max_batch:
                self._cond.notify()

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the writer (new items are refused from now on)."""
        with self._cond:
            self._closing = True
            threads = list(self._threads)
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- the writer --------------------------------------------------------------------------------

    def _take(self) -> list[_Entry[T]] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            deadline = self._queue[0].queued_at + self.linger_s
            while len(self._queue) < self.max_batch and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            results: Sequence[object]
            try:
                results = self.write([entry.item for entry in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
            except BaseException as exc:  # every item of a failed batch gets its error; the writer goes on
                log.error("group_commit.failed", writer=self.name, items=len(batch), error=str(exc)[:300])
                results = [exc] * len(batch)
            self.batches += 1
            self.items += len(batch)
            self._deliver(batch, results)

    def _deliver(self, batch: list[_Entry[T]], results: Sequence[object]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[object], object]]] = {}
        for entry, result in zip(batch, results, strict=True):
            future = entry.future
            if entry.loop is None:
                assert isinstance(future, concurrent.futures.Future)
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            else:
                assert isinstance(future, asyncio.Future)
                by_loop.setdefault(entry.loop, []).append((future, result))
        for loop, pairs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting any more
                loop.call_soon_threadsafe(_resolve, pairs)

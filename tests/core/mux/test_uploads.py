from __future__ import annotations

import io

import httpx
import pytest

from core.errors import MuxInvalidRequest, MuxUnavailable
from core.mux.uploads import CHUNK_UNIT, put_in_chunks
from core.retry import Retrier, RetryPolicy


class ResumableServer:
    """A resumable-upload endpoint: 308 for partial data, 200 when complete; optional faults."""

    def __init__(self, total: int, *, keep_short: int = 0, fail_first: int = 0) -> None:
        self.total = total
        self.data = bytearray()
        self.keep_short = keep_short
        self.fail_first = fail_first
        self.ranges: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail_first:
            self.fail_first -= 1
            return httpx.Response(503)
        rng = request.headers["Content-Range"]
        self.ranges.append(rng)
        start = int(rng.split()[1].split("-")[0])
        assert start == len(self.data), "chunk does not continue where the server is"
        body = request.content
        if self.keep_short and len(self.data) + len(body) < self.total:
            body = body[: len(body) - self.keep_short]  # the server kept less than was sent
            self.keep_short = 0
        self.data += body
        if len(self.data) >= self.total:
            return httpx.Response(200)
        return httpx.Response(308, headers={"Range": f"bytes=0-{len(self.data) - 1}"})


def run(server: ResumableServer, payload: bytes, chunk: int, sleeps: list[float] | None = None) -> int:
    http = httpx.Client(transport=httpx.MockTransport(server))
    retrier = Retrier(RetryPolicy(attempts=3, jitter=0.0), sleep=(sleeps if sleeps is not None else []).append)
    with http:
        return put_in_chunks(
            "http://up/x", io.BytesIO(payload), len(payload), http=http, chunk_size=chunk, retrier=retrier
        )


def test_file_goes_in_chunks_with_content_range_and_arrives_whole() -> None:
    payload = bytes(range(256)) * (CHUNK_UNIT * 3 // 256 + 10)
    server = ResumableServer(len(payload))
    assert run(server, payload, CHUNK_UNIT) == 4
    assert bytes(server.data) == payload
    assert server.ranges[0] == f"bytes 0-{CHUNK_UNIT - 1}/{len(payload)}"
    assert server.ranges[-1].endswith(f"-{len(payload) - 1}/{len(payload)}")


def test_bytes_the_server_did_not_keep_are_resent() -> None:
    payload = b"x" * (CHUNK_UNIT * 2 + 100)
    server = ResumableServer(len(payload), keep_short=1000)
    run(server, payload, CHUNK_UNIT)
    assert bytes(server.data) == payload
    assert server.ranges[1].startswith(f"bytes {CHUNK_UNIT - 1000}-")


def test_5xx_on_a_chunk_retries_that_chunk() -> None:
    payload = b"y" * 1000
    server = ResumableServer(len(payload), fail_first=2)
    sleeps: list[float] = []
    assert run(server, payload, CHUNK_UNIT, sleeps) == 1
    assert sleeps == [0.5, 1.0]
    assert bytes(server.data) == payload


def test_4xx_on_a_chunk_stops_without_retry() -> None:
    calls = 0

    def reject(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, text="bad range")

    http = httpx.Client(transport=httpx.MockTransport(reject))
    with pytest.raises(MuxInvalidRequest, match="bad range"):
        put_in_chunks("http://up/x", io.BytesIO(b"z" * 10), 10, http=http, retrier=Retrier(sleep=lambda _: None))
    assert calls == 1


def test_persistent_5xx_gives_up_as_transient() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(502)))
    with pytest.raises(MuxUnavailable):
        put_in_chunks(
            "http://up/x",
            io.BytesIO(b"z"),
            1,
            http=http,
            retrier=Retrier(RetryPolicy(attempts=2), sleep=lambda _: None),
        )

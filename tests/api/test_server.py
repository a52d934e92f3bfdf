"""Request-head limits of the API's uvicorn protocol (api/server.py), over raw sockets: TestClient and
httpx never reach the server's parser the way a hostile client does."""

from __future__ import annotations

import json
import socket

import pytest

from tests.api.conftest import ApiFactory, RunningApi, api_settings
from tests.api.rawhttp import connect, read_response, send_until_closed


@pytest.fixture
def api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url))


def request_head(*headers: str) -> bytes:
    return ("\r\n".join(["GET /healthz HTTP/1.1", "Host: lectern", *headers]) + "\r\n\r\n").encode()


def test_normal_requests_pass(api: RunningApi) -> None:
    with connect(api.url) as sock:
        sock.sendall(request_head(*(f"X-H{i}: {'v' * 50}" for i in range(90))))
        status, _, body = read_response(sock)
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_headers_over_the_byte_limit_are_431(api: RunningApi) -> None:
    with connect(api.url) as sock:
        sock.sendall(request_head("X-Big: " + "a" * 20_000))
        status, headers, body = read_response(sock)
    assert status == 431 and headers["connection"] == "close"
    assert json.loads(body)["error"] == {
        "type": "HeadersTooLarge",
        "kind": "headers_too_large",
        "message": "request line and headers over 16384 bytes",
    }


def test_a_64_mb_header_is_refused_after_the_limit_not_read_whole(api: RunningApi) -> None:
    # The probe's 64 MB header grew the API by 640 MB; now the server answers and closes after ~16 KB.
    with connect(api.url, timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: lectern\r\nX-Big: ")
        sent = send_until_closed(sock, b"a" * (64 * 2**20))
        sock.shutdown(socket.SHUT_WR) if sent == 64 * 2**20 else None
        status, _, _ = read_response(sock)
    assert status == 431
    assert sent < 64 * 2**20  # the connection was closed long before the header ended


def test_too_many_header_lines_are_431(api: RunningApi) -> None:
    with connect(api.url) as sock:
        sock.sendall(request_head(*(f"X-H{i}: 1" for i in range(101))))
        status, _, body = read_response(sock)
    assert status == 431 and "more than 100 header lines" in json.loads(body)["error"]["message"]


def test_the_limits_are_settings(db_url: str, start_api: ApiFactory) -> None:
    api = start_api(api_settings(db_url, api_max_header_bytes=2048, api_max_headers=20))
    with connect(api.url) as sock:
        sock.sendall(request_head("X-Big: " + "a" * 2100))
        assert read_response(sock)[0] == 431
    with connect(api.url) as sock:
        sock.sendall(request_head(*(f"X-H{i}: 1" for i in range(20))))
        assert read_response(sock)[0] == 431  # 20 + Host
    with connect(api.url) as sock:
        sock.sendall(request_head(*(f"X-H{i}: 1" for i in range(18))))
        assert read_response(sock)[0] == 200


def test_keep_alive_requests_each_get_the_full_allowance(api: RunningApi) -> None:
    with connect(api.url) as sock:
        for _ in range(3):  # 3 x 12 KB on one connection: counted per request, not per connection
            sock.sendall(request_head("X-Mid: " + "m" * 12_000))
            assert read_response(sock)[0] == 200

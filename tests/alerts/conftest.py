"""Alert fixtures: a real local HTTP receiver, dead receivers, a small platform and a warehouse with views."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import duckdb
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.db.models import Course, Lesson, User
from tests.conftest import free_port

RECEIVER_PATH_SECRET = "T000-B000-receiver-path-secret"


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: records every POST body; answers `status` (settable)."""

    url: str
    status: int = 200
    bodies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.bodies)

    def events(self) -> list[tuple[str, str]]:
        """(event, alert key) of every POST, in arrival order."""
        return [(b["event"], b["alert"]["key"]) for b in self.received()]


def _serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.bodies.append(json.loads(body))
                status = receiver.status
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver is broken")

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(url="")
    server = _serve(found)
    # The path stands in for a Slack URL's secret part: tests check it never reaches a log line.
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/{RECEIVER_PATH_SECRET}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """Nothing listens there: every connection is refused at once."""
    return f"http://127.0.0.1:{free_port()}/hook"


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A socket that accepts connections (the kernel's backlog) and never answers: every request times out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    sock.close()


@dataclass(frozen=True)
class Platform:
    teacher_a: int
    teacher_b: int
    lesson_a: int
    lesson_b: int


def make_platform(engine: Engine) -> Platform:
    with Session(engine) as session, session.begin():
        a = User(email="a@alerts.test", name="Teacher A", role="teacher", password_hash="!")
        b = User(email="b@alerts.test", name="Teacher B", role="teacher", password_hash="!")
        session.add_all([a, b])
        session.flush()
        ca, cb = Course(teacher_id=a.id, title="A course"), Course(teacher_id=b.id, title="B course")
        session.add_all([ca, cb])
        session.flush()
        la = Lesson(course_id=ca.id, position=1, title="A lesson", video_provider="mux", video_status="ready")
        lb = Lesson(course_id=cb.id, position=1, title="B lesson", video_provider="mux", video_status="ready")
        session.add_all([la, lb])
        session.flush()
        return Platform(a.id, b.id, la.id, lb.id)


@pytest.fixture
def platform(engine: Engine) -> Platform:
    return make_platform(engine)


def add_views(
    con: duckdb.DuckDBPyConnection,
    *,
    lesson_id: int,
    count: int,
    failures: int,
    end: datetime,
    prefix: str,
    startup_ms: int = 800,
) -> None:
    """`count` views of a lesson ending just before `end`, the first `failures` with a playback failure."""
    con.execute(
        """INSERT INTO mux_views BY NAME
           SELECT $prefix || i AS view_id, hash($prefix || i) AS view_key, $lesson AS lesson_id,
                  'Lesson ' || $lesson AS video_title,
                  $end - INTERVAL 10 MINUTE AS view_start, $end - to_seconds(i) AS view_end,
                  CAST($end AS DATE) AS view_day, i < $failures AS playback_failure,
                  $startup AS startup_time_ms, $end AS loaded_at
           FROM range($count) t(i)""",
        {
            "prefix": prefix,
            "lesson": lesson_id,
            "end": end,
            "count": count,
            "failures": failures,
            "startup": startup_ms,
        },
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)

"""Webhook events: Mux envelope, Mux signature, delivery with retries, a log, replays and faults.

Each target URL has one sender thread ("lane") working through a heap ordered by due time, so events
reach a receiver in emission order unless a retry or an injected out-of-order delay moves one back —
the same ordering guarantees (i.e. none to rely on) that Mux gives.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from emulator.clock import Clock
from emulator.config import EmulatorConfig
from emulator.faults import Faults, WebhookDecision

NO_FAULTS = WebhookDecision(fail_first=False, duplicate=False, delay=0.0)
RESPONSE_BODY_LIMIT = 1000


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """`Mux-Signature` value: HMAC-SHA256 over `<t>.<raw body>` keyed by the secret's UTF-8 bytes."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def iso_timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Delivery:
    id: str
    event: dict[str, Any]
    url: str
    decision: WebhookDecision
    replay: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)  # our log
    mux_attempts: list[dict[str, Any]] = field(default_factory=list)  # what the next body carries
    delivered: bool = False
    gave_up: bool = False

    def as_json(self) -> dict[str, Any]:
        faults = []
        if self.decision.fail_first:
            faults.append("fail")
        if self.decision.duplicate:
            faults.append("duplicate")
        if self.decision.delay:
            faults.append("out_of_order")
        return {
            "id": self.id,
            "event_id": self.event["id"],
            "event_type": self.event["type"],
            "url": self.url,
            "object": self.event["object"],
            "created_at": self.event["created_at"],
            "delivered": self.delivered,
            "gave_up": self.gave_up,
            "pending": not (self.delivered or self.gave_up),
            "replay": self.replay,
            "faults": faults,
            "attempts": [dict(a) for a in self.attempts],
            "event": self.event,
        }


class _Lane:
    """One sender thread per URL."""

    def __init__(self, dispatcher: WebhookDispatcher, url: str) -> None:
        self.dispatcher = dispatcher
        self.url = url
        self.cond = threading.Condition()
        self.heap: list[tuple[float, int, str]] = []
        self.stopped = False
        self.client = httpx.Client(follow_redirects=False)
        self.thread = threading.Thread(target=self._run, name=f"mux-emu-webhooks {url}", daemon=True)
        self.thread.start()

    def push(self, due: float, seq: int, delivery_id: str) -> None:
        with self.cond:
            heapq.heappush(self.heap, (due, seq, delivery_id))
            self.cond.notify()

    def clear(self) -> None:
        with self.cond:
            self.heap.clear()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify()

    def _run(self) -> None:
        try:
            while True:
                with self.cond:
                    while not self.stopped and (not self.heap or self.heap[0][0] > time.monotonic()):
                        self.cond.wait(self.heap[0][0] - time.monotonic() if self.heap else None)
                    if self.stopped:
                        return
                    _, _, delivery_id = heapq.heappop(self.heap)
                self.dispatcher._attempt(delivery_id, self)
        finally:
            self.client.close()


class WebhookDispatcher:
    def __init__(self, config: EmulatorConfig, clock: Clock, faults: Faults) -> None:
        self.config = config
        self.clock = clock
        self.faults = faults
        self._lock = threading.RLock()
        self._events: list[dict[str, Any]] = []
        self._deliveries: dict[str, Delivery] = {}
        self._lanes: dict[str, _Lane] = {}
        self._seq = itertools.count()
        self._stopped = False

    # -- producing ------------------------------------------------------------------------------

    def emit(self, event_type: str, object_type: str, object_id: str, data: dict[str, Any]) -> dict[str, Any]:
        event = {
            "type": event_type,
            "id": str(uuid.uuid4()),
            "created_at": iso_timestamp(self.clock.now()),
            "object": {"type": object_type, "id": object_id},
            "environment": {"name": self.config.environment_name, "id": self.config.environment_id},
            "data": data,
            "request_id": None,
            "accessor_source": None,
            "accessor": None,
        }
        with self._lock:
            self._events.append(event)
            for url in list(self.config.webhook_urls):
                self._enqueue(event, url, self.faults.webhook_decision())
        return event

    def replay(self, event_id: str, urls: list[str] | None = None) -> list[dict[str, Any]] | None:
        with self._lock:
            event = next((e for e in self._events if e["id"] == event_id), None)
            if event is None:
                return None
            targets = urls if urls is not None else list(self.config.webhook_urls)
            return [self._enqueue(event, url, NO_FAULTS, replay=True).as_json() for url in targets]

    def _enqueue(self, event: dict[str, Any], url: str, decision: WebhookDecision, replay: bool = False) -> Delivery:
        delivery = Delivery(id=str(uuid.uuid4()), event=event, url=url, decision=decision, replay=replay)
        self._deliveries[delivery.id] = delivery
        lane = self._lane(url)
        if lane is not None:
            lane.push(time.monotonic() + decision.delay, next(self._seq), delivery.id)
        return delivery

    def _lane(self, url: str) -> _Lane | None:
        if self._stopped:
            return None
        lane = self._lanes.get(url)
        if lane is None:
            lane = self._lanes[url] = _Lane(self, url)
        return lane

    # -- sending --------------------------------------------------------------------------------

    def _attempt(self, delivery_id: str, lane: _Lane) -> None:
        with self._lock:
            delivery = self._deliveries.get(delivery_id)
            if delivery is None or delivery.delivered or delivery.gave_up:
                return
            number = len(delivery.attempts) + 1
            body = json.dumps({**delivery.event, "attempts": delivery.mux_attempts}).encode()
            secret = self.config.webhook_secret
            timeout = self.config.webhook_attempt_timeout
        if number == 1 and delivery.decision.fail_first:
            self._record(delivery, number, 503, "injected fault: first attempt failed", 0.0, "fail", "")
        else:
            status, error, elapsed, text = self._send(lane, body, secret, timeout)
            self._record(delivery, number, status, error, elapsed, None, text)
            if delivery.delivered and delivery.decision.duplicate:
                status, error, elapsed, text = self._send(lane, body, secret, timeout)
                self._record(delivery, number + 1, status, error, elapsed, "duplicate", text)
        with self._lock:
            if delivery.delivered or self._deliveries.get(delivery_id) is not delivery:
                return
            if len(delivery.attempts) >= self.config.webhook_max_attempts:
                delivery.gave_up = True
                return
            delay = min(self.config.webhook_retry_cap, self.config.webhook_retry_base * 2 ** (number - 1))
        lane.push(time.monotonic() + delay, next(self._seq), delivery_id)

    def _send(self, lane: _Lane, body: bytes, secret: str, timeout: float) -> tuple[int | None, str | None, float, str]:
        headers = {
            "Content-Type": "application/json",
            "Mux-Signature": sign(secret, body, int(time.time())),
            "User-Agent": "Mux Webhooks (lectern emulator)",
        }
        started = time.monotonic()
        try:
            response = lane.client.post(lane.url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return None, f"no answer within {timeout:g} s", time.monotonic() - started, ""
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}", time.monotonic() - started, ""
        return response.status_code, None, time.monotonic() - started, response.text[:RESPONSE_BODY_LIMIT]

    def _record(
        self,
        delivery: Delivery,
        number: int,
        status: int | None,
        error: str | None,
        elapsed: float,
        fault: str | None,
        response_body: str,
    ) -> None:
        now = self.clock.now()
        with self._lock:
            ok = status is not None and 200 <= status < 300
            delivery.attempts.append(
                {
                    "attempt": number,
                    "at": iso_timestamp(now),
                    "status_code": status,
                    "error": error,
                    "duration_ms": round(elapsed * 1000, 2),
                    "fault": fault,
                    "ok": ok,
                }
            )
            delivery.mux_attempts.append(
                {
                    "id": len(delivery.mux_attempts) + 1,
                    "webhook_id": 1,
                    "address": delivery.url,
                    "created_at": iso_timestamp(now),
                    "max_attempts": self.config.webhook_max_attempts,
                    "response_status_code": status,
                    "response_headers": {},
                    "response_body": response_body or error,
                }
            )
            if ok:
                delivery.delivered = True

    # -- inspecting and lifecycle -----------------------------------------------------------------

    def log(
        self, *, event_type: str | None = None, event_id: str | None = None, url: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            items = [
                d.as_json()
                for d in self._deliveries.values()
                if (event_type is None or d.event["type"] == event_type)
                and (event_id is None or d.event["id"] == event_id)
                and (url is None or d.url == url)
            ]
        return items

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if event_type is None or e["type"] == event_type]

    def pending(self) -> int:
        with self._lock:
            return sum(1 for d in self._deliveries.values() if not (d.delivered or d.gave_up))

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._deliveries.clear()
            for lane in self._lanes.values():
                lane.clear()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.stop()
        for lane in lanes:
            lane.thread.join(timeout=self.config.webhook_attempt_timeout + 1.0)

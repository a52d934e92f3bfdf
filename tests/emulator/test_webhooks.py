"""Webhook delivery: Mux envelope and signature, ordering, retries, timeouts, replays, delivery faults."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import mux_python

from emulator.testing import EmulatorServer
from tests.emulator.helpers import Clips, Received, WebhookReceiver, upload_and_wait, verify_mux_signature
from tests.waiting import wait_until

ISO_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _events(requests: list[Received]) -> list[dict]:
    return [json.loads(r.body) for r in requests]


def test_upload_event_sequence_shapes_and_signatures(
    emu: EmulatorServer, uploads_api: mux_python.DirectUploadsApi, receiver: WebhookReceiver, clips: Clips
) -> None:
    emu.set_webhook_urls([receiver.url])
    asset = upload_and_wait(emu, uploads_api, clips.small, passthrough="lesson-5")
    requests = receiver.wait_for(lambda got: len(got) >= 4)
    events = _events(requests)

    assert [e["type"] for e in events] == [
        "video.upload.created",
        "video.upload.asset_created",
        "video.asset.created",
        "video.asset.ready",
    ]
    for request, event in zip(requests, events, strict=True):
        assert request.path == "/hooks/mux"
        assert request.headers["content-type"] == "application/json"
        assert verify_mux_signature(request.headers.get("mux-signature"), request.body, "whsec-test")
        assert not verify_mux_signature(request.headers.get("mux-signature"), request.body, "other-secret")
        assert not verify_mux_signature(request.headers.get("mux-signature"), request.body + b" ", "whsec-test")
        assert uuid.UUID(event["id"]).version == 4
        assert ISO_MICROS.match(event["created_at"])
        assert event["environment"] == {"name": "Emulator", "id": "emulator"}
        assert event["attempts"] == []
        assert event["accessor"] is None and event["accessor_source"] is None and event["request_id"] is None
        assert event["object"]["id"] == event["data"]["id"]

    upload_created, upload_done, asset_created, asset_ready = events
    assert upload_created["object"]["type"] == "upload" and upload_created["data"]["status"] == "waiting"
    assert upload_done["data"]["status"] == "asset_created" and upload_done["data"]["asset_id"] == asset["id"]
    assert asset_created["object"] == {"type": "asset", "id": asset["id"]}
    assert asset_created["data"]["status"] == "preparing"
    assert isinstance(asset_ready["data"]["created_at"], int)  # an int in webhooks, a string in REST
    assert isinstance(asset["created_at"], str)
    assert asset_ready["data"]["status"] == "ready" and asset_ready["data"]["passthrough"] == "lesson-5"
    assert asset_ready["data"]["duration"] == asset["duration"]
    assert asset_ready["data"]["upload_id"] == upload_created["data"]["id"]


def delivered_entry(emu: EmulatorServer, **filters: str) -> dict[str, Any]:
    """The one delivery log entry, once delivered: the emulator logs an answer after the receiver has the request."""

    def entry() -> dict[str, Any] | None:
        entries = emu.webhook_log(**filters)
        assert len(entries) == 1, entries
        return entries[0] if entries[0]["delivered"] else None

    return wait_until(entry, 15, what="a delivered webhook")


def test_failed_delivery_is_retried_and_logged_then_replayed(emu: EmulatorServer, receiver: WebhookReceiver) -> None:
    emu.set_webhook_urls([receiver.url])
    receiver.statuses.extend([500, 502])
    event_id = emu.http.post("/_emulator/webhooks/emit", json={"type": "video.asset.updated"}).json()["data"][
        "event_ids"
    ][0]
    requests = receiver.wait_for(lambda got: len(got) >= 3)
    bodies = _events(requests)
    assert {b["id"] for b in bodies} == {event_id}
    assert [len(b["attempts"]) for b in bodies] == [0, 1, 2]
    assert bodies[2]["attempts"][0]["response_status_code"] == 500
    assert all(verify_mux_signature(r.headers["mux-signature"], r.body, "whsec-test") for r in requests)

    entry = delivered_entry(emu, event_id=event_id)
    assert entry["url"] == receiver.url
    assert [a["status_code"] for a in entry["attempts"]] == [500, 502, 200]

    replayed = emu.http.post(f"/_emulator/webhooks/{event_id}/replay").json()["data"]
    assert len(replayed) == 1 and replayed[0]["replay"] is True
    receiver.wait_for(lambda got: len(got) >= 4)
    assert _events(receiver.requests)[3]["id"] == event_id
    assert emu.http.post("/_emulator/webhooks/no-such-event/replay").status_code == 404


def test_a_receiver_that_does_not_answer_in_time_is_retried(emu: EmulatorServer, receiver: WebhookReceiver) -> None:
    emu.set_webhook_urls([receiver.url])
    receiver.hang_seconds.append(1.5)  # the emulator's attempt timeout is 0.5 s in these tests
    emu.http.post("/_emulator/webhooks/emit", json={"type": "video.asset.ready"})
    entry = delivered_entry(emu)
    first, second = entry["attempts"][:2]
    assert first["status_code"] is None and "no answer within 0.5 s" in first["error"]
    assert second["status_code"] == 200


def test_webhook_secret_and_urls_change_at_runtime(emu: EmulatorServer, receiver: WebhookReceiver) -> None:
    emu.configure(webhook_urls=[receiver.url], webhook_secret="rotated-secret")
    emu.http.post("/_emulator/webhooks/emit", json={})
    (request,) = receiver.wait_for(lambda got: len(got) >= 1)
    assert verify_mux_signature(request.headers["mux-signature"], request.body, "rotated-secret")
    config = emu.http.get("/_emulator/config").json()["data"]
    assert config["webhook_secret"] == "***" and config["token_secret"] == "***"
    assert emu.http.put("/_emulator/config", json={"token_secret": "x"}).status_code == 400


def _run_faulty_batch(emu: EmulatorServer, receiver: WebhookReceiver, count: int) -> tuple[list[dict], list[str]]:
    emu.set_faults(
        {
            "seed": 99,
            "webhooks": {"duplicate_rate": 0.2, "out_of_order_rate": 0.2, "fail_rate": 0.1, "out_of_order_delay": 0.3},
        }
    )
    start = len(receiver.requests)
    emu.http.post("/_emulator/webhooks/emit", json={"type": "video.asset.updated", "count": count})
    log = emu.webhook_log()
    duplicates = sum("duplicate" in d["faults"] for d in log)
    receiver.wait_for(lambda got: len(got) - start >= count + duplicates, timeout=30)
    order = [json.loads(r.body)["data"]["sequence"] for r in receiver.requests[start:]]
    return emu.webhook_log(), [",".join(d["faults"]) for d in log] + [str(order)]


def test_delivery_faults_rates_and_determinism(emu: EmulatorServer, receiver: WebhookReceiver) -> None:
    emu.set_webhook_urls([receiver.url])
    count = 200
    log, fingerprint = _run_faulty_batch(emu, receiver, count)
    assert len(log) == count and all(d["delivered"] for d in log)
    rates = {name: sum(name in d["faults"] for d in log) / count for name in ("duplicate", "out_of_order", "fail")}
    assert abs(rates["duplicate"] - 0.2) < 0.05
    assert abs(rates["out_of_order"] - 0.2) < 0.05
    assert abs(rates["fail"] - 0.1) < 0.04

    arrivals = [json.loads(r.body)["data"]["sequence"] for r in receiver.requests]
    assert len(arrivals) == count + sum("duplicate" in d["faults"] for d in log)
    first_seen: dict[int, int] = {}
    for position, sequence in enumerate(arrivals):
        first_seen.setdefault(sequence, position)
    overtaken = {s for s, pos in first_seen.items() if any(o > s for o in arrivals[:pos])}
    late = {d["event"]["data"]["sequence"] for d in log if set(d["faults"]) & {"out_of_order", "fail"}}
    assert overtaken <= late and len(late) - len(overtaken) <= 2
    failed = [d for d in log if "fail" in d["faults"]]
    assert all(d["attempts"][0]["fault"] == "fail" and d["attempts"][1]["ok"] for d in failed)

    emu.reset()  # same seed, same sequence of events -> the same faults
    receiver.requests.clear()
    _, again = _run_faulty_batch(emu, receiver, count)
    assert again[:-1] == fingerprint[:-1]

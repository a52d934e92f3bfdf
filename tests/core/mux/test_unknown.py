"""Values Mux may add: kept on Lectern's models, logged once per process per (field, value)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from core.logging import record_fields
from core.mux import unknown
from core.mux.models import asset_from_json, upload_from_json


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    unknown.reset()
    yield
    unknown.reset()


def events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, dict[str, object]]]:
    return [(r.getMessage(), record_fields(r)) for r in caplog.records if r.name == "core.mux.unknown"]


def test_each_unknown_value_is_logged_once_and_known_ones_never(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="core.mux.unknown")
    for _ in range(3):
        unknown.note_value("asset.status", "archived", unknown.ASSET_STATUSES)
        unknown.note_value("asset.status", "ready", unknown.ASSET_STATUSES)
        unknown.note_value("asset.status", None, unknown.ASSET_STATUSES)
    unknown.note_value("asset.status", "frozen", unknown.ASSET_STATUSES)
    unknown.note_value("upload.status", "archived", unknown.UPLOAD_STATUSES)
    assert events(caplog) == [
        ("mux.unknown_value", {"field": "asset.status", "value": "archived"}),
        ("mux.unknown_value", {"field": "asset.status", "value": "frozen"}),
        ("mux.unknown_value", {"field": "upload.status", "value": "archived"}),
    ]


def test_asset_from_json_keeps_every_raw_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="core.mux.unknown")
    doc = {
        "id": "a1",
        "status": "archived",
        "duration": 12,
        "playback_ids": [{"id": "p1", "policy": "geo_locked"}, {"id": "p2", "policy": "public"}, {"policy": "x"}],
        "errors": {"type": "quota", "messages": ["full"]},
        "created_at": "1700000000",
        "shiny": True,
    }
    asset = asset_from_json(doc)
    assert (asset.status, asset.duration_s, asset.error_type, asset.error_messages) == (
        "archived",
        12.0,
        "quota",
        ("full",),
    )
    assert asset.playback_id_for("geo_locked") == "p1" and asset.playback_id_for("public") == "p2"
    assert asset.raw == doc and asset.status != "ready"
    assert {(f.get("field"), f.get("value")) for _, f in events(caplog)} == {
        ("shiny", None),
        ("asset.status", "archived"),
        ("asset.errors.type", "quota"),
        ("asset.playback_ids.policy", "geo_locked"),
    }


def test_upload_from_json_keeps_an_unknown_status() -> None:
    upload = upload_from_json({"id": "u1", "status": "paused", "timeout": 3600, "error": {"type": "t", "message": "m"}})
    assert (upload.status, upload.timeout_s, upload.error_type, upload.error_message) == ("paused", 3600, "t", "m")

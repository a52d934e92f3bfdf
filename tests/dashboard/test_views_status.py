"""The status page's view model with literal part statuses."""

from __future__ import annotations

from core.status import PartStatus
from dashboard.views.status import down_note, status_frame

STATUSES = [
    PartStatus("platform DB", True, "sqlite", 1.5),
    PartStatus("Mux", False, "refused"),
    PartStatus("S3", False, ""),
]


def test_one_row_per_part_with_its_state() -> None:
    frame = status_frame(STATUSES)
    assert frame["state"].tolist() == ["running", "not running", "not running"]  # words: no emoji font needed
    assert frame.iloc[0].to_dict() == {
        "part": "platform DB",
        "state": "running",
        "detail": "sqlite",
        "latency (ms)": 1.5,
    }


def test_down_parts_are_named_and_admins_read_how_to_start_them() -> None:
    assert down_note(STATUSES, admin=False) == "Not running: Mux, S3."
    assert down_note(STATUSES, admin=True) == "Not running: Mux, S3. `make demo` starts every part with sample data."
    assert down_note(STATUSES[:1], admin=True) is None

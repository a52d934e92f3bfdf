from __future__ import annotations

from core.status import PartStatus, for_viewer

STATUSES = [
    PartStatus("Platform database", True, "revision 0007, 612 users (postgresql)", 1.2),
    PartStatus("S3", False, "EndpointConnectionError: http://10.0.3.7:9000/lectern-lessons"),
]


def test_admins_see_every_detail() -> None:
    assert for_viewer(STATUSES, admin=True) == STATUSES


def test_other_roles_see_only_up_or_down() -> None:
    shown = for_viewer(STATUSES, admin=False)
    assert [(s.part, s.ok, s.latency_ms) for s in shown] == [(s.part, s.ok, s.latency_ms) for s in STATUSES]
    text = " ".join(s.detail for s in shown)
    for internal in ("revision", "612 users", "10.0.3.7", "lectern-lessons", "EndpointConnectionError"):
        assert internal not in text

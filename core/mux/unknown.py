"""Values Mux may add: enum values and fields Lectern (and mux-python 5.1.0) do not know yet.

Mux adds asset statuses, error types, resolution tiers and fields over time. mux-python's models raise
`ValueError` on an enum value outside their list (see mux-api.md §0), which would abort a sync job, so
Lectern reads the objects its jobs depend on as raw JSON and checks them here instead: an unknown value
is kept as it came and logged once per process per (field, value), so a log shows each novelty once
rather than once per row of every page.

The known lists mirror mux-python 5.1.0's `allowed_values` (they live inside its setters, so they cannot
be read off the classes); the known field names are read off the SDK models' `attribute_map`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import mux_python

from core.logging import get_logger

log = get_logger(__name__)

# mux-python 5.1.0's enum lists, for the values Lectern's jobs branch on or store.
ASSET_STATUSES = frozenset({"preparing", "ready", "errored"})
ASSET_RESOLUTION_TIERS = frozenset({"audio-only", "720p", "1080p", "1440p", "2160p"})
ASSET_VIDEO_QUALITIES = frozenset({"basic", "plus", "premium"})
PLAYBACK_POLICIES = frozenset({"public", "signed", "drm"})
UPLOAD_STATUSES = frozenset({"waiting", "asset_created", "errored", "cancelled", "timed_out"})
DELIVERY_ASSET_STATES = frozenset({"ready", "errored", "deleted"})
# Error types are free strings in the SDK; these are the ones Mux's docs and our emulator use. Others are
# kept and logged once, so a new failure kind shows up in the logs.
ASSET_ERROR_TYPES = frozenset({"invalid_input"})
UPLOAD_ERROR_TYPES = frozenset({"invalid_upload", "invalid_input"})

ASSET_FIELDS = frozenset(mux_python.Asset.attribute_map.values())
UPLOAD_FIELDS = frozenset(mux_python.Upload.attribute_map.values())
DELIVERY_REPORT_FIELDS = frozenset(mux_python.DeliveryReport.attribute_map.values())

_MAX_VALUE_CHARS = 200
# Distinct novelties remembered (and logged) per process: webhook bodies are signed, but keep memory bounded.
MAX_REMEMBERED = 1000
_lock = threading.Lock()
_seen: set[tuple[str, str, str]] = set()


def _first_time(kind: str, field: str, value: str) -> bool:
    key = (kind, field, value)
    with _lock:
        if key in _seen or len(_seen) >= MAX_REMEMBERED:
            return False
        _seen.add(key)
        return True


def note_value(
    field: str, value: Any, known: Iterable[str], *, event: str = "mux.unknown_value", **context: Any
) -> None:
    """Log `event` the first time `field` (e.g. `asset.status`) carries a value outside `known`.

    The API reads and the webhook receiver share this memory, so a new value is logged once per process
    whichever way it arrived first; `context` adds fields such as the webhook's event id.
    """
    if value is None or value in known:
        return
    text = str(value)[:_MAX_VALUE_CHARS]
    if _first_time("value", field, text):
        log.warning(event, field=field, value=text, **context)


def note_fields(obj: str, doc: Mapping[str, Any], known: frozenset[str]) -> None:
    """Log `mux.unknown_field` the first time an `obj` (e.g. `asset`) arrives with a field outside `known`."""
    for name in doc:
        if name not in known and _first_time("field", obj, name):
            log.warning("mux.unknown_field", object=obj, field=str(name)[:_MAX_VALUE_CHARS])


def reset() -> None:
    """Forget what was logged (tests restore this state after each test)."""
    with _lock:
        _seen.clear()

"""View model of the admin actions on the Operations and Webhook log pages: acknowledge and silence an alert,
delete an orphaned asset, replay one webhook event or every matching one, repair a lesson.

A button files a `Request` in the session state (from its `on_click`, before the rerun draws anything): one
that asks first waits under `<key>:pending` until Yes moves it to `<key>:run` (No drops it); one that does
not goes to `<key>:run` at once. The page takes the request to run at the top of its section, before it
reads the rows, so the table under it already shows what the action did. Widget keys in `Request.reset`
(a table's row pick) are dropped when the request runs: the row picked may be gone or moved.

Plain functions over a mapping and core's result objects: no Streamlit here.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.alerts.store import AlertRow
from core.assets import DeleteResult
from core.webhook_log import EventFilter
from core.webhook_ops import REPLAY_MAX_EVENTS, RepairResult, ReplayBatch
from core.webhooks import ReplayResult
from dashboard.views.display import Tone

ACKNOWLEDGE, SILENCE = "acknowledge", "silence"
DELETE_ASSET = "delete_asset"
REPLAY, REPLAY_MATCHING, REPAIR = "replay", "replay_matching", "repair"
SILENCE_CHOICES = {"1 hour": "1h", "4 hours": "4h", "24 hours": "24h", "custom": None}
CUSTOM = "custom"


@dataclass(frozen=True)
class Request:
    """An action on `target` for the page to run; `question` (with `confirm_label`) when it asks first."""

    action: str
    target: Any
    question: str | None = None
    confirm_label: str = "Yes"
    options: Mapping[str, Any] = field(default_factory=dict)
    reset: tuple[str, ...] = ()


def _pending(key: str) -> str:
    return f"{key}:pending"


def _run(key: str) -> str:
    return f"{key}:run"


def ask(state: MutableMapping[Any, Any], key: str, request: Request | None) -> None:
    """A button's on_click: the request waits for its confirmation, or runs on this rerun."""
    if request is None:
        return
    state[_pending(key) if request.question else _run(key)] = request


def confirm(state: MutableMapping[Any, Any], key: str) -> None:
    request = state.pop(_pending(key), None)
    if request is not None:
        state[_run(key)] = request


def decline(state: MutableMapping[Any, Any], key: str) -> None:
    state.pop(_pending(key), None)


def pending(state: Mapping[Any, Any], key: str) -> Request | None:
    request = state.get(_pending(key))
    return request if isinstance(request, Request) else None


def take(state: MutableMapping[Any, Any], key: str) -> Request | None:
    """The request to run now (once), with the row picks it names forgotten."""
    request = state.pop(_run(key), None)
    if not isinstance(request, Request):
        return None
    for widget in request.reset:
        state.pop(widget, None)
    return request


# --- alerts ------------------------------------------------------------------------------------------


def acknowledge_request(alert: pd.Series | None, *, reset: tuple[str, ...] = ()) -> Request | None:
    """None (the button is off) without a pick, or for an alert someone acknowledged already."""
    if alert is None or not pd.isna(alert["acknowledged_at"]):
        return None
    return Request(ACKNOWLEDGE, int(alert["id"]), reset=reset)


def silence_request(alert: pd.Series | None, choice: str, custom: str) -> Request | None:
    if alert is None:
        return None
    spelled = SILENCE_CHOICES.get(choice) or custom.strip()
    return Request(SILENCE, int(alert["id"]), options={"duration": spelled}) if spelled else None


def alert_done(alert: AlertRow) -> str:
    what = f"Alert {alert.id} ({alert.kind}{f': {alert.subject}' if alert.subject else ''})"
    if alert.silenced_until is not None and alert.silenced_by is not None:
        return f"{what} silenced by {alert.silenced_by} until {alert.silenced_until:%Y-%m-%d %H:%M} UTC."
    return f"{what} acknowledged by {alert.acknowledged_by}."


# --- orphaned assets ---------------------------------------------------------------------------------


def delete_request(orphan: pd.Series | None, *, reset: tuple[str, ...] = ()) -> Request | None:
    """The CLI's question (`lectern assets delete`): what the asset is and what it costs, then Mux cannot undo."""
    if orphan is None:
        return None
    asset_id = str(orphan["asset_id"])
    question = f"Delete Mux asset {asset_id} ({orphan['why']}, {orphan['monthly_cost']} a month)? Mux cannot undo it."
    return Request(DELETE_ASSET, asset_id, question, f"Yes, delete {asset_id}", reset=reset)


def delete_label(orphan: pd.Series | None) -> str:
    return "Delete the picked asset" if orphan is None else f"Delete asset {orphan['asset_id']}"


def delete_done(result: DeleteResult) -> tuple[Tone, str]:
    return ("success" if result.outcome == "deleted" else "info"), result.message[:1].upper() + result.message[1:]


# --- webhooks ----------------------------------------------------------------------------------------


def replay_request(event: pd.Series | None, *, reset: tuple[str, ...] = ()) -> Request | None:
    return None if event is None else Request(REPLAY, str(event["id"]), reset=reset)


def repair_request(event: pd.Series | None) -> Request | None:
    if event is None or pd.isna(event["lesson_id"]):
        return None
    return Request(REPAIR, int(event["lesson_id"]))


def repair_label(event: pd.Series | None) -> str:
    if event is None or pd.isna(event["lesson_id"]):
        return "Repair the event's lesson"
    return f"Repair lesson {int(event['lesson_id'])} from Mux"


def replay_matching_request(where: EventFilter, count: int, *, reset: tuple[str, ...] = ()) -> Request | None:
    """Asks with the count (events not `applied`: replaying those changes nothing); None when none match."""
    if count == 0:
        return None
    n = min(count, REPLAY_MAX_EVENTS)
    more = f" (the oldest {n} of more than {REPLAY_MAX_EVENTS}; ask again for the rest)" if count > n else ""
    question = f"Replay {n} stored events matching these filters{more}? Each goes through the webhook handler again."
    return Request(REPLAY_MATCHING, where, question, f"Yes, replay {n} events", {"max_events": n}, reset)


def replay_matching_label(count: int) -> str:
    if count > REPLAY_MAX_EVENTS:
        return f"Replay the oldest {REPLAY_MAX_EVENTS} matching events"
    return f"Replay all {count} matching events (not applied)"


def replay_done(result: ReplayResult) -> tuple[Tone, str]:
    lesson = f" lesson {result.lesson_id} changed." if result.lesson_changed else ""
    why = f" ({result.reason})" if result.reason else ""
    tone: Tone = "error" if result.after == "failed" else "success" if result.lesson_changed else "info"
    return tone, f"Replayed {result.event_id} ({result.event_type}): {result.before} → {result.after}{why}.{lesson}"


def batch_done(batch: ReplayBatch) -> tuple[Tone, str]:
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(batch.by_outcome.items())) or "nothing to replay"
    more = " More events match: replay again for the next ones." if batch.truncated else ""
    failed = any(r.after == "failed" for r in batch.results)
    return ("warning" if failed else "success"), f"Replayed {len(batch.results)} events ({counts}).{more}"


def batch_frame(batch: object) -> pd.DataFrame | None:
    """Each event of a filtered replay: its outcome before and after (None for any other result)."""
    if not isinstance(batch, ReplayBatch):
        return None
    rows = [
        (r.event_id, r.event_type, r.before, r.after, r.lesson_id, r.lesson_changed, r.reason) for r in batch.results
    ]
    columns = ["event_id", "type", "before", "after", "lesson_id", "lesson_changed", "reason"]
    return pd.DataFrame(rows, columns=columns).astype({"lesson_id": "Int64"})


def repair_done(result: RepairResult) -> tuple[Tone, str]:
    change = f"{result.before} → {result.after}" if result.healed else f"still {result.after}"
    return ("success" if result.healed else "info"), f"Lesson {result.lesson_id}: {change}. {result.reason}."


def webhook_done(result: ReplayResult | ReplayBatch | RepairResult) -> tuple[Tone, str]:
    if isinstance(result, ReplayBatch):
        return batch_done(result)
    if isinstance(result, RepairResult):
        return repair_done(result)
    return replay_done(result)

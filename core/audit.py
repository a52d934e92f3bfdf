"""The operator audit log: who replayed, repaired, deleted or rolled back what, from the dashboard or the CLI."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.db.models import OperatorAction


def cli_actor() -> str:
    """The actor a command-line action is recorded under: the operating-system user who ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid) and no USER variable
        user = "unknown"
    return f"cli:{user}"


def record_action(
    session: Session,
    *,
    action: str,
    actor: str,
    target: str,
    outcome: str,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> OperatorAction:
    """Add one audit row to the caller's transaction (it commits or rolls back with the action itself)."""
    row = OperatorAction(
        action=action,
        actor=actor[:200],
        target=target[:200],
        outcome=outcome[:32],
        detail=detail,
        created_at=now or datetime.now(UTC),
    )
    session.add(row)
    return row

"""Indexes the webhook log and the Operations page search by: lesson, and outcome over time.

- `ix_webhook_events_lesson_id`: a lesson's events (the log's lesson filter, repair, the teacher's view).
- `ix_webhook_events_outcome_received_at`: failed (or unmatched) events of a time range, newest first, without
  walking every event received in it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_webhook_events_lesson_id", "webhook_events", ["lesson_id"])
    op.create_index("ix_webhook_events_outcome_received_at", "webhook_events", ["outcome", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_outcome_received_at", table_name="webhook_events")
    op.drop_index("ix_webhook_events_lesson_id", table_name="webhook_events")

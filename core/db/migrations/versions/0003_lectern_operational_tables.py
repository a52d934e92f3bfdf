"""Lectern's own tables: webhook events, migration jobs, alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=True),
        sa.Column("object_id", sa.String(64), nullable=True),
        sa.Column("lesson_id", sa.Integer, nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lessons.id"], name="fk_webhook_events_lesson_id_lessons", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_webhook_events_type", "webhook_events", ["type"])
    op.create_index("ix_webhook_events_received_at", "webhook_events", ["received_at"])
    op.create_table(
        "migration_jobs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("lesson_id", sa.Integer, nullable=False),
        sa.Column("s3_key", sa.String(1024), nullable=False),
        sa.Column("source_size_bytes", sa.Integer, nullable=True),
        sa.Column("source_duration_s", sa.Float, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("mux_asset_id", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("worker_id", sa.String(100), nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("cleaned_up_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_migration_jobs"),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lessons.id"], name="fk_migration_jobs_lesson_id_lessons", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("lesson_id", name="uq_migration_jobs_lesson_id"),
        sa.CheckConstraint(
            "state IN ('queued', 'ingesting', 'waiting', 'verifying', 'done', 'failed', 'cancelled')",
            name="ck_migration_jobs_state",
        ),
    )
    op.create_index("ix_migration_jobs_state", "migration_jobs", ["state"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("context", sa.JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("key", name="uq_alerts_key"),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_index("ix_migration_jobs_state", table_name="migration_jobs")
    op.drop_table("migration_jobs")
    op.drop_index("ix_webhook_events_received_at", table_name="webhook_events")
    op.drop_index("ix_webhook_events_type", table_name="webhook_events")
    op.drop_table("webhook_events")

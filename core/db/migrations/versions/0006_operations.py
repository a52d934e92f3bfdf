"""Operations: alerts with a lifecycle, their notifications, every direct upload, refused webhooks, an audit log.

- `alerts` gains a state (pending -> firing -> resolved), the rule's measured value and threshold, first and
  last seen, when it fired, acknowledgement, silencing, and the lesson and teacher it concerns (teachers see
  the alerts about their own lessons). `key` names a condition; it was unique, so a condition that came back
  after resolving reopened the old row. Now it is unique among alerts that are not resolved (a partial
  unique index), so a condition that returns is a new alert and the history stays. Rows already there
  become `firing` (open) or `resolved`.
- `alert_notifications`: one row per alert, event (fired/resolved) and receiver, so a delivery is queued
  once however often the evaluator runs, retried with backoff, and a failure is visible.
- `uploads`: every Mux direct upload Lectern created, with its outcome; a lesson keeps only its latest
  upload id, so a replaced or failed upload still counts in the upload success rate. Backfilled from the
  lessons' current upload ids.
- `webhook_rejections`: deliveries answered but not stored (duplicates, refused signatures, unparseable
  bodies), counted per hour and reason rather than stored, so a flood of forged bodies costs one row.
- `operator_actions`: who replayed, repaired, deleted or rolled back what, and when.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
OPEN = sa.text("state <> 'resolved'")


def upgrade() -> None:
    with op.batch_alter_table("alerts", recreate="auto") as batch:
        batch.drop_constraint("uq_alerts_key", type_="unique")
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="firing"))
        batch.add_column(sa.Column("subject", sa.String(200), nullable=True))
        batch.add_column(sa.Column("value", sa.Float, nullable=True))
        batch.add_column(sa.Column("threshold", sa.Float, nullable=True))
        batch.add_column(sa.Column("first_seen_at", TS, nullable=True))
        batch.add_column(sa.Column("last_seen_at", TS, nullable=True))
        batch.add_column(sa.Column("fired_at", TS, nullable=True))
        batch.add_column(sa.Column("acknowledged_at", TS, nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("silenced_until", TS, nullable=True))
        batch.add_column(sa.Column("silenced_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lesson_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("teacher_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_alerts_lesson_id_lessons", "lessons", ["lesson_id"], ["id"], ondelete="SET NULL")
        batch.create_foreign_key("fk_alerts_teacher_id_users", "users", ["teacher_id"], ["id"], ondelete="SET NULL")
        batch.create_check_constraint("ck_alerts_state", "state IN ('pending', 'firing', 'resolved')")
    op.execute(
        "UPDATE alerts SET state = CASE WHEN resolved_at IS NULL THEN 'firing' ELSE 'resolved' END, "
        "first_seen_at = created_at, last_seen_at = COALESCE(resolved_at, created_at), fired_at = created_at"
    )
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("first_seen_at", existing_type=TS, nullable=False)
        batch.alter_column("last_seen_at", existing_type=TS, nullable=False)
    op.create_index("uq_alerts_key_open", "alerts", ["key"], unique=True, sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_index("ix_alerts_teacher_id", "alerts", ["teacher_id"])

    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_notifications"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_notifications_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("alert_id", "event", "receiver", name="uq_alert_notifications_alert_id"),
        sa.CheckConstraint("event IN ('fired', 'resolved')", name="ck_alert_notifications_event"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="ck_alert_notifications_status"),
    )
    op.create_index("ix_alert_notifications_status", "alert_notifications", ["status", "next_attempt_at"])

    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("mux_upload_id", sa.String(64), nullable=False),
        sa.Column("lesson_id", sa.Integer, nullable=True),
        sa.Column("created_by", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mux_asset_id", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_uploads"),
        sa.UniqueConstraint("mux_upload_id", name="uq_uploads_mux_upload_id"),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lessons.id"], name="fk_uploads_lesson_id_lessons", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_uploads_created_by_users", ondelete="SET NULL"),
        sa.CheckConstraint(
            "status IN ('waiting', 'asset_created', 'ready', 'errored', 'timed_out', 'cancelled')",
            name="ck_uploads_status",
        ),
    )
    op.create_index("ix_uploads_lesson_id", "uploads", ["lesson_id"])
    op.create_index("ix_uploads_created_at", "uploads", ["created_at"])
    op.create_index("ix_uploads_mux_asset_id", "uploads", ["mux_asset_id"])
    op.execute(
        "INSERT INTO uploads (mux_upload_id, lesson_id, created_by, status, mux_asset_id, error, created_at, "
        "updated_at, finished_at) "
        "SELECT l.mux_upload_id, l.id, c.teacher_id, "
        "CASE l.video_status WHEN 'ready' THEN 'ready' WHEN 'errored' THEN 'errored' "
        "WHEN 'processing' THEN 'asset_created' ELSE 'waiting' END, "
        "l.mux_asset_id, l.video_error, COALESCE(l.video_status_at, l.created_at), "
        "COALESCE(l.video_status_at, l.created_at), "
        "CASE WHEN l.video_status IN ('ready', 'errored') THEN COALESCE(l.video_status_at, l.created_at) END "
        "FROM lessons l JOIN courses c ON c.id = l.course_id WHERE l.mux_upload_id IS NOT NULL"
    )

    op.create_table(
        "webhook_rejections",
        sa.Column("hour", TS, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("hour", "reason", name="pk_webhook_rejections"),
    )

    op.create_table(
        "operator_actions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operator_actions"),
    )
    op.create_index("ix_operator_actions_created_at", "operator_actions", ["created_at"])


def downgrade() -> None:
    op.drop_table("operator_actions")
    op.drop_table("webhook_rejections")
    op.drop_table("uploads")
    op.drop_table("alert_notifications")
    op.drop_index("ix_alerts_teacher_id", table_name="alerts")
    op.drop_index("ix_alerts_state", table_name="alerts")
    op.drop_index("uq_alerts_key_open", table_name="alerts")
    # Keep the newest alert of each key: the old unique key allows one.
    op.execute("DELETE FROM alerts WHERE id NOT IN (SELECT MAX(id) FROM alerts GROUP BY key)")
    with op.batch_alter_table("alerts", recreate="always") as batch:
        batch.drop_constraint("ck_alerts_state", type_="check")
        batch.drop_constraint("fk_alerts_teacher_id_users", type_="foreignkey")
        batch.drop_constraint("fk_alerts_lesson_id_lessons", type_="foreignkey")
        for column in (
            "teacher_id",
            "lesson_id",
            "silenced_by",
            "silenced_until",
            "acknowledged_by",
            "acknowledged_at",
            "fired_at",
            "last_seen_at",
            "first_seen_at",
            "threshold",
            "value",
            "subject",
            "state",
        ):
            batch.drop_column(column)
        batch.create_unique_constraint("uq_alerts_key", ["key"])

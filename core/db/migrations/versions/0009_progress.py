"""Progress from the player: Lectern's own viewing records.

- `lesson_views`: one row per play session (the player's page view), with the provider the lesson had when
  the session started, positions, seconds watched (and the bitmap of which seconds) and when it ended.
- `lesson_watch`: one row per student and lesson: the seconds ever watched over every session (a bitmap)
  and where to resume.

`lesson_progress` (the platform's summary) is unchanged; core/progress/ keeps it current.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lesson_views",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("lesson_id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(8), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("last_report_at", TS, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("position_s", sa.Float, nullable=False),
        sa.Column("furthest_position_s", sa.Float, nullable=False),
        sa.Column("seconds_watched", sa.Float, nullable=False),
        sa.Column("watched", sa.LargeBinary, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_lesson_views_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lessons.id"], name="fk_lesson_views_lesson_id_lessons", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lesson_views"),
        sa.UniqueConstraint("user_id", "lesson_id", "session_id", name="uq_lesson_views_user_id_lesson_id_session_id"),
        sa.CheckConstraint("provider IS NULL OR provider IN ('s3', 'mux')", name="ck_lesson_views_provider"),
    )
    op.create_index("ix_lesson_views_lesson_id_started_at", "lesson_views", ["lesson_id", "started_at"])
    op.create_index("ix_lesson_views_started_at", "lesson_views", ["started_at"])
    op.create_table(
        "lesson_watch",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("lesson_id", sa.Integer, nullable=False),
        sa.Column("covered", sa.LargeBinary, nullable=False),
        sa.Column("covered_s", sa.Float, nullable=False),
        sa.Column("resume_position_s", sa.Float, nullable=False),
        sa.Column("resume_started_at", TS, nullable=True),
        sa.Column("resume_session_id", sa.String(36), nullable=True),
        sa.Column("resume_seq", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_lesson_watch_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lessons.id"], name="fk_lesson_watch_lesson_id_lessons", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "lesson_id", name="pk_lesson_watch"),
    )
    op.create_index("ix_lesson_watch_lesson_id", "lesson_watch", ["lesson_id"])


def downgrade() -> None:
    op.drop_index("ix_lesson_watch_lesson_id", table_name="lesson_watch")
    op.drop_table("lesson_watch")
    op.drop_index("ix_lesson_views_started_at", table_name="lesson_views")
    op.drop_index("ix_lesson_views_lesson_id_started_at", table_name="lesson_views")
    op.drop_table("lesson_views")

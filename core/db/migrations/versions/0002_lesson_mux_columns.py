"""Lessons gain the Mux columns; existing S3 lessons are marked provider 's3' and ready.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lessons") as batch:
        batch.add_column(sa.Column("video_provider", sa.String(8), nullable=True))
        batch.add_column(sa.Column("mux_upload_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mux_asset_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mux_playback_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("playback_policy", sa.String(8), nullable=False, server_default="public"))
        batch.add_column(sa.Column("video_status", sa.String(16), nullable=False, server_default="none"))
        batch.add_column(sa.Column("video_duration_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("video_error", sa.Text, nullable=True))
        batch.add_column(sa.Column("video_status_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_lessons_mux_upload_id", ["mux_upload_id"])
        batch.create_check_constraint(
            "ck_lessons_video_provider", "video_provider IS NULL OR video_provider IN ('s3', 'mux')"
        )
        batch.create_check_constraint(
            "ck_lessons_video_status",
            "video_status IN ('none', 'waiting_upload', 'processing', 'ready', 'errored')",
        )
        batch.create_check_constraint("ck_lessons_playback_policy", "playback_policy IN ('public', 'signed')")
    op.create_index("ix_lessons_mux_asset_id", "lessons", ["mux_asset_id"])
    op.create_index("ix_lessons_video_provider", "lessons", ["video_provider"])
    # Every legacy lesson with a video plays from S3 until it is migrated.
    op.execute(
        "UPDATE lessons SET video_provider = 's3', video_status = 'ready', video_duration_s = duration_s "
        "WHERE video_url IS NOT NULL AND video_url <> ''"
    )


def downgrade() -> None:
    op.drop_index("ix_lessons_video_provider", table_name="lessons")
    op.drop_index("ix_lessons_mux_asset_id", table_name="lessons")
    with op.batch_alter_table("lessons") as batch:
        batch.drop_constraint("ck_lessons_playback_policy", type_="check")
        batch.drop_constraint("ck_lessons_video_status", type_="check")
        batch.drop_constraint("ck_lessons_video_provider", type_="check")
        batch.drop_constraint("uq_lessons_mux_upload_id", type_="unique")
        for column in (
            "video_status_at",
            "video_error",
            "video_duration_s",
            "video_status",
            "playback_policy",
            "mux_playback_id",
            "mux_asset_id",
            "mux_upload_id",
            "video_provider",
        ):
            batch.drop_column(column)

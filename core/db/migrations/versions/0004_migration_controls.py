"""S3-to-Mux migration: per-job ingest mode and Mux ids, a shared pause flag, 64-bit source sizes.

- `migration_jobs.source_size_bytes` becomes BIGINT: PostgreSQL's INTEGER stops at 2 GiB, and a lecture
  recording is often larger.
- `ingest_mode` (url | stream): Mux fetches a presigned URL, or Lectern streams S3 to a direct upload for
  buckets Mux cannot reach. `mux_upload_id` lets a streamed job resume without a second upload.
- `mux_playback_id`, `queued_at` (when this run of the job was queued: assets older than it belong to an
  earlier run and are never reused), `rolled_back_at`, `bytes_proxied` (bytes that went through Lectern).
- `migration_control`: one row holding the pause flag every worker process reads.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("migration_jobs") as batch:
        batch.alter_column("source_size_bytes", existing_type=sa.Integer, type_=sa.BigInteger, existing_nullable=True)
        batch.add_column(sa.Column("ingest_mode", sa.String(8), nullable=False, server_default="url"))
        batch.add_column(sa.Column("mux_upload_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mux_playback_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("queued_at", TS, nullable=True))
        batch.add_column(sa.Column("rolled_back_at", TS, nullable=True))
        batch.add_column(sa.Column("bytes_proxied", sa.BigInteger, nullable=False, server_default="0"))
        batch.create_check_constraint("ck_migration_jobs_ingest_mode", "ingest_mode IN ('url', 'stream')")
    op.create_index("ix_migration_jobs_worker_id", "migration_jobs", ["worker_id"])
    op.execute("UPDATE migration_jobs SET queued_at = created_at WHERE queued_at IS NULL")
    op.create_table(
        "migration_control",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_migration_control"),
    )


def downgrade() -> None:
    op.drop_table("migration_control")
    op.drop_index("ix_migration_jobs_worker_id", table_name="migration_jobs")
    with op.batch_alter_table("migration_jobs") as batch:
        batch.drop_constraint("ck_migration_jobs_ingest_mode", type_="check")
        for column in ("bytes_proxied", "rolled_back_at", "queued_at", "mux_playback_id", "mux_upload_id"):
            batch.drop_column(column)
        batch.drop_column("ingest_mode")
        batch.alter_column("source_size_bytes", existing_type=sa.BigInteger, type_=sa.Integer, existing_nullable=True)

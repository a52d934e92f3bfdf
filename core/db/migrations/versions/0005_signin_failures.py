"""Dashboard sign-in throttling: failed sign-ins kept in the platform DB (shared by dashboard replicas).

- `signin_failures`: one row per failed (or in-flight) sign-in, by normalised email and client address.
  Indexed for the three counts the throttle reads (per email, per address, per pair) and for pruning.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signin_failures"),
    )
    op.create_index("ix_signin_failures_email_failed_at", "signin_failures", ["email", "failed_at"])
    op.create_index("ix_signin_failures_address_failed_at", "signin_failures", ["address", "failed_at"])
    op.create_index("ix_signin_failures_failed_at", "signin_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_table("signin_failures")

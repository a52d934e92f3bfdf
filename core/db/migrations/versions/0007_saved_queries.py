"""SQL workbench: saved queries, shared between analysts.

- `saved_queries`: name (unique), description, the SQL text, its author (kept null when the author's
  account is deleted: the query belongs to the team), created and updated times.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "saved_queries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("author_id", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name="fk_saved_queries_author_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_saved_queries"),
        sa.UniqueConstraint("name", name="uq_saved_queries_name"),
    )


def downgrade() -> None:
    op.drop_table("saved_queries")

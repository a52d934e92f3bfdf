"""Legacy platform schema: lessons carry only an S3 video_url.

Revision ID: 0001
Revises:
Create Date: 2024-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.CheckConstraint("role IN ('teacher', 'student', 'admin', 'analyst')", name="ck_users_role"),
    )
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("teacher_id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_courses"),
        sa.ForeignKeyConstraint(["teacher_id"], ["users.id"], name="fk_courses_teacher_id_users"),
    )
    op.create_index("ix_courses_teacher_id", "courses", ["teacher_id"])
    op.create_table(
        "lessons",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("course_id", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("video_url", sa.String(1024), nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("chapters", sa.JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lessons"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name="fk_lessons_course_id_courses", ondelete="CASCADE"),
        sa.UniqueConstraint("course_id", "position", name="uq_lessons_course_id_position"),
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("course_id", sa.Integer, nullable=False),
        sa.Column("enrolled_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enrollments"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_enrollments_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name="fk_enrollments_course_id_courses", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("user_id", "course_id", name="uq_enrollments_user_id_course_id"),
    )
    op.create_index("ix_enrollments_course_id", "enrollments", ["course_id"])
    op.create_table(
        "lesson_progress",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("lesson_id", sa.Integer, nullable=False),
        sa.Column("seconds_watched", sa.Float, nullable=False),
        sa.Column("furthest_position_s", sa.Float, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lesson_progress"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_lesson_progress_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lessons.id"], name="fk_lesson_progress_lesson_id_lessons", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress_user_id_lesson_id"),
        sa.CheckConstraint("seconds_watched >= 0", name="ck_lesson_progress_seconds_watched"),
    )
    op.create_index("ix_lesson_progress_lesson_id", "lesson_progress", ["lesson_id"])


def downgrade() -> None:
    op.drop_table("lesson_progress")
    op.drop_table("enrollments")
    op.drop_table("lessons")
    op.drop_table("courses")
    op.drop_table("users")

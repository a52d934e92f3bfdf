"""The Alembic history behaves like a real platform's: legacy data survives the move to Mux columns."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from core.db.engine import make_engine
from core.db.migrate import alembic_config, current_revision, downgrade, upgrade
from core.db.models import Base

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def _insert_legacy_platform(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES "
                "(1, 't@x.test', 'T', 'teacher', '!', :now), (2, 's@x.test', 'S', 'student', '!', :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text("INSERT INTO courses (id, teacher_id, title, description, created_at) VALUES (1, 1, 'C', '', :now)"),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO lessons (id, course_id, position, title, video_url, duration_s, created_at) VALUES "
                "(1, 1, 1, 'On S3', 'courses/1/a.mp4', 300, :now), "
                "(2, 1, 2, 'Also S3', 's3://bucket/courses/1/b.mp4', 420, :now), "
                "(3, 1, 3, 'No video yet', NULL, NULL, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text("INSERT INTO enrollments (id, user_id, course_id, enrolled_at) VALUES (1, 2, 1, :now)"),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO lesson_progress (id, user_id, lesson_id, seconds_watched, furthest_position_s, "
                "completed_at, updated_at) VALUES (1, 2, 1, 310, 300, :now, :now), (2, 2, 2, 60, 55, NULL, :now)"
            ),
            {"now": NOW},
        )
    engine.dispose()


def test_legacy_rows_survive_upgrade_and_downgrade(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0001")
    _insert_legacy_platform(empty_db_url)
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()

    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        lessons = conn.execute(
            text(
                "SELECT id, video_url, video_provider, video_status, video_duration_s, mux_asset_id "
                "FROM lessons ORDER BY id"
            )
        ).all()
        assert [tuple(r) for r in lessons] == [
            (1, "courses/1/a.mp4", "s3", "ready", 300.0, None),
            (2, "s3://bucket/courses/1/b.mp4", "s3", "ready", 420.0, None),
            (3, None, None, "none", None, None),
        ]
        assert conn.execute(text("SELECT count(*) FROM lesson_progress")).scalar_one() == 2
        assert conn.execute(text("SELECT count(*) FROM enrollments")).scalar_one() == 1
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("lessons")}
        assert {"ix_lessons_mux_asset_id", "ix_lessons_video_provider"} <= indexes
    engine.dispose()

    downgrade(empty_db_url, "0001")
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("lessons")}
        assert "video_provider" not in columns and "mux_asset_id" not in columns
        rows = conn.execute(text("SELECT id, video_url FROM lessons ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [
            (1, "courses/1/a.mp4"),
            (2, "s3://bucket/courses/1/b.mp4"),
            (3, None),
        ]
        assert conn.execute(text("SELECT count(*) FROM lesson_progress")).scalar_one() == 2
    engine.dispose()

    downgrade(empty_db_url, "base")
    upgrade(empty_db_url)  # and forward again from nothing
    assert current_revision(empty_db_url) == head_revision()


def test_models_match_the_migrated_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_0005_adds_and_removes_the_signin_failures_table(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0005")
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        assert {ix["name"] for ix in inspect(conn).get_indexes("signin_failures")} == {
            "ix_signin_failures_email_failed_at",
            "ix_signin_failures_address_failed_at",
            "ix_signin_failures_failed_at",
        }
        conn.execute(
            text("INSERT INTO signin_failures (email, address, failed_at) VALUES ('a@x.test', '10.0.0.1', :now)"),
            {"now": NOW},
        )
    engine.dispose()
    downgrade(empty_db_url, "0004")
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        assert "signin_failures" not in inspect(conn).get_table_names()
    engine.dispose()
    upgrade(empty_db_url, "0005")


def test_0006_gives_old_alerts_a_state_and_backfills_uploads(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0005")
    _insert_legacy_platform(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE lessons SET mux_upload_id = 'up-ready', mux_asset_id = 'as-1', video_status = 'ready', "
                "video_provider = 'mux', video_status_at = :now WHERE id = 1"
            ),
            {"now": NOW},
        )
        conn.execute(
            text("UPDATE lessons SET mux_upload_id = 'up-waiting', video_status = 'waiting_upload' WHERE id = 3")
        )
        conn.execute(
            text(
                "INSERT INTO alerts (key, kind, severity, message, created_at, resolved_at) VALUES "
                "('cost-budget:2026-01', 'cost_budget', 'warning', 'over', :now, NULL), "
                "('mux_orphan_asset:as-9', 'mux_orphan_asset', 'warning', 'orphan', :now, :now)"
            ),
            {"now": NOW},
        )
    engine.dispose()

    upgrade(empty_db_url, "0006")
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        states = dict(conn.execute(text("SELECT key, state FROM alerts")).all())
        assert states == {"cost-budget:2026-01": "firing", "mux_orphan_asset:as-9": "resolved"}
        uploads = dict(conn.execute(text("SELECT mux_upload_id, status FROM uploads")).all())
        assert uploads == {"up-ready": "ready", "up-waiting": "waiting"}
        # A condition that comes back after resolving is a new alert; two open ones of one key are refused.
        conn.execute(
            text(
                "INSERT INTO alerts (key, kind, severity, message, created_at, state, first_seen_at, last_seen_at) "
                "VALUES ('mux_orphan_asset:as-9', 'mux_orphan_asset', 'warning', 'again', :now, 'firing', :now, :now)"
            ),
            {"now": NOW},
        )
    with engine.connect() as conn:
        try:
            conn.execute(
                text(
                    "INSERT INTO alerts (key, kind, severity, message, created_at, state, first_seen_at, "
                    "last_seen_at) VALUES ('mux_orphan_asset:as-9', 'mux_orphan_asset', 'warning', 'twice', :now, "
                    "'firing', :now, :now)"
                ),
                {"now": NOW},
            )
        except Exception as exc:  # IntegrityError on both backends
            assert "unique" in str(exc).lower()
        else:
            raise AssertionError("a second open alert with one key was accepted")
    engine.dispose()

    downgrade(empty_db_url, "0005")  # keeps the newest alert of each key, as the unique key demands
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        assert "uploads" not in inspect(conn).get_table_names()
        assert sorted(conn.execute(text("SELECT message FROM alerts")).scalars()) == ["again", "over"]
    engine.dispose()
    upgrade(empty_db_url)

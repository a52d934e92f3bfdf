"""Warehouse schema: versioned DDL steps applied forward, in order, each in its own transaction.

`schema_version` records every step applied. `migrate(con)` brings any older warehouse to `LATEST`;
a warehouse written by a newer Lectern is refused rather than guessed at. Steps are append-only: to
change a table or view, add a step (views are `CREATE OR REPLACE`d by the step that changes them).

Tables hold no PRIMARY KEY on the big fact tables (`mux_views`, rollups) on purpose: DuckDB's ART index
doubles the bulk-load cost and lives in memory; the loaders keep natural keys unique instead (dedupe the
batch, delete the batch's keys, insert — one transaction), and `duplicate_keys()` checks it. Finding
the batch's keys among a table's rows is a scan of the key column: for `mux_views` that is `view_key`,
DuckDB's 64-bit hash of `view_id` (an integer column scans ~5x faster than the strings; the view ids are
then compared on the few rows whose hash matched). `hash()` is DuckDB's, not a published function:
`warehouse_settings` keeps the hash of a probe string, and `migrate` recomputes every key when a DuckDB
upgrade changed it.
Column meanings and units are in warehouse/README.md (the data dictionary).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from core.errors import ErrorKind, PermanentError
from warehouse.rollups import ROLLUP_TABLES


class SchemaError(PermanentError):
    """The warehouse file's schema cannot be used by this version of Lectern."""

    kind = ErrorKind.MISCONFIGURED


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_V1_RAW = (
    """CREATE TABLE mux_views (
        view_id VARCHAR NOT NULL,
        viewer_user_id VARCHAR,
        user_id BIGINT,
        video_id VARCHAR,
        lesson_id BIGINT,
        video_title VARCHAR,
        asset_id VARCHAR,
        playback_id VARCHAR,
        view_start TIMESTAMPTZ,
        view_end TIMESTAMPTZ,
        view_day DATE,
        watch_time_ms BIGINT,
        playing_time_ms BIGINT,
        max_playhead_ms BIGINT,
        video_duration_ms BIGINT,
        startup_time_ms BIGINT,
        rebuffer_count BIGINT,
        rebuffer_duration_ms BIGINT,
        rebuffer_percentage DOUBLE,
        playback_failure BOOLEAN,
        video_startup_failure BOOLEAN,
        exit_before_video_start BOOLEAN,
        error_type_id BIGINT,
        error_code VARCHAR,
        error_message VARCHAR,
        browser VARCHAR,
        os VARCHAR,
        device VARCHAR,
        country VARCHAR,
        player VARCHAR,
        viewer_experience_score DOUBLE,
        loaded_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE delivery_usage (
        asset_id VARCHAR NOT NULL,
        window_start TIMESTAMPTZ NOT NULL,
        window_end TIMESTAMPTZ NOT NULL,
        usage_day DATE NOT NULL,
        passthrough VARCHAR,
        lesson_id BIGINT,
        delivered_seconds DOUBLE NOT NULL,
        delivered_seconds_720p DOUBLE NOT NULL,
        delivered_seconds_1080p DOUBLE NOT NULL,
        delivered_seconds_1440p DOUBLE NOT NULL,
        delivered_seconds_2160p DOUBLE NOT NULL,
        delivered_seconds_audio_only DOUBLE NOT NULL,
        asset_state VARCHAR,
        asset_duration_s DOUBLE,
        asset_resolution_tier VARCHAR,
        asset_video_quality VARCHAR,
        asset_encoding_tier VARCHAR,
        asset_created_at TIMESTAMPTZ,
        asset_deleted_at TIMESTAMPTZ,
        loaded_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (asset_id, window_start)
    )""",
    """CREATE TABLE assets (
        asset_id VARCHAR PRIMARY KEY,
        status VARCHAR,
        duration_s DOUBLE,
        resolution_tier VARCHAR,
        max_resolution_tier VARCHAR,
        video_quality VARCHAR,
        encoding_tier VARCHAR,
        aspect_ratio VARCHAR,
        passthrough VARCHAR,
        lesson_id BIGINT,
        playback_id VARCHAR,
        playback_policy VARCHAR,
        upload_id VARCHAR,
        is_test BOOLEAN,
        created_at TIMESTAMPTZ,
        deleted_at TIMESTAMPTZ,
        last_seen_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE sync_state (
        job VARCHAR PRIMARY KEY,
        watermark TIMESTAMPTZ,
        last_run_at TIMESTAMPTZ NOT NULL,
        last_success_at TIMESTAMPTZ,
        rows BIGINT NOT NULL DEFAULT 0,
        status VARCHAR NOT NULL,
        error VARCHAR,
        duration_s DOUBLE
    )""",
)

# Platform snapshot: the columns analysts need, never password hashes.
_V1_PLATFORM = (
    "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR, name VARCHAR, role VARCHAR, created_at TIMESTAMPTZ)",
    """CREATE TABLE courses (id BIGINT PRIMARY KEY, teacher_id BIGINT, title VARCHAR, description VARCHAR,
        created_at TIMESTAMPTZ)""",
    """CREATE TABLE lessons (
        id BIGINT PRIMARY KEY, course_id BIGINT, position INTEGER, title VARCHAR, video_url VARCHAR,
        duration_s DOUBLE, chapters VARCHAR, created_at TIMESTAMPTZ, video_provider VARCHAR,
        mux_asset_id VARCHAR, mux_playback_id VARCHAR, playback_policy VARCHAR, video_status VARCHAR,
        video_duration_s DOUBLE, video_status_at TIMESTAMPTZ
    )""",
    "CREATE TABLE enrollments (id BIGINT PRIMARY KEY, user_id BIGINT, course_id BIGINT, enrolled_at TIMESTAMPTZ)",
    """CREATE TABLE lesson_progress (
        id BIGINT PRIMARY KEY, user_id BIGINT, lesson_id BIGINT, seconds_watched DOUBLE,
        furthest_position_s DOUBLE, completed_at TIMESTAMPTZ, updated_at TIMESTAMPTZ
    )""",
)

# Rollups the dashboards read: refreshed by the views job for the days a load touched (warehouse/rollups.py).
_V2_ROLLUPS = (
    """CREATE TABLE lesson_daily (
        view_day DATE NOT NULL,
        lesson_id BIGINT,
        views BIGINT NOT NULL,
        viewers BIGINT NOT NULL,
        watch_time_ms BIGINT NOT NULL,
        playing_time_ms BIGINT NOT NULL,
        watched_fraction_sum DOUBLE NOT NULL,
        watched_fraction_n BIGINT NOT NULL,
        completed_views BIGINT NOT NULL,
        startup_time_ms_sum BIGINT NOT NULL,
        startup_time_n BIGINT NOT NULL,
        rebuffer_percentage_sum DOUBLE NOT NULL,
        rebuffer_percentage_n BIGINT NOT NULL,
        playback_failures BIGINT NOT NULL,
        startup_failures BIGINT NOT NULL,
        exits_before_start BIGINT NOT NULL
    )""",
    """CREATE TABLE viewer_lesson_daily (
        view_day DATE NOT NULL,
        lesson_id BIGINT,
        viewer_user_id VARCHAR NOT NULL,
        viewer_key BIGINT NOT NULL,
        user_id BIGINT,
        views BIGINT NOT NULL,
        watch_time_ms BIGINT NOT NULL,
        playing_time_ms BIGINT NOT NULL,
        max_watched_fraction DOUBLE,
        last_view_end TIMESTAMPTZ
    )""",
    """CREATE TABLE viewer_daily (
        view_day DATE NOT NULL,
        viewer_key BIGINT NOT NULL,
        views BIGINT NOT NULL,
        watch_time_ms BIGINT NOT NULL
    )""",
    """CREATE TABLE lesson_retention_daily (
        view_day DATE NOT NULL,
        lesson_id BIGINT,
        bucket SMALLINT NOT NULL,
        views BIGINT NOT NULL
    )""",
    # Platform-wide quality of experience per day and dimension value (browser, os, device, country,
    # player), with startup times as a log-scale histogram (10 buckets per doubling).
    """CREATE TABLE qoe_daily (
        view_day DATE NOT NULL,
        dimension VARCHAR NOT NULL,
        value VARCHAR,
        views BIGINT NOT NULL,
        rebuffer_percentage_sum DOUBLE NOT NULL,
        rebuffer_percentage_n BIGINT NOT NULL,
        rebuffered_views BIGINT NOT NULL,
        playback_failures BIGINT NOT NULL,
        startup_failures BIGINT NOT NULL,
        exits_before_start BIGINT NOT NULL,
        experience_score_sum DOUBLE NOT NULL,
        experience_score_n BIGINT NOT NULL
    )""",
    """CREATE TABLE qoe_startup_daily (
        view_day DATE NOT NULL,
        dimension VARCHAR NOT NULL,
        value VARCHAR,
        bucket SMALLINT NOT NULL,
        views BIGINT NOT NULL
    )""",
    # Refreshed by the platform job from the snapshot it just took.
    """CREATE TABLE lesson_completion (
        lesson_id BIGINT PRIMARY KEY,
        course_id BIGINT,
        enrolled_students BIGINT NOT NULL,
        students_started BIGINT NOT NULL,
        students_completed BIGINT NOT NULL
    )""",
    """CREATE TABLE student_course_progress (
        user_id BIGINT NOT NULL,
        course_id BIGINT NOT NULL,
        enrolled_at TIMESTAMPTZ,
        lessons_started BIGINT NOT NULL,
        lessons_completed BIGINT NOT NULL,
        seconds_watched DOUBLE NOT NULL,
        last_progress_at TIMESTAMPTZ,
        PRIMARY KEY (user_id, course_id)
    )""",
)

_V3_VIEWS = (
    """CREATE OR REPLACE VIEW v_daily_lesson_engagement AS
    SELECT d.view_day AS day, d.lesson_id, l.title AS lesson_title, l.course_id, c.title AS course_title,
           c.teacher_id, t.name AS teacher_name, d.views, d.viewers AS unique_viewers,
           d.watch_time_ms / 1000.0 AS watch_time_s, d.playing_time_ms / 1000.0 AS playing_time_s,
           d.watched_fraction_sum / NULLIF(d.watched_fraction_n, 0) AS avg_fraction_watched,
           d.completed_views
    FROM lesson_daily d
    LEFT JOIN lessons l ON l.id = d.lesson_id
    LEFT JOIN courses c ON c.id = l.course_id
    LEFT JOIN users t ON t.id = c.teacher_id""",
    """CREATE OR REPLACE VIEW v_lesson_retention AS
    WITH totals AS (
        SELECT lesson_id, bucket, sum(views) AS views FROM lesson_retention_daily GROUP BY ALL
    ), per_lesson AS (
        SELECT lesson_id, sum(views) AS views FROM totals GROUP BY ALL
    ), grid AS (
        SELECT p.lesson_id, p.views, b.bucket FROM per_lesson p, range(0, 21) b(bucket)
    )
    SELECT g.lesson_id, (g.bucket * 5)::INTEGER AS pct_of_duration, any_value(g.views) AS views,
           coalesce(sum(t.views), 0) AS views_reaching,
           coalesce(sum(t.views), 0) / any_value(g.views) AS share_still_watching
    FROM grid g
    LEFT JOIN totals t ON t.lesson_id IS NOT DISTINCT FROM g.lesson_id AND t.bucket >= g.bucket
    GROUP BY g.lesson_id, g.bucket""",
    """CREATE OR REPLACE VIEW v_qoe AS
    SELECT v.lesson_id, l.title AS lesson_title, c.teacher_id, v.browser, v.os, count(*) AS views,
           quantile_cont(v.startup_time_ms, 0.5) AS startup_time_ms_p50,
           quantile_cont(v.startup_time_ms, 0.95) AS startup_time_ms_p95,
           avg(v.rebuffer_percentage) AS avg_rebuffer_percentage,
           avg(CASE WHEN v.playback_failure THEN 1.0 ELSE 0.0 END) AS playback_failure_rate,
           avg(CASE WHEN v.video_startup_failure THEN 1.0 ELSE 0.0 END) AS startup_failure_rate,
           avg(CASE WHEN v.exit_before_video_start THEN 1.0 ELSE 0.0 END) AS exit_before_start_rate
    FROM mux_views v
    LEFT JOIN lessons l ON l.id = v.lesson_id
    LEFT JOIN courses c ON c.id = l.course_id
    GROUP BY ALL""",
    """CREATE OR REPLACE VIEW v_lesson_completion AS
    SELECT l.id AS lesson_id, l.title AS lesson_title, l.position, l.course_id, c.title AS course_title,
           c.teacher_id, coalesce(x.enrolled_students, 0) AS enrolled_students,
           coalesce(x.students_started, 0) AS students_started,
           coalesce(x.students_completed, 0) AS students_completed,
           x.students_completed / NULLIF(x.enrolled_students, 0) AS completion_rate
    FROM lessons l
    JOIN courses c ON c.id = l.course_id
    LEFT JOIN lesson_completion x ON x.lesson_id = l.id""",
    """CREATE OR REPLACE VIEW v_usage_daily AS
    WITH by_asset AS (
        SELECT mux_asset_id AS asset_id, min(id) AS lesson_id FROM lessons WHERE mux_asset_id IS NOT NULL GROUP BY 1
    )
    SELECT u.usage_day AS day, u.asset_id, coalesce(a.lesson_id, u.lesson_id) AS lesson_id,
           l.title AS lesson_title, l.course_id, c.title AS course_title, c.teacher_id,
           sum(u.delivered_seconds) AS delivered_seconds,
           sum(u.delivered_seconds) / 60.0 AS delivered_minutes,
           sum(u.delivered_seconds_720p) AS delivered_seconds_720p,
           sum(u.delivered_seconds_1080p) AS delivered_seconds_1080p,
           sum(u.delivered_seconds_1440p) AS delivered_seconds_1440p,
           sum(u.delivered_seconds_2160p) AS delivered_seconds_2160p,
           sum(u.delivered_seconds_audio_only) AS delivered_seconds_audio_only,
           any_value(u.asset_resolution_tier) AS asset_resolution_tier,
           any_value(u.asset_video_quality) AS asset_video_quality
    FROM delivery_usage u
    LEFT JOIN by_asset a ON a.asset_id = u.asset_id
    LEFT JOIN lessons l ON l.id = coalesce(a.lesson_id, u.lesson_id)
    LEFT JOIN courses c ON c.id = l.course_id
    GROUP BY ALL""",
)

# The Mux Data view export days the views job loaded: the file's version and ETag tell the next run whether
# Mux has published that day again (a later version, or other content) and it must be loaded again.
_V4_VIEW_EXPORTS = (
    """CREATE TABLE sync_view_exports (
        export_date DATE PRIMARY KEY,
        version INTEGER,
        etag VARCHAR,
        rows BIGINT NOT NULL,
        bytes BIGINT NOT NULL,
        loaded_at TIMESTAMPTZ NOT NULL
    )""",
)

# view_key: see the module docstring. NOT NULL so that no writer can leave a row its upsert would not find.
VIEW_KEY_PROBE = "lectern view_key probe"
_V5_VIEW_KEY = (
    "CREATE TABLE warehouse_settings (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    f"INSERT INTO warehouse_settings VALUES ('view_key_probe', CAST(hash('{VIEW_KEY_PROBE}') AS VARCHAR))",
    "ALTER TABLE mux_views ADD COLUMN view_key UBIGINT",
    "UPDATE mux_views SET view_key = hash(view_id)",
)
# DuckDB cannot add the constraint in the transaction that filled the column.
_V6_VIEW_KEY_NOT_NULL = ("ALTER TABLE mux_views ALTER COLUMN view_key SET NOT NULL",)

# Mux gives a view two ids: `id` (opaque; what the views list returns and get-video-view takes) and
# `view_id` (a UUID; the full view's and the export files' key). Before v7 the list+get path stored `id`
# as view_id and exports stored the UUID, so a view read both ways was stored twice. From v7 every path
# keys on the UUID and keeps `id` in mux_view_id. Rows stored before v7 by list+get hold Mux's `id` in
# view_id and no UUID: SQL cannot re-key them, so this step marks them (legacy_key) and lists their days
# (view_end's UTC date) in sync_view_rereads; the views job re-reads those days and replaces them
# (sync/views.py, warehouse/legacy_views.py). A row counts as export-loaded, and is left alone, when its
# view_end falls on a day an export file was loaded for and it carries that load's loaded_at.
_UUID_RE = "(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_V7_VIEW_IDENTITY = (
    "ALTER TABLE mux_views ADD COLUMN mux_view_id VARCHAR",
    "ALTER TABLE mux_views ADD COLUMN player_startup_time_ms BIGINT",
    "ALTER TABLE mux_views ADD COLUMN legacy_key BOOLEAN DEFAULT FALSE",
    # Mux has given views ending on or after 2022-07-28 the same UUID as `id` and `view_id` (Mux changelog,
    # 2022-07-27): a list+get row holding a UUID is keyed right already and needs no re-read.
    f"""UPDATE mux_views SET legacy_key = NOT regexp_full_match(view_id, '{_UUID_RE}'), mux_view_id = view_id
    WHERE NOT EXISTS (
        SELECT 1 FROM sync_view_exports e
        WHERE e.export_date = timezone('UTC', mux_views.view_end)::DATE AND e.loaded_at = mux_views.loaded_at
    )""",
    """CREATE TABLE sync_view_rereads (
        view_day DATE PRIMARY KEY,
        legacy_rows BIGINT NOT NULL,
        marked_at TIMESTAMPTZ NOT NULL
    )""",
    """INSERT INTO sync_view_rereads
    SELECT timezone('UTC', view_end)::DATE, count(*), now() FROM mux_views
    WHERE legacy_key AND view_end IS NOT NULL GROUP BY 1""",
)

# Students' personal data: no emails at all, no student names, and the platform snapshot's
# student rows emptied: they held platform ids, and the platform job refills them under student keys
# (core/privacy.py) on its next run. `privacy_forgotten` lists the keys of students `lectern privacy forget`
# removed, so that neither the platform job nor a re-fetch of their Mux Data views brings them back.
# Views loaded before this step carry the viewer_user_id the player sent then (the platform id): the platform
# job rewrites students' to their keys (it alone has the HMAC key), and `lectern privacy forget` removes them.
_V8_PSEUDONYMS = (
    "ALTER TABLE users DROP COLUMN email",
    "DELETE FROM users WHERE role = 'student'",
    "DELETE FROM enrollments",
    "DELETE FROM lesson_progress",
    "DELETE FROM student_course_progress",
    """CREATE TABLE privacy_forgotten (
        student_key BIGINT PRIMARY KEY, user_id BIGINT, forgotten_at TIMESTAMPTZ NOT NULL
    )""",
)

# Lectern's own record of viewing (platform DB `lesson_views`, issue 20): one row per play session with the
# provider the lesson had when it started, so the cut-over compares S3 and Mux viewing on the same measure.
# Copied by the platform job like lesson_progress (students under their keys); the watched-seconds bitmap stays
# in the platform DB.
_V9_LESSON_VIEWS = (
    """CREATE TABLE lesson_views (
        id BIGINT PRIMARY KEY, user_id BIGINT, lesson_id BIGINT, session_id VARCHAR, provider VARCHAR,
        started_at TIMESTAMPTZ, last_report_at TIMESTAMPTZ, last_seq INTEGER, position_s DOUBLE,
        furthest_position_s DOUBLE, seconds_watched DOUBLE, duration_s DOUBLE, ended_at TIMESTAMPTZ
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "raw Mux tables, platform snapshot, sync_state", _V1_RAW + _V1_PLATFORM),
    Migration(2, "daily rollups for dashboards (backfilled from mux_views)", _V2_ROLLUPS),
    Migration(3, "documented analyst views", _V3_VIEWS),
    Migration(4, "view export days loaded by the views job", _V4_VIEW_EXPORTS),
    Migration(5, "mux_views.view_key (hash of view_id) for upserts; warehouse_settings", _V5_VIEW_KEY),
    Migration(6, "mux_views.view_key NOT NULL", _V6_VIEW_KEY_NOT_NULL),
    Migration(
        7,
        "mux_views keyed on Mux's view_id UUID: mux_view_id, player_startup_time_ms, legacy_key; sync_view_rereads",
        _V7_VIEW_IDENTITY,
    ),
    Migration(8, "students pseudonymised: no emails or student names; forgotten students", _V8_PSEUDONYMS),
    Migration(9, "lesson_views: play sessions reported by Lectern's player, with their provider", _V9_LESSON_VIEWS),
)
LATEST = MIGRATIONS[-1].version

# Every table and view an export writes, in a stable order (README documents each).
TABLES = (
    "mux_views",
    "delivery_usage",
    "assets",
    "users",
    "courses",
    "lessons",
    "enrollments",
    "lesson_progress",
    "lesson_views",
    "sync_state",
    "sync_view_exports",
    "sync_view_rereads",
    "warehouse_settings",
    *ROLLUP_TABLES,
    "lesson_completion",
    "student_course_progress",
    "privacy_forgotten",
    "schema_version",
)
VIEWS = ("v_daily_lesson_engagement", "v_lesson_retention", "v_qoe", "v_lesson_completion", "v_usage_daily")


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()
    if not exists[0][0]:
        return 0
    version = con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0]
    return int(version) if version is not None else 0


def migrate(
    con: duckdb.DuckDBPyConnection, *, target: int | None = None, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Apply every step above the file's version up to `target` (default: the newest); return those applied."""
    newest = migrations[-1].version
    target = newest if target is None else target
    version = current_version(con)
    if version > newest:
        raise SchemaError(
            f"warehouse schema is v{version} but this Lectern knows up to v{newest}: upgrade Lectern "
            "(or point LECTERN_WAREHOUSE_PATH at another warehouse)"
        )
    if version == 0:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
    applied: list[int] = []
    for step in migrations:
        if step.version <= version or step.version > target:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in step.statements:
                con.execute(statement)
            if step.version == 2:
                _backfill_rollups(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", [step.version, step.description, datetime.now(UTC)]
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(step.version)
    if target >= 5:
        rehash_view_keys(con)
    return applied


def rehash_view_keys(con: duckdb.DuckDBPyConnection) -> bool:
    """Recompute `mux_views.view_key` if this DuckDB hashes differently from the one that wrote them."""
    probe = f"CAST(hash('{VIEW_KEY_PROBE}') AS VARCHAR)"
    stale = con.execute(f"SELECT value <> {probe} FROM warehouse_settings WHERE name = 'view_key_probe'").fetchall()
    if stale and not stale[0][0]:
        return False
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("UPDATE mux_views SET view_key = hash(view_id)")
        con.execute(f"INSERT OR REPLACE INTO warehouse_settings VALUES ('view_key_probe', {probe})")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return True


def _backfill_rollups(con: duckdb.DuckDBPyConnection) -> None:
    # A warehouse that predates the rollups already holds views: derive their rollups once.
    from warehouse.rollups import refresh_platform_rollups, refresh_rollups

    refresh_rollups(con, None)
    refresh_platform_rollups(con)


def duplicate_keys(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows sharing a natural key, per table (all zero in a healthy warehouse)."""
    checks = {
        "mux_views": "SELECT count(*) - count(DISTINCT view_id) FROM mux_views",
        "lesson_daily": "SELECT count(*) - count(DISTINCT (view_day, lesson_id)) FROM lesson_daily",
        "viewer_lesson_daily": (
            "SELECT count(*) - count(DISTINCT (view_day, lesson_id, viewer_user_id)) FROM viewer_lesson_daily"
        ),
        "viewer_daily": "SELECT count(*) - count(DISTINCT (view_day, viewer_key)) FROM viewer_daily",
    }
    return {name: int(con.execute(sql).fetchall()[0][0]) for name, sql in checks.items()}

"""The `assets` job: list every Mux asset into the warehouse and reconcile them with platform lessons.

Order matters for crash safety: the complete listing is read first (a failed listing changes nothing),
then the platform is healed and alerts raised in one platform-DB transaction, then the warehouse
`assets` table and the job's state are written in one DuckDB transaction. Both steps are idempotent —
a heal only applies while the lesson still looks unhealed, alerts have a unique key — so a run killed
between them simply redoes the warehouse step next time.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import duckdb
from sqlalchemy import Engine, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from core.db.models import OPEN, Alert, AlertState, MigrationJob
from core.db.records import LessonState
from core.heal import apply_heal
from core.uploads import sweep_uploads
from sync import reconcile
from sync.sources import AssetsSource
from sync.state import JobResult, Progress, transaction, write_state
from warehouse.loaders import assets_to_arrow, upsert

JOB = "assets"
ACTIVE_MIGRATION = ("queued", "ingesting", "waiting", "verifying")
DEFAULT_UPLOAD_TIMEOUT_S = 3600  # Mux's default; the runner passes LECTERN_UPLOAD_TIMEOUT_S


def run_assets(
    con: duckdb.DuckDBPyConnection,
    source: AssetsSource,
    engine: Engine,
    *,
    now: datetime,
    progress: Progress | None = None,
    upload_timeout_s: int = DEFAULT_UPLOAD_TIMEOUT_S,
) -> JobResult:
    started = time.perf_counter()
    assets: list[dict[str, Any]] = []
    for page in source.iter_asset_pages():
        assets.extend(page)
        if progress:
            progress(JOB, 0, 0, len(assets))
    healed, raised, resolved = apply_to_platform(engine, assets, now=now, upload_timeout_s=upload_timeout_s)
    table = assets_to_arrow(assets, seen_at=now)
    result = JobResult(JOB, details={"assets": len(assets), "healed": healed, "alerts": raised, "resolved": resolved})
    with transaction(con):
        result.new_rows = upsert(con, "assets", table, ["asset_id"])
        result.rows = table.num_rows
        # Listed before, absent now: Mux deleted it. Keep the row (usage history refers to it).
        con.execute("UPDATE assets SET deleted_at = ? WHERE deleted_at IS NULL AND last_seen_at < ?", [now, now])
        write_state(
            con, JOB, now=now, status="ok", rows=result.rows, watermark=now, duration_s=time.perf_counter() - started
        )
    if progress:
        progress(JOB, 1, 1, result.rows)
    result.watermark = now
    result.duration_s = time.perf_counter() - started
    return result


def _lessons(conn: Any) -> list[LessonState]:
    return [LessonState(*row) for row in conn.execute(select(*LessonState.columns())).all()]


def apply_to_platform(
    engine: Engine, assets: list[dict[str, Any]], *, now: datetime, upload_timeout_s: int = DEFAULT_UPLOAD_TIMEOUT_S
) -> tuple[int, int, int]:
    """Heal lessons and uploads, upsert/resolve alerts, in one transaction; returns (healed, raised, resolved)."""
    with engine.begin() as conn:
        busy = set(
            conn.execute(select(MigrationJob.lesson_id).where(MigrationJob.state.in_(ACTIVE_MIGRATION))).scalars()
        )
        plan = reconcile.plan(assets, _lessons(conn), busy)
        healed = sum(apply_heal(conn, heal, now=now) for heal in plan.heals)
        sweep_uploads(conn, assets, now=now, timeout_s=upload_timeout_s)
        raised = _upsert_alerts(conn, plan.alerts, now)
        resolved = conn.execute(
            update(Alert)
            .where(
                Alert.kind.in_(reconcile.KINDS),
                Alert.resolved_at.is_(None),
                Alert.key.not_in([a.key for a in plan.alerts] or [""]),
            )
            .values(resolved_at=now, state=AlertState.resolved.value, last_seen_at=now)
        ).rowcount
    return healed, raised, resolved


def _upsert_alerts(conn: Any, alerts: list[reconcile.AlertSpec], now: datetime) -> int:
    """Insert new alerts (one open alert per key, safe against a concurrent run); a cleared one returning is new."""
    if not alerts:
        return 0
    dialect = conn.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {
            "key": a.key,
            "kind": a.kind,
            "severity": a.severity,
            "message": a.message,
            "context": a.context,
            "created_at": now,
            "state": AlertState.firing.value,
            "first_seen_at": now,
            "last_seen_at": now,
            "fired_at": now,
        }
        for a in alerts
    ]
    # RETURNING counts the rows really inserted (psycopg reports rowcount -1 for this statement).
    stmt = (
        insert(Alert)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["key"], index_where=text(OPEN))
        .returning(Alert.key)
    )
    raised = len(conn.execute(stmt).all())
    conn.execute(
        update(Alert)
        .where(Alert.key.in_([a.key for a in alerts]), Alert.state != AlertState.resolved.value)
        .values(last_seen_at=now)
    )
    return raised

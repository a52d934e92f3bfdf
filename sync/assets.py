"""The `assets` job: list every Mux asset into the warehouse and reconcile them with platform lessons.

Order matters for crash safety: the complete listing is read first (a failed listing changes nothing),
then the platform is healed and the reconciliation rules evaluated by the alert engine (core/alerts/) in
one platform-DB transaction, then the warehouse `assets` table and the job's state are written in one
DuckDB transaction. Both steps are idempotent — a heal only applies while the lesson still looks unhealed,
an alert condition has one open alert per key — so a run killed between them simply redoes the warehouse
step next time. Notifications for what this job fires or resolves are queued here and delivered by the
`alerts` job.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import duckdb
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.alerts.config import AlertConfig
from core.alerts.rules import resolve_rules
from core.alerts.store import evaluate
from core.db.models import MigrationJob
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
    alerting: AlertConfig | None = None,
    upload_timeout_s: int = DEFAULT_UPLOAD_TIMEOUT_S,
) -> JobResult:
    started = time.perf_counter()
    assets: list[dict[str, Any]] = []
    for page in source.iter_asset_pages():
        assets.extend(page)
        if progress:
            progress(JOB, 0, 0, len(assets))
    healed, raised, resolved = apply_to_platform(
        engine, assets, now=now, alerting=alerting, upload_timeout_s=upload_timeout_s
    )
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
    engine: Engine,
    assets: list[dict[str, Any]],
    *,
    now: datetime,
    alerting: AlertConfig | None = None,
    upload_timeout_s: int = DEFAULT_UPLOAD_TIMEOUT_S,
) -> tuple[int, int, int]:
    """Heal lessons and uploads and evaluate the reconciliation rules in one transaction; returns (healed,
    alerts opened, alerts resolved). `alerting`: the deployment's rules and receivers (default rules, nobody
    notified)."""
    config = alerting or AlertConfig(rules=resolve_rules())
    with Session(engine) as session, session.begin():
        busy = set(
            session.execute(select(MigrationJob.lesson_id).where(MigrationJob.state.in_(ACTIVE_MIGRATION))).scalars()
        )
        plan = reconcile.plan(assets, _lessons(session), busy)
        conn = session.connection()
        healed = sum(apply_heal(conn, heal, now=now) for heal in plan.heals)
        sweep_uploads(conn, assets, now=now, timeout_s=upload_timeout_s)
        # A complete listing of Mux: both reconciliation rules are measured, so what is not flagged cleared.
        outcome = evaluate(session, config, reconcile.KINDS, plan.alerts, now=now)
    return healed, len(outcome.opened), len(outcome.resolved)

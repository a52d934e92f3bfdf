"""The `orphan_cleanup` job: delete replaced lesson videos' old Mux assets once their grace period is over.

Off unless `LECTERN_DELETE_REPLACED_ASSETS_AFTER_DAYS` is set (the job then records `ok` and does nothing).
It runs after `assets`, on the listing that job just wrote to the working warehouse, and deletes at most
`LECTERN_ORPHAN_CLEANUP_MAX_PER_RUN` assets a run, longest orphaned first: a bug in the plan can cost a
few assets, never the account. Each delete re-checks Mux and the platform DB first and is audited as actor
`scheduler` (core/assets/service.py). The deleted assets are marked deleted in the warehouse in the same
transaction as the job's state, so the published orphan list drops them at once.
"""

from __future__ import annotations

import time
from datetime import datetime

import duckdb

from core.assets.service import SCHEDULER, OrphanedAssetService
from core.logging import get_logger
from sync.state import JobResult, transaction, write_state
from warehouse.orphans import asset_listing

JOB = "orphan_cleanup"
log = get_logger(__name__)


def run_orphan_cleanup(
    con: duckdb.DuckDBPyConnection, service: OrphanedAssetService, *, now: datetime, max_per_run: int
) -> JobResult:
    started = time.perf_counter()
    result = JobResult(JOB)
    if service.grace_days is None:
        result.details = {"enabled": False}
        deleted: list[str] = []
    else:
        plan = service.plan(asset_listing(con), now=now)
        outcomes = service.delete_eligible(plan, actor=SCHEDULER, limit=max_per_run)
        deleted = [r.asset_id for r in outcomes if r.outcome in ("deleted", "already_gone")]
        result.details = {
            "enabled": True,
            "orphans": len(plan.orphans),
            "eligible": len(plan.eligible),
            "deleted": len(deleted),
            "refused": sum(r.outcome == "refused" for r in outcomes),
            "left_for_next_run": max(0, len(plan.eligible) - max_per_run),
        }
        log.info("orphans.cleanup", **result.details)
    with transaction(con):
        if deleted:
            con.execute(
                "UPDATE assets SET deleted_at = ? WHERE deleted_at IS NULL AND asset_id IN (SELECT unnest(?))",
                [now, deleted],
            )
        result.rows = len(deleted)
        write_state(con, JOB, now=now, status="ok", rows=result.rows, duration_s=time.perf_counter() - started)
    result.duration_s = time.perf_counter() - started
    return result

"""Orphaned Mux assets from the warehouse: the asset listing the planner needs, and the Operations page's read.

`asset_listing` is SQL over `assets` (Mux's assets as the last `assets` sync saw them; deleted and test
assets left out) with each asset's last play day from `mux_views` (it decides the storage class the cost
is priced in). `orphaned_assets` hands it to `core.assets.OrphanedAssetService`, which adds the platform
DB's references and the price book.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from core.assets.orphans import OrphanPlan
    from core.assets.service import OrphanedAssetService

LISTING_SQL = """
WITH last_play AS (
    SELECT asset_id, max(view_day) AS last_played FROM mux_views WHERE asset_id IS NOT NULL GROUP BY asset_id
)
SELECT a.asset_id, a.status, a.duration_s,
       coalesce(a.resolution_tier, a.max_resolution_tier) AS resolution_tier,
       a.video_quality, a.passthrough, a.upload_id, a.playback_id, a.created_at, a.last_seen_at, p.last_played
FROM assets a
LEFT JOIN last_play p ON p.asset_id = a.asset_id
WHERE a.deleted_at IS NULL AND NOT coalesce(a.is_test, false)
ORDER BY a.asset_id
"""


def asset_listing(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every live asset the last `assets` sync listed, one dict per asset (columns of `LISTING_SQL`)."""
    cursor = con.execute(LISTING_SQL)
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def orphaned_assets(
    con: duckdb.DuckDBPyConnection, orphans: OrphanedAssetService, *, now: datetime | None = None
) -> OrphanPlan:
    """The orphaned assets with why, since when, monthly cost and eligibility for automatic deletion.

    `plan.frame()` is the table (costliest first), `plan.total_monthly_micros` the total (show it with
    `core.costs.money.usd`), `plan.eligible` what the cleanup job would delete.
    """
    return orphans.plan(asset_listing(con), now=now)


def listed(con: duckdb.DuckDBPyConnection, asset_id: str) -> bool:
    """Whether any `assets` sync has seen this asset (deleted since or not)."""
    return bool(con.execute("SELECT count(*) FROM assets WHERE asset_id = ?", [asset_id]).fetchall()[0][0])

"""Lectern's view of Mux assets as a whole: orphaned assets, what they cost, deleting them (see orphans.py)."""

from core.assets.orphans import Orphan, OrphanPlan, OrphanReason, plan_orphans
from core.assets.service import AssetInUse, AssetNotFound, DeleteResult, OrphanedAssetService

__all__ = [
    "AssetInUse",
    "AssetNotFound",
    "DeleteResult",
    "Orphan",
    "OrphanPlan",
    "OrphanReason",
    "OrphanedAssetService",
    "plan_orphans",
]

"""OrphanedAssetService: the orphan list from an asset listing, the admin's delete, the grace-period deletion.

The listing comes from the caller (the warehouse `assets` table, `warehouse/orphans.py`); this service
reads the platform DB's references to assets and prices the orphans (`core/assets/orphans.py`).

`delete` never trusts the listing, which may be hours old: it asks Mux for the asset (its playback ids,
upload and passthrough as they are now) and, in the transaction that records the audit row, checks the
platform DB again: no lesson names the asset, plays one of its playback ids or waits for its upload, no
running migration names it or its lesson, and its lesson is not in the middle of replacing its video (the
asset may be the only playable copy). The linked lesson's row is locked meanwhile (PostgreSQL), so a webhook
cannot switch that lesson to the asset between the check and Mux's answer. Deleting an asset Mux no longer
has is "already gone", not an error, when Lectern knew the asset; an id nobody knows is `AssetNotFound`.
Every attempt on a known asset is audited (`asset.delete`: deleted, already_gone, refused, failed).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from core.assets.orphans import (
    ACTIVE_MIGRATION,
    REPLACING,
    ListedAsset,
    MigrationRef,
    OrphanPlan,
    PlatformRefs,
    UploadRef,
    lesson_id_of,
    plan_orphans,
    utc,
)
from core.audit import record_action
from core.costs.pricebook import PriceBook, pricebook_from_settings
from core.db.engine import transaction
from core.db.models import Lesson, MigrationJob, OperatorAction, Upload
from core.db.records import LessonState
from core.errors import Conflict, LecternError, MuxNotFound, NotConfigured, NotFound
from core.logging import get_logger
from core.settings import Settings

if TYPE_CHECKING:
    from core.mux.models import Asset
    from core.mux.service import MuxService

log = get_logger(__name__)

ACTION = "asset.delete"
SCHEDULER = "scheduler"
# Mux asset ids are opaque alphanumeric strings; anything else cannot name one (and never reaches a URL).
ASSET_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
DONE = ("deleted", "already_gone")


class AssetNotFound(NotFound):
    """Neither Mux nor Lectern knows this asset id."""


class AssetInUse(Conflict):
    """A lesson or a running migration still needs the asset; `context["reasons"]` says which."""


@dataclass(frozen=True)
class DeleteResult:
    asset_id: str
    outcome: str  # deleted | already_gone | refused
    message: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OrphanedAssetService:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        mux: MuxService | None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.mux = mux
        self.clock = clock

    @cached_property
    def pricebook(self) -> PriceBook:
        return pricebook_from_settings(self.settings)

    @property
    def grace_days(self) -> int | None:
        return self.settings.delete_replaced_assets_after_days

    # --- the list ----------------------------------------------------------------------------------

    def plan(self, listing: Iterable[Mapping[str, Any]], *, now: datetime | None = None) -> OrphanPlan:
        """The orphans among `listing` (rows of the warehouse `assets` table, `last_played` optional).

        Assets an operator deleted after the listing was taken (audit rows newer than its `last_seen_at`)
        are left out, so the list is right before the next `assets` sync notices them gone.
        """
        rows = list(listing)
        seen = [t for t in (utc(r.get("last_seen_at")) for r in rows) if t is not None]
        refs = self.references(deleted_since=min(seen) if seen else None)
        return plan_orphans(
            [ListedAsset.from_row(r) for r in rows],
            refs,
            self.pricebook,
            now=now or self.clock(),
            grace_days=self.grace_days,
        )

    def references(self, *, deleted_since: datetime | None = None) -> PlatformRefs:
        """Every lesson's video state, migration job and upload, read in one transaction."""
        with self.session_factory() as session, session.begin():
            lessons = [LessonState(*row) for row in session.execute(select(*LessonState.columns())).all()]
            jobs = session.execute(
                select(
                    MigrationJob.lesson_id,
                    MigrationJob.state,
                    MigrationJob.mux_asset_id,
                    MigrationJob.finished_at,
                    MigrationJob.rolled_back_at,
                    MigrationJob.updated_at,
                )
            ).all()
            uploads = session.execute(
                select(Upload.mux_upload_id, Upload.lesson_id, Upload.mux_asset_id, Upload.created_at)
            ).all()
            deleted: set[str] = set()
            if deleted_since is not None:
                targets = session.execute(
                    select(OperatorAction.target).where(
                        OperatorAction.action == ACTION,
                        OperatorAction.outcome.in_(DONE),
                        OperatorAction.created_at >= deleted_since,
                    )
                ).scalars()
                deleted = {t.removeprefix("asset:") for t in targets}
        return PlatformRefs(
            lessons=lessons,
            migrations=[
                MigrationRef(
                    j.lesson_id, j.state, j.mux_asset_id, utc(j.rolled_back_at or j.finished_at or j.updated_at)
                )
                for j in jobs
            ],
            uploads=[UploadRef(u.mux_upload_id, u.lesson_id, u.mux_asset_id, utc(u.created_at)) for u in uploads],
            deleted=frozenset(deleted),
        )

    # --- deleting ----------------------------------------------------------------------------------

    def delete(self, asset_id: str, *, actor: str, known: bool = False, note: str | None = None) -> DeleteResult:
        """Delete an orphaned asset in Mux after re-checking that nothing uses it; audited.

        `known`: the caller saw the id in an asset listing, so Mux's 404 means "already gone" (without it,
        only ids the platform DB has seen count as known). Raises AssetNotFound, AssetInUse (audited as
        refused), NotConfigured without Mux, and Mux's errors (audited as failed).
        """
        asset_id = (asset_id or "").strip()
        if not ASSET_ID.fullmatch(asset_id):
            raise AssetNotFound(f"{asset_id[:80]!r} is not a Mux asset id")
        mux = self._mux()
        target = f"asset:{asset_id}"
        try:
            live: Asset | None = mux.get_asset(asset_id)
        except MuxNotFound:
            live = None
        except LecternError as exc:
            self._audit(actor, target, "failed", {"error": exc.message[:500], "note": note})
            raise
        try:
            with transaction(self.session_factory) as session:
                if live is None:
                    if not (known or self._known(session, asset_id)):
                        raise AssetNotFound(
                            f"Mux has no asset {asset_id} and Lectern never saw it: check the id "
                            "(`lectern assets orphans` lists the orphans)"
                        )
                    self._record(session, actor, target, "already_gone", {"note": note})
                    result = DeleteResult(asset_id, "already_gone", f"asset {asset_id} is already gone from Mux")
                else:
                    reasons = self._in_use(session, live)
                    if reasons:
                        raise AssetInUse(
                            f"asset {asset_id} is still in use: {'; '.join(reasons)}",
                            context={"asset_id": asset_id, "reasons": reasons},
                        )
                    # A 404 here: gone between the read and the delete (or a retried delete had worked).
                    with contextlib.suppress(MuxNotFound):
                        mux.delete_asset(asset_id)
                    detail = {
                        "status": live.status,
                        "duration_s": live.duration_s,
                        "passthrough": live.passthrough,
                        "upload_id": live.upload_id,
                        "note": note,
                    }
                    self._record(session, actor, target, "deleted", detail)
                    result = DeleteResult(asset_id, "deleted", f"deleted Mux asset {asset_id}")
        except AssetInUse as exc:
            self._audit(actor, target, "refused", {"reasons": exc.context["reasons"], "note": note})
            raise
        except AssetNotFound:
            raise  # an id nobody knows names nothing to audit
        except LecternError as exc:
            self._audit(actor, target, "failed", {"error": exc.message[:500], "note": note})
            raise
        log.info("asset.deleted", asset_id=asset_id, actor=actor, outcome=result.outcome)
        return result

    def delete_eligible(self, plan: OrphanPlan, *, actor: str = SCHEDULER, limit: int) -> list[DeleteResult]:
        """Delete the plan's eligible orphans, longest orphaned first, at most `limit` of them.

        An orphan the re-check refuses (a lesson took it back since the listing) is reported and skipped;
        any other error (Mux down) stops the run and propagates.
        """
        results: list[DeleteResult] = []
        for orphan in plan.eligible[:limit]:
            try:
                results.append(self.delete(orphan.asset_id, actor=actor, known=True, note=orphan.why))
            except (AssetInUse, AssetNotFound) as exc:
                results.append(DeleteResult(orphan.asset_id, "refused", exc.message))
        return results

    # --- checks --------------------------------------------------------------------------------------

    def _mux(self) -> MuxService:
        if self.mux is None:
            raise NotConfigured("deleting Mux assets needs Mux credentials: set MUX_TOKEN_ID and MUX_TOKEN_SECRET")
        return self.mux

    def _owner(self, session: Session, live: Asset) -> int | None:
        """The asset's lesson: its upload row (by asset or upload id), else its passthrough."""
        conditions = [Upload.mux_asset_id == live.id]
        if live.upload_id:
            conditions.append(Upload.mux_upload_id == live.upload_id)
        row = session.execute(
            select(Upload.lesson_id).where(or_(*conditions), Upload.lesson_id.is_not(None)).limit(1)
        ).scalar()
        return row if row is not None else lesson_id_of(live.passthrough)

    def _in_use(self, session: Session, live: Asset) -> list[str]:
        owner = self._owner(session, live)
        if owner is not None:
            # Held until commit: a webhook switching this lesson waits for the delete's outcome.
            session.execute(select(Lesson.id).where(Lesson.id == owner).with_for_update()).all()
        playback_ids = [p.id for p in live.playback_ids]
        uses = [Lesson.mux_asset_id == live.id]
        if playback_ids:
            uses.append(Lesson.mux_playback_id.in_(playback_ids))
        if live.upload_id:
            uses.append(Lesson.mux_upload_id == live.upload_id)
        reasons: list[str] = []
        for lesson_id, asset_id, playback_id in session.execute(
            select(Lesson.id, Lesson.mux_asset_id, Lesson.mux_playback_id).where(or_(*uses)).order_by(Lesson.id)
        ).all():
            if asset_id == live.id or playback_id in playback_ids:
                reasons.append(f"lesson {lesson_id} plays it")
            else:
                reasons.append(f"lesson {lesson_id} is waiting for its upload")
        job_uses = [MigrationJob.mux_asset_id == live.id]
        if owner is not None:
            job_uses.append(MigrationJob.lesson_id == owner)
        for lesson_id, state in session.execute(
            select(MigrationJob.lesson_id, MigrationJob.state).where(
                MigrationJob.state.in_(ACTIVE_MIGRATION), or_(*job_uses)
            )
        ).all():
            reasons.append(f"the migration of lesson {lesson_id} is running ({state})")
        if owner is not None:
            status = session.execute(select(Lesson.video_status).where(Lesson.id == owner)).scalar()
            if status in REPLACING and not any(r.startswith(f"lesson {owner} ") for r in reasons):
                reasons.append(
                    f"lesson {owner}'s new video is not ready ({status}): this asset may be its only playable copy"
                )
        return reasons

    @staticmethod
    def _known(session: Session, asset_id: str) -> bool:
        """Lectern has seen the asset: an upload or a migration made it, or an operator deleted it before."""
        checks = (
            select(Upload.id).where(Upload.mux_asset_id == asset_id),
            select(MigrationJob.id).where(MigrationJob.mux_asset_id == asset_id),
            select(OperatorAction.id).where(
                OperatorAction.action == ACTION,
                OperatorAction.target == f"asset:{asset_id}",
                OperatorAction.outcome.in_(DONE),
            ),
        )
        return any(session.execute(q.limit(1)).first() is not None for q in checks)

    def _record(self, session: Session, actor: str, target: str, outcome: str, detail: dict[str, Any]) -> None:
        clean = {k: v for k, v in detail.items() if v is not None}
        record_action(
            session, action=ACTION, actor=actor, target=target, outcome=outcome, detail=clean, now=self.clock()
        )

    def _audit(self, actor: str, target: str, outcome: str, detail: dict[str, Any]) -> None:
        """An audit row of its own (the attempt's transaction rolled back, or never started)."""
        with transaction(self.session_factory) as session:
            self._record(session, actor, target, outcome, detail)
        log.warning("asset.delete_not_done", target=target, actor=actor, outcome=outcome, detail=detail)

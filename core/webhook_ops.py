"""Admin actions on webhooks and lessons: replay stored events, repair a lesson from Mux. Each one is audited.

- `replay(event_id)`: the stored event goes through the webhook processor's own handler again
  (`WebhookProcessor.replay_stored`: the same `plan_transition`, against the lesson as it is now). It applies
  only where it is still news — a `failed` event whose cause is fixed, an `unmatched` one whose lesson now
  exists — and changes nothing otherwise: an `applied` event is final, a `stale` one stays stale. The stored
  row's outcome and error become the replay's. A replay that fails again keeps the event `failed` with the
  new error (the answer says so; nothing half-applied).
- `replay_matching(filter)`: the same for every matching event that is not `applied` (replaying those changes
  nothing), oldest first so that the newest event still wins, at most `max_events` at a time.
- `repair_lesson(lesson_id)`: for an event that never arrived. The lesson's asset (or its upload's asset) is
  fetched from Mux and healed through the reconciliation path (`core.heal`: the rules and the guarded
  UPDATE the assets sync job applies), so a lesson stuck in `processing` because its `ready` event never
  came is brought to `ready`; the upload's row takes Mux's word too.
Every action writes one `operator_actions` row (who, when, before/after) in the action's own transaction.
Who may: admins (`admin_actor` for a platform user id; the CLI acts as `core.audit.cli_actor()`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.audit import record_action
from core.db.engine import transaction
from core.db.models import Lesson, MigrationJob, Role, UploadStatus, User, WebhookEvent
from core.db.records import LessonState
from core.errors import Forbidden, MuxNotFound, NotConfigured, NotFound, Unauthenticated
from core.heal import apply_heal, asset_error, plan_lesson_heal
from core.logging import get_logger
from core.mux.models import Asset, Upload
from core.mux.service import MuxService
from core.uploads import UploadChange, apply_change
from core.webhook_log import EventFilter, FilterInvalid, event_ids_in_order
from core.webhooks import Outcome, ReplayResult, WebhookProcessor

log = get_logger(__name__)

REPLAY_MAX_EVENTS = 500  # per bulk replay; a larger set is replayed by asking again
ACTIVE_MIGRATION = ("queued", "ingesting", "waiting", "verifying")
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class ReplayBatch:
    results: list[ReplayResult]
    truncated: bool  # more events matched than were replayed

    @property
    def by_outcome(self) -> dict[str, int]:
        """Replays by `before -> after` outcome."""
        return dict(Counter(f"{r.before} -> {r.after}" for r in self.results))

    def as_dict(self) -> dict[str, Any]:
        return {
            "replayed": len(self.results),
            "truncated": self.truncated,
            "by_outcome": self.by_outcome,
            "results": [r.as_dict() for r in self.results],
        }


@dataclass(frozen=True)
class RepairResult:
    lesson_id: int
    healed: bool
    before: str  # the lesson's video status
    after: str
    asset_id: str | None
    asset_status: str | None  # as Mux reports it now
    upload_id: str | None
    upload_status: str | None
    reason: str  # what was done, or why nothing was
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def asset_document(asset: Asset) -> dict[str, Any]:
    """Mux's JSON of an asset with the fields our dataclass normalised (the sync's `asset_row` shape)."""
    doc = dict(asset.raw)
    doc.setdefault("id", asset.id)
    doc.setdefault("status", asset.status)
    doc.setdefault("duration", asset.duration_s)
    doc.setdefault("passthrough", asset.passthrough)
    doc.setdefault("upload_id", asset.upload_id)
    if not doc.get("playback_ids"):
        doc["playback_ids"] = [{"id": p.id, "policy": p.policy} for p in asset.playback_ids]
    return doc


def upload_change_from_mux(upload: Upload, asset: dict[str, Any] | None, now: datetime) -> UploadChange | None:
    """What Mux's upload (and its asset) say about our `uploads` row (pure)."""
    status = upload.status
    if status == "asset_created" and upload.asset_id:
        asset_status = asset.get("status") if asset is not None else None
        if asset_status == "ready":
            return UploadChange(upload.id, UploadStatus.ready, now, upload.asset_id)
        if asset_status == "errored" and asset is not None:
            return UploadChange(upload.id, UploadStatus.errored, now, upload.asset_id, asset_error(asset))
        return UploadChange(upload.id, UploadStatus.asset_created, now, upload.asset_id)
    if status == "errored":
        message = upload.error_message or upload.error_type or "the upload failed"
        return UploadChange(upload.id, UploadStatus.errored, now, error=message)
    if status == "cancelled":
        return UploadChange(upload.id, UploadStatus.cancelled, now)
    if status == "timed_out":
        return UploadChange(upload.id, UploadStatus.timed_out, now, error="no file arrived within the upload's timeout")
    return None


class WebhookOperations:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        processor: WebhookProcessor,
        *,
        mux: MuxService | None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.processor = processor
        self.mux = mux
        self.clock = clock or (lambda: datetime.now(UTC))

    # --- who -------------------------------------------------------------------------------------------

    def admin_actor(self, user_id: int) -> str:
        """The audit name (email) of an admin; `Forbidden` for anyone else, `Unauthenticated` for no such user."""
        with self.session_factory() as session:
            row = session.execute(select(User.role, User.email).where(User.id == user_id)).one_or_none()
        if row is None:
            raise Unauthenticated("token names an unknown user")
        if row.role != Role.admin:
            raise Forbidden("the webhook log, replays and lesson repairs are for admins")
        return str(row.email)

    # --- replay ----------------------------------------------------------------------------------------

    def replay(self, event_id: str, *, actor: str) -> ReplayResult:
        """Handle one stored event again (see the module docstring); `NotFound` when no event has this id."""
        with self.processor.exclusive():
            try:
                with transaction(self.session_factory) as session:
                    result = self.processor.replay_stored(session.connection(), event_id)
                    if result is None:
                        raise NotFound(f"no webhook event {event_id!r} is stored")
                    self._audit_replay(session, actor, result)
            except NotFound:
                raise
            except Exception as exc:
                log.exception("webhook.replay_failed", event_id=event_id, error=str(exc)[:300])
                result = self._record_failed_replay(event_id, actor, exc)
        log.info(
            "webhook.replayed",
            event_id=event_id,
            actor=actor,
            before=result.before,
            after=result.after,
            lesson_id=result.lesson_id,
            lesson_changed=result.lesson_changed,
        )
        return result

    def replay_matching(self, where: EventFilter, *, actor: str, max_events: int = REPLAY_MAX_EVENTS) -> ReplayBatch:
        """Replay every matching event that is not `applied`, oldest first, at most `max_events`."""
        if where.is_empty:
            raise FilterInvalid("name at least one filter (type, outcome, lesson, asset, upload or time range)")
        if not 1 <= max_events <= REPLAY_MAX_EVENTS:
            raise FilterInvalid(f"max_events must be between 1 and {REPLAY_MAX_EVENTS}")
        with self.session_factory() as session:
            ids = event_ids_in_order(session, where, limit=max_events + 1)
        results = [self.replay(event_id, actor=actor) for event_id in ids[:max_events]]
        return ReplayBatch(results, truncated=len(ids) > max_events)

    @staticmethod
    def _audit_replay(session: Session, actor: str, result: ReplayResult) -> None:
        record_action(
            session,
            action="webhook.replay",
            actor=actor,
            target=f"webhook:{result.event_id}",
            outcome=result.after,
            detail={k: v for k, v in result.as_dict().items() if k != "event_id"},
        )

    def _record_failed_replay(self, event_id: str, actor: str, exc: Exception) -> ReplayResult:
        """The event failed again: keep it `failed` with the new error, audited (in a fresh transaction)."""
        error = str(exc)[:MAX_ERROR_CHARS]
        with transaction(self.session_factory) as session:
            row = session.execute(
                select(WebhookEvent.type, WebhookEvent.outcome, WebhookEvent.lesson_id).where(
                    WebhookEvent.id == event_id
                )
            ).one_or_none()
            if row is None:
                raise NotFound(f"no webhook event {event_id!r} is stored") from exc
            session.execute(
                update(WebhookEvent).where(WebhookEvent.id == event_id).values(outcome=Outcome.failed, error=error)
            )
            result = ReplayResult(event_id, row.type, row.outcome, Outcome.failed, row.lesson_id, error, False)
            self._audit_replay(session, actor, result)
        return result

    # --- repair ----------------------------------------------------------------------------------------

    def repair_lesson(self, lesson_id: int, *, actor: str) -> RepairResult:
        """Fetch the lesson's asset from Mux and heal the lesson (and its upload's row) from it."""
        if self.mux is None:
            raise NotConfigured("repairing a lesson reads Mux: set MUX_TOKEN_ID and MUX_TOKEN_SECRET")
        lesson, busy = self._lesson(lesson_id)
        upload = self._upload(lesson.mux_upload_id)
        asset_id = lesson.mux_asset_id or (upload.asset_id if upload is not None else None)
        asset = self._asset(asset_id)
        now = self.clock()
        heal = plan_lesson_heal(asset, lesson, busy=busy) if asset is not None else None
        upload_change = upload_change_from_mux(upload, asset, now) if upload is not None else None
        with self.processor.exclusive(), transaction(self.session_factory) as session:
            conn = session.connection()
            healed = bool(apply_heal(conn, heal, now=now)) if heal is not None else False
            if upload_change is not None:
                apply_change(conn, upload_change, now)
            after_status = str(conn.execute(select(Lesson.video_status).where(Lesson.id == lesson_id)).scalar_one())
            reason = _repair_reason(lesson, asset, asset_id, busy=busy, healed=healed)
            result = RepairResult(
                lesson_id=lesson_id,
                healed=healed,
                before=lesson.video_status,
                after=after_status,
                asset_id=asset_id,
                asset_status=str(asset.get("status")) if asset is not None else None,
                upload_id=lesson.mux_upload_id,
                upload_status=upload.status if upload is not None else None,
                reason=reason,
            )
            record_action(
                session,
                action="lesson.repair",
                actor=actor,
                target=f"lesson:{lesson_id}",
                outcome="healed" if healed else "unchanged",
                detail={k: v for k, v in result.as_dict().items() if k not in ("lesson_id", "detail")},
            )
        log.info(
            "lesson.repaired", lesson_id=lesson_id, actor=actor, healed=healed, before=result.before, after=after_status
        )
        return result

    def _lesson(self, lesson_id: int) -> tuple[LessonState, bool]:
        with self.session_factory() as session:
            row = session.execute(select(*LessonState.columns()).where(Lesson.id == lesson_id)).one_or_none()
            if row is None:
                raise NotFound(f"lesson {lesson_id} does not exist")
            busy = session.execute(
                select(exists().where(MigrationJob.lesson_id == lesson_id, MigrationJob.state.in_(ACTIVE_MIGRATION)))
            ).scalar_one()
        return LessonState(*row), bool(busy)

    def _upload(self, upload_id: str | None) -> Upload | None:
        if upload_id is None or self.mux is None:
            return None
        try:
            return self.mux.get_direct_upload(upload_id)
        except MuxNotFound:
            return None

    def _asset(self, asset_id: str | None) -> dict[str, Any] | None:
        if asset_id is None or self.mux is None:
            return None
        try:
            return asset_document(self.mux.get_asset(asset_id))
        except MuxNotFound:
            return None


def _repair_reason(
    lesson: LessonState, asset: dict[str, Any] | None, asset_id: str | None, *, busy: bool, healed: bool
) -> str:
    if healed and asset is not None:
        return f"set {asset.get('status')} from Mux's asset {asset_id}"
    if asset_id is None:
        return "the lesson has no Mux asset yet (no upload, or its file has not arrived): nothing to apply"
    if asset is None:
        return f"Mux has no asset {asset_id}: upload the video again"
    if busy:
        return "a migration job is working on this lesson: it switches the lesson itself once verified"
    if lesson.video_provider == "s3":
        return "a legacy S3 lesson: the migration switches it after verifying a Mux copy"
    status = asset.get("status")
    if status not in ("ready", "errored"):
        return f"asset {asset_id} is still {status} on Mux: nothing to apply yet"
    return f"the lesson already matches Mux's asset {asset_id} ({status})"

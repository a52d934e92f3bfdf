"""Rules measured on the platform DB: webhooks gone quiet, failing uploads, failing migration jobs.

Each function reads with the caller's session and returns the conditions that hold now (an empty list
means the rule is measured and all clear). The warehouse rules are in warehouse/alerts.py, the budget
rule in core/costs/alerts.py, the reconciliation rules in sync/reconcile.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Exists, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from core.alerts.planner import Observation
from core.alerts.rules import MIGRATION_FAILURES, UPLOAD_FAILURE_RATE, WEBHOOK_SILENCE, Rule
from core.db.models import Lesson, MigrationJob, MigrationState, Upload, UploadStatus, VideoStatus, WebhookEvent
from core.uploads import DECIDED, FAILED


def webhook_silence(session: Session, rule: Rule, *, now: datetime, upload_url_ttl_s: int) -> list[Observation]:
    """Uploads wait for Mux's webhooks, and none has arrived for longer than `threshold` minutes.

    Waiting counts from the later of the last webhook received and the earliest pending upload's last
    change, so webhooks that keep arriving for other lessons mean the pipe works. Pending: uploads rows
    `waiting` (while the upload URL can still be used) or `asset_created`, and lessons `waiting_upload` or
    `processing`, changed within the rule's window (older ones are stuck for other reasons). A `waiting`
    upload whose `video.upload.created` (or any event about it) has arrived is with the teacher, not Mux:
    Mux says nothing more until the file is in, however long a large file takes, so it is not pending.
    """
    oldest = now - timedelta(seconds=rule.window_s)
    url_alive = now - timedelta(seconds=upload_url_ttl_s)
    uploads = select(func.min(Upload.updated_at), func.count()).where(
        Upload.updated_at >= oldest,
        or_(
            and_(
                Upload.status == UploadStatus.waiting.value,
                Upload.created_at >= url_alive,
                ~_heard_of(Upload.mux_upload_id),
            ),
            Upload.status == UploadStatus.asset_created.value,
        ),
    )
    lessons = select(func.min(Lesson.video_status_at), func.count()).where(
        Lesson.video_status_at >= oldest,
        or_(
            and_(
                Lesson.video_status == VideoStatus.waiting_upload.value,
                Lesson.video_status_at >= url_alive,
                or_(Lesson.mux_upload_id.is_(None), ~_heard_of(Lesson.mux_upload_id)),
            ),
            Lesson.video_status == VideoStatus.processing.value,
        ),
    )
    first_upload, n_uploads = session.execute(uploads).one()
    first_lesson, n_lessons = session.execute(lessons).one()
    starts = [t for t in (first_upload, first_lesson) if t is not None]
    if not starts:
        return []
    last_webhook = session.execute(select(func.max(WebhookEvent.received_at))).scalar_one()
    quiet_since = max([min(starts), *([last_webhook] if last_webhook is not None else [])])
    minutes = (now - quiet_since).total_seconds() / 60
    if minutes <= rule.threshold:
        return []
    pending = max(int(n_uploads), int(n_lessons))
    last = f"the last arrived {last_webhook:%Y-%m-%d %H:%M} UTC" if last_webhook else "none has ever arrived"
    return [
        Observation(
            WEBHOOK_SILENCE,
            WEBHOOK_SILENCE,
            f"No Mux webhook for {minutes:.0f} min while {pending} upload(s) wait for one ({last}): check the "
            "webhook URL and MUX_WEBHOOK_SECRET in the Mux dashboard, and that the API is reachable.",
            value=round(minutes, 1),
            threshold=rule.threshold,
            subject="webhooks",
            context={
                "pending_uploads": int(n_uploads),
                "pending_lessons": int(n_lessons),
                "last_webhook_at": last_webhook.isoformat() if last_webhook else None,
                "quiet_since": quiet_since.isoformat(),
            },
        )
    ]


def _heard_of(upload_id: Any) -> Exists:
    """Some webhook about this direct upload has arrived (its `video.upload.created`, at least)."""
    return exists().where(WebhookEvent.object_type == "upload", WebhookEvent.object_id == upload_id)


def upload_failure_rate(session: Session, rule: Rule, *, now: datetime) -> list[Observation]:
    """Direct uploads that finished in the window: the share that errored or timed out (`core.uploads`' outcome)."""
    since = now - timedelta(seconds=rule.window_s)
    failed = func.count().filter(Upload.status.in_(FAILED))
    total, failures = session.execute(
        select(func.count(), failed).where(Upload.finished_at >= since, Upload.status.in_(DECIDED))
    ).one()
    total, failures = int(total), int(failures or 0)
    if total == 0 or total < rule.min_count:
        return []
    pct = 100.0 * failures / total
    if pct <= rule.threshold:
        return []
    hours = rule.window_s / 3600
    return [
        Observation(
            UPLOAD_FAILURE_RATE,
            UPLOAD_FAILURE_RATE,
            f"{pct:.1f}% of direct uploads failed in the last {hours:g} h ({failures} of {total}; "
            f"threshold {rule.threshold:g}%): see Mux's error for each on the Operations page.",
            value=round(pct, 2),
            threshold=rule.threshold,
            subject="uploads",
            context={"failed": failures, "finished": total, "window_s": rule.window_s},
        )
    ]


def migration_failures(session: Session, rule: Rule, *, now: datetime) -> list[Observation]:
    """S3-to-Mux migration jobs that ended `failed` within the window."""
    since = now - timedelta(seconds=rule.window_s)
    failed = (MigrationJob.state == MigrationState.failed.value, MigrationJob.updated_at >= since)
    count = int(session.execute(select(func.count()).where(*failed)).scalar_one())
    if count <= rule.threshold:
        return []
    latest = session.execute(
        select(MigrationJob.lesson_id, MigrationJob.error).where(*failed).order_by(MigrationJob.updated_at.desc())
    ).first()
    hint = f" Latest: lesson {latest[0]}: {latest[1] or 'no error recorded'}." if latest else ""
    return [
        Observation(
            MIGRATION_FAILURES,
            MIGRATION_FAILURES,
            f"{count} migration job(s) failed in the last {rule.window_s / 3600:g} h.{hint} "
            "Retry them with `lectern migrate retry` once the cause is fixed.",
            value=float(count),
            threshold=rule.threshold,
            subject="migration",
            context={"failed": count, "window_s": rule.window_s},
        )
    ]

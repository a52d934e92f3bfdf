"""The plan: every page of the bucket, matched to lessons by key; statuses, filters, probing and the cost."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.migration.plan import build_plan
from tests.factories import make_course, make_lesson, make_user
from tests.migration.helpers import MigrationEnv


def test_the_plan_lists_every_page_and_flags_what_cannot_move(
    env: MigrationEnv, clips: list[Path], session_factory: sessionmaker[Session]
) -> None:
    ready = [env.add_lesson(c, duration_s=9.0) for c in clips[:3]]
    missing = env.add_lesson(None)  # names an object that is not in the bucket
    other_teacher = None
    with transaction(session_factory) as s:
        teacher = make_user(s, role="teacher", name="Ada")
        course = make_course(s, teacher=teacher, title="Other")
        other_teacher = make_lesson(s, course=course, video_url=f"s3://{env.s3.bucket}/other/x.mp4").id
        make_lesson(s, course=course, video_url=None)  # no video: not a legacy video lesson
        on_mux = make_lesson(s, course=course, video_url="old.mp4", mux_playback_id="pb", video_provider="mux")
    env.s3.client().upload_file(str(clips[3]), env.s3.bucket, "other/x.mp4")
    for n in range(5):  # videos no lesson uses, and a non-video file
        env.s3.client().put_object(Bucket=env.s3.bucket, Key=f"orphans/{n}.mp4", Body=b"x")
    env.s3.client().put_object(Bucket=env.s3.bucket, Key="lessons/1/files/notes.pdf", Body=b"%PDF")

    probed: list[str] = []

    def prober(url: str) -> float:
        probed.append(url)
        return 2.0

    plan = build_plan(env.settings, session_factory, env.storage, page_size=2, probe=True, prober=prober)
    status = {i.lesson_id: i.status for i in plan.items}
    assert status == {**dict.fromkeys(ready, "ready"), missing: "missing_object", other_teacher: "ready"}
    assert on_mux not in status
    assert plan.listed_objects == 3 + 1 + 5 + 1  # every page of two objects
    assert plan.orphan_videos == 5
    sizes = {i.lesson_id: i.size_bytes for i in plan.items}
    assert sizes[ready[0]] == clips[0].stat().st_size and sizes[missing] is None
    assert len(probed) == 4 and all("X-Amz-Signature" in u for u in probed)  # only movable ones are probed
    assert {i.probed_duration_s for i in plan.selectable} == {2.0}
    assert any("do not exist" in n for n in plan.notes)
    # The cost preview prices the movable lessons (core.costs.migration_preview).
    assert plan.cost is not None and len(plan.cost.lessons) == 4
    frame = plan.frame()
    assert {"encoding_micros", "storage_month_micros", "teacher_name", "course_title"} <= set(frame.columns)

    by_teacher = build_plan(env.settings, session_factory, env.storage, teacher_id=teacher.id, with_cost=False)
    assert [i.lesson_id for i in by_teacher.items] == [other_teacher]
    by_course = build_plan(env.settings, session_factory, env.storage, course_id=env.course.id, with_cost=False)  # type: ignore[union-attr]
    assert sorted(i.lesson_id for i in by_course.items) == sorted([*ready, missing])

    # Start a selection: only those lessons get jobs, each with its size and probed duration.
    result = env.service.start(plan, lesson_ids=[ready[0], missing])
    assert (result.created, result.skipped) == (1, 0)
    job = env.job(ready[0])
    assert job.source_size_bytes == sizes[ready[0]] and job.source_duration_s == 2.0
    again = build_plan(env.settings, session_factory, env.storage, with_cost=False)
    assert {i.lesson_id: i.status for i in again.items}[ready[0]] == "in_progress"

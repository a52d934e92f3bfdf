"""Progress reports/s: 20,000 students' players reporting every 10 s, through `lectern api --workers 2`.

    python -m bench.progress_bench --quick    # SQLite, one worker, 2,000 students, 2 s runs: a smoke run
    python -m bench.progress_bench            # PostgreSQL (BENCH_DATABASE_URL / TEST_DATABASE_URL, own database)

Each student watches one of 20 lessons (half on Mux, half on S3) in one play session; report k of a session
is seq k at position 10k + 10 s with the session's watched range [0, 10k + 10] (what a player sends every
10 s). Requests are what the embedded player sends: `POST /api/lessons/{id}/progress?ticket=...` with a
`text/plain` JSON body (sendBeacon's shape), each ticket signed for its student and lesson beforehand. They
go out round by round (every student's report k, shuffled, then every student's k + 1), so at 2,000
reports/s each student reports every 10 s. The first round creates the rows (session, watch, progress) and
is not measured; the measured run replays later rounds only, each report distinct (wrk reports any sent
twice). Afterwards every session's last committed seq is read back: reports answered 200 must all be there.

Target: >= 2,000 reports/s with p99 < 50 ms (issue 20). Results, with the server's and load generator's CPU,
PostgreSQL's commits per report (the group commit's batching) and the load average, go to
bench/results/progress.json (progress-quick.json for --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.api_bench import JWT_SECRET, child_pids, database, proc_cpu_seconds, serve
from bench.common import write_result
from bench.wrk import Request, run_wrk
from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import upgrade
from core.db.models import Course, Enrollment, Lesson, LessonProgress, LessonView, User, table_of
from core.tickets import TicketPurpose, TicketSigner

TARGETS = {"reports_per_s": 2000, "p99_ms": 50}
REPORT_ROUTE = "/api/lessons/{lesson_id}/progress"
LESSONS = 20
INTERVAL_S = 10.0


def seed(url: str, students: int) -> tuple[list[int], list[int]]:
    """A teacher, one course of LESSONS lessons (600 s each; half Mux, half S3), `students` enrolled."""
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        teacher = User(email="t@bench", name="T", role="teacher", password_hash="!")
        s.add(teacher)
        s.flush()
        course = Course(teacher_id=teacher.id, title="Bench")
        s.add(course)
        s.flush()
        lessons = []
        for i in range(LESSONS):
            on_mux = i % 2 == 0
            lessons.append(
                Lesson(
                    course_id=course.id,
                    position=i,
                    title=f"L{i}",
                    video_status="ready",
                    video_provider="mux" if on_mux else "s3",
                    mux_playback_id=f"pb-{i}" if on_mux else None,
                    video_url=None if on_mux else f"lessons/{i}.mp4",
                    video_duration_s=600.0 if on_mux else None,
                    duration_s=600.0,
                )
            )
        s.add_all(lessons)
        s.flush()
        lesson_ids = [lesson.id for lesson in lessons]
    users = table_of(User)
    with engine.begin() as conn:
        conn.execute(
            users.insert(),
            [
                {"email": f"s{i}@bench", "name": f"S{i}", "role": "student", "password_hash": "!"}
                for i in range(students)
            ],
        )
        student_ids = list(
            conn.execute(select(users.c.id).where(users.c.role == "student").order_by(users.c.id)).scalars()
        )
        conn.execute(table_of(Enrollment).insert(), [{"user_id": sid, "course_id": course.id} for sid in student_ids])
    engine.dispose()
    return lesson_ids, student_ids


class Students:
    """Each student's lesson, session and ticket, and the report requests of any round."""

    def __init__(self, lesson_ids: list[int], student_ids: list[int], seed_: int = 11) -> None:
        rng = random.Random(seed_)
        signer = TicketSigner(JWT_SECRET, ttl_s=7200)
        self.rng = rng
        self.plays: list[tuple[int, int, str, str]] = []  # (student, lesson, session, ticket)
        for n, student in enumerate(student_ids):
            lesson = lesson_ids[n % len(lesson_ids)]
            ticket, _ = signer.sign(student, [lesson], [TicketPurpose.events, TicketPurpose.progress])
            self.plays.append((student, lesson, str(uuid.UUID(int=rng.getrandbits(128))), ticket))

    def round(self, seq: int) -> list[Request]:
        out = []
        for _, lesson, session, ticket in self.plays:
            position = min(600.0, INTERVAL_S * seq + INTERVAL_S)
            body = {
                "session_id": session,
                "seq": seq,
                "position_s": position,
                "duration_s": 600.0,
                "ranges": [[0.0, position]],
                "event": "heartbeat",
            }
            out.append(
                Request(
                    "POST",
                    f"/api/lessons/{lesson}/progress?ticket={ticket}",
                    {"Content-Type": "text/plain;charset=UTF-8"},
                    json.dumps(body, separators=(",", ":")).encode(),
                )
            )
        self.rng.shuffle(out)
        return out


def server_env(url: str, metrics_dir: str) -> dict[str, str]:
    return {
        "LECTERN_METRICS_DIR": metrics_dir,
        "DATABASE_URL": url,
        "LECTERN_PLATFORM_JWT_SECRET": JWT_SECRET,
        "MUX_WEBHOOK_SECRET": "whsec-bench-progress-0123456789",
        "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "",
        "LECTERN_LOG_LEVEL": "WARNING",
    }


def reports_by_worker(metrics_dir: str) -> dict[int, int]:
    """Progress reports each API worker answered (its own counter file): how wrk's connections spread."""
    from prometheus_client.multiprocess import MultiProcessCollector

    out: dict[int, int] = {}
    for path in Path(metrics_dir).glob("counter_*.db"):
        out[int(path.stem.split("_")[-1])] = int(
            sum(
                s.value
                for family in MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
                for s in family.samples
                if s.name == "lectern_http_requests_total" and s.labels.get("route") == REPORT_ROUTE
            )
        )
    return {pid: n for pid, n in out.items() if n}


def commits(url: str) -> int:
    """Transactions committed in the database so far (PostgreSQL's statistics; 0 on SQLite)."""
    if not url.startswith("postgresql"):
        return 0
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        value = conn.execute(
            text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
    engine.dispose()
    return int(value)


def committed_reports(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        sessions, seqs = s.execute(select(func.count(), func.sum(LessonView.last_seq + 1))).one()
        by_provider = dict(s.execute(select(LessonView.provider, func.count()).group_by(LessonView.provider)).all())
        progress_rows = s.execute(select(func.count()).select_from(LessonProgress)).scalar_one()
    engine.dispose()
    return {
        "sessions": sessions,
        "reports_up_to_last_seq": int(seqs or 0),
        "views_by_provider": by_provider,
        "lesson_progress_rows": progress_rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="SQLite, one worker, 2,000 students, short runs")
    parser.add_argument("--workers", type=int, default=None, help="uvicorn worker processes (default 2; quick 1)")
    parser.add_argument("--students", type=int, default=None, help="students reporting (default 20000; quick 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--seconds", type=float, default=None, help="length of the measured run (default 10; quick 2)")
    parser.add_argument(
        "--setting", action="append", default=[], metavar="NAME=VALUE",
        help="a setting for the server, e.g. LECTERN_PROGRESS_WRITERS=1 (repeatable; recorded in the result)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.setting)
    quick = args.quick
    workers = args.workers or (1 if quick else 2)
    seconds = args.seconds or (2.0 if quick else 10.0)
    count = args.students or (2000 if quick else 20000)
    load_before = [round(x, 2) for x in os.getloadavg()]
    with database(quick, "lectern_progress_bench") as url, tempfile.TemporaryDirectory() as metrics_dir:
        upgrade(url)
        lesson_ids, student_ids = seed(url, count)
        students = Students(lesson_ids, student_ids)
        # Rounds for the measured run: enough for 3x the target rate, so no report is sent twice.
        rounds = max(2, int(3 * TARGETS["reports_per_s"] * seconds / count) + 2)
        measured = [r for seq in range(1, rounds + 1) for r in students.round(seq)]
        with serve(server_env(url, metrics_dir) | overrides, workers) as (api_url, pids):
            pids = child_pids(pids[0])
            # The first round creates every student's rows; sent again past its end it changes nothing.
            first = run_wrk(api_url, students.round(0), seconds=max(2.0, count / 1500), connections=args.concurrency)
            if first["errors"]:
                raise SystemExit(f"the first round did not go through cleanly: {first}")
            cpu0, commits0, spread0 = proc_cpu_seconds(pids), commits(url), reports_by_worker(metrics_dir)
            run = run_wrk(api_url, measured, seconds=seconds, connections=args.concurrency)
            cpu1, commits1, spread1 = proc_cpu_seconds(pids), commits(url), reports_by_worker(metrics_dir)
        committed = committed_reports(url)
    if run["sent_past_the_end"]:
        raise SystemExit("ran out of distinct reports: raise the rounds")
    # Distinct reports answered 200: the first round once per student (its repeats change nothing), then the run.
    acknowledged = min(first["requests"] - first["errors"], count) + run["requests"] - run["errors"]
    run["server_cpu_s"] = round(cpu1 - cpu0, 2)
    # wrk's connections are accepted by whichever worker wins each accept: a run can land unevenly.
    run["reports_by_worker"] = sorted((n - spread0.get(pid, 0) for pid, n in spread1.items()), reverse=True)
    run["server_cpu_ms_per_report"] = round(1000 * (cpu1 - cpu0) / max(1, run["requests"]), 3)
    if commits1:
        run["db_commits"] = commits1 - commits0
        run["reports_per_commit"] = round(run["requests"] / max(1, commits1 - commits0), 1)
    figures = {
        "mode": "quick" if quick else "full",
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "database": "sqlite" if quick else "postgresql",
        "server": {"entry": "lectern api", "workers": workers, "settings": overrides},
        "students": count,
        "lessons": LESSONS,
        "request": "POST /api/lessons/{id}/progress?ticket=... text/plain (sendBeacon's shape)",
        "first_round": first,
        "reports": run,
        "committed": committed | {"acknowledged": acknowledged},
        "targets": TARGETS,
        "met": {
            "reports_per_s": run["per_second"] >= TARGETS["reports_per_s"],
            "p99_ms": run["p99_ms"] < TARGETS["p99_ms"],
            "every_acknowledged_report_committed": committed["reports_up_to_last_seq"] >= acknowledged,
        },
    }
    path = write_result("progress" + ("-quick" if quick else ""), figures)
    print(
        f"progress: {run['per_second']:.0f} reports/s p50 {run['p50_ms']} ms p99 {run['p99_ms']} ms "
        f"({run['errors']} errors, {run.get('reports_per_commit', '-')} reports per commit, "
        f"{run['server_cpu_ms_per_report']} ms server CPU each); {committed['reports_up_to_last_seq']} committed "
        f">= {acknowledged} acknowledged; load {figures['load_average_before']} -> {path}"
    )


if __name__ == "__main__":
    main()

"""Deterministic sample platform: teachers, courses, lessons, students, enrollments and lesson progress.

Pure generation (rows as dicts, ids assigned here so rows can reference each other without round trips);
`lectern.seed` writes them. Shapes follow a real course platform: most videos still on S3, the newest
lessons waiting for a Mux upload, some private lessons, and progress that drops off lesson by lesson.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.passwords import UNUSABLE, hash_password

COURSE_CATALOGUE: list[tuple[str, list[str]]] = [
    (
        "Python from Scratch",
        [
            "Installing Python",
            "Variables and types",
            "Control flow",
            "Functions",
            "Lists and dicts",
            "Files",
            "Modules",
            "Errors and exceptions",
            "Classes",
            "Testing",
            "Packaging",
            "A small project",
        ],
    ),
    (
        "Data Analysis with pandas",
        [
            "DataFrames",
            "Reading CSV",
            "Selecting rows",
            "Group by",
            "Joins",
            "Time series",
            "Plotting",
            "Cleaning data",
            "Pivot tables",
            "Case study",
        ],
    ),
    (
        "Watercolor Foundations",
        [
            "Materials",
            "Washes",
            "Wet on wet",
            "Colour mixing",
            "Layering",
            "Landscapes",
            "Skies",
            "Trees",
            "Final painting",
        ],
    ),
    (
        "Spanish for Travellers",
        [
            "Greetings",
            "Numbers",
            "At the airport",
            "Ordering food",
            "Directions",
            "Shopping",
            "At the hotel",
            "Emergencies",
            "Small talk",
            "Review",
        ],
    ),
    (
        "Linear Algebra Essentials",
        [
            "Vectors",
            "Matrices",
            "Linear maps",
            "Determinants",
            "Eigenvalues",
            "Orthogonality",
            "Least squares",
            "SVD",
            "Applications",
        ],
    ),
    (
        "Photography Fundamentals",
        [
            "Exposure",
            "Aperture",
            "Shutter speed",
            "ISO",
            "Composition",
            "Light",
            "Portraits",
            "Editing",
            "Your portfolio",
        ],
    ),
    (
        "Guitar for Beginners",
        [
            "Holding the guitar",
            "Tuning",
            "First chords",
            "Strumming",
            "Changing chords",
            "Rhythm",
            "Barre chords",
            "First song",
            "Fingerpicking",
            "Practice plan",
        ],
    ),
    (
        "Machine Learning 101",
        [
            "What is ML",
            "Regression",
            "Classification",
            "Overfitting",
            "Trees",
            "Ensembles",
            "Neural networks",
            "Evaluation",
            "Deployment",
            "Ethics",
            "Capstone",
        ],
    ),
    (
        "Public Speaking",
        ["Nerves", "Structure", "Openings", "Storytelling", "Slides", "Voice", "Q&A", "Final talk"],
    ),
    (
        "Sourdough Baking",
        [
            "Starter",
            "Flour and water",
            "Mixing",
            "Folding",
            "Shaping",
            "Proofing",
            "Scoring",
            "Baking",
            "Troubleshooting",
        ],
    ),
    (
        "SQL for Analysts",
        [
            "SELECT",
            "WHERE",
            "Joins",
            "Aggregates",
            "Window functions",
            "CTEs",
            "Indexes",
            "Query plans",
            "Reporting",
        ],
    ),
    (
        "Music Theory Basics",
        ["Notes", "Scales", "Intervals", "Chords", "Keys", "Rhythm", "Harmony", "Composition"],
    ),
]
TEACHER_NAMES = ["Ada Moreno", "Ben Okafor", "Chloé Martin", "Dev Patel", "Eva Lindqvist", "Femi Adeyemi"]
FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Riley",
    "Casey",
    "Morgan",
    "Jamie",
    "Avery",
    "Quinn",
    "Noa",
    "Luca",
    "Mia",
    "Omar",
    "Priya",
    "Yuki",
    "Zoe",
    "Ivan",
    "Lena",
    "Hugo",
    "Sara",
    "Tomás",
    "Aiko",
    "Kofi",
]
LAST = [
    "Smith",
    "Garcia",
    "Chen",
    "Kumar",
    "Novak",
    "Rossi",
    "Silva",
    "Kim",
    "Nguyen",
    "Müller",
    "Dubois",
    "Haddad",
    "Ivanova",
    "Kowalski",
    "Mensah",
    "Olsen",
    "Sato",
    "Torres",
    "Walsh",
    "Yilmaz",
]


@dataclass(frozen=True)
class SeedConfig:
    seed: int = 7
    teachers: int = 4
    courses: int = 10
    students: int = 600
    days: int = 90
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    password: str


@dataclass
class SamplePlatform:
    users: list[dict[str, Any]]
    courses: list[dict[str, Any]]
    lessons: list[dict[str, Any]]
    enrollments: list[dict[str, Any]]
    demo_accounts: list[DemoAccount]
    config: SeedConfig


def _demo_password(rng: random.Random) -> str:
    words = [
        "maple",
        "harbor",
        "copper",
        "lantern",
        "meadow",
        "quartz",
        "ember",
        "willow",
        "cobalt",
        "saffron",
    ]
    return f"{rng.choice(words)}-{rng.choice(words)}-{rng.randrange(1000, 10000)}"


def _chapters(rng: random.Random, duration_s: float) -> list[dict[str, Any]] | None:
    if rng.random() < 0.5:
        return None
    n = rng.randint(3, 5)
    cuts = sorted(rng.uniform(0.1, 0.9) * duration_s for _ in range(n - 1))
    titles = ["Introduction", "Key idea", "Worked example", "Common mistakes", "Practice", "Summary"]
    return [{"start_s": round(t, 1), "title": titles[i]} for i, t in enumerate([0.0, *cuts])]


def build_platform(cfg: SeedConfig) -> SamplePlatform:
    """Users, courses, lessons and enrollments (progress is streamed separately: it can be millions)."""
    rng = random.Random(cfg.seed)
    created = cfg.now - timedelta(days=max(cfg.days, 30) + 60)
    users: list[dict[str, Any]] = []
    demo: list[DemoAccount] = []

    def add_user(email: str, name: str, role: str, password: str | None) -> int:
        uid = len(users) + 1
        users.append(
            {
                "id": uid,
                "email": email,
                "name": name,
                "role": role,
                "created_at": created,
                "password_hash": hash_password(password) if password else UNUSABLE,
            }
        )
        if password:
            demo.append(DemoAccount(email, role, password))
        return uid

    add_user("admin@lectern.test", "Avery Admin", "admin", _demo_password(rng))
    add_user("analyst@lectern.test", "Noor Analyst", "analyst", _demo_password(rng))
    teacher_ids = []
    for i in range(cfg.teachers):
        name = TEACHER_NAMES[i % len(TEACHER_NAMES)] + ("" if i < len(TEACHER_NAMES) else f" {i}")
        email = f"teacher{i + 1}@lectern.test"
        teacher_ids.append(add_user(email, name, "teacher", _demo_password(rng)))

    courses: list[dict[str, Any]] = []
    lessons: list[dict[str, Any]] = []
    for c in range(cfg.courses):
        title, topics = COURSE_CATALOGUE[c % len(COURSE_CATALOGUE)]
        if c >= len(COURSE_CATALOGUE):
            title = f"{title} ({c // len(COURSE_CATALOGUE) + 1})"
        course_id = c + 1
        courses.append(
            {
                "id": course_id,
                "teacher_id": teacher_ids[c % len(teacher_ids)],
                "title": title,
                "description": f"A practical course: {', '.join(topics[:3]).lower()} and more.",
                "created_at": created + timedelta(days=rng.randint(0, 20)),
            }
        )
        # The newest ~30% of each course was recorded after the move to Mux started: no video yet.
        on_s3 = max(1, round(len(topics) * rng.uniform(0.6, 0.8)))
        for pos, topic in enumerate(topics, start=1):
            lesson_id = len(lessons) + 1
            duration = float(rng.randint(4 * 60, 22 * 60))
            has_s3 = pos <= on_s3
            lessons.append(
                {
                    "id": lesson_id,
                    "course_id": course_id,
                    "position": pos,
                    "title": f"{pos}. {topic}",
                    "video_url": f"courses/{course_id}/lesson-{lesson_id}.mp4" if has_s3 else None,
                    "duration_s": duration if has_s3 else None,
                    "chapters": _chapters(rng, duration) if has_s3 else None,
                    "created_at": created + timedelta(days=pos),
                    "video_provider": "s3" if has_s3 else None,
                    "video_status": "ready" if has_s3 else "none",
                    "video_duration_s": duration if has_s3 else None,
                    "playback_policy": "signed" if rng.random() < 0.3 else "public",
                }
            )

    first_student = len(users) + 1
    add_user("student@lectern.test", "Sam Student", "student", _demo_password(rng))
    for i in range(1, cfg.students):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        add_user(f"student{i:06d}@example.edu", name, "student", None)
    for u in users[first_student - 1 :]:
        u["created_at"] = cfg.now - timedelta(days=rng.randint(cfg.days, cfg.days + 120))

    # Course popularity is skewed, as on every real platform.
    weights = [1.0 / (rank + 1) ** 0.6 for rank in range(len(courses))]
    rng.shuffle(weights)
    enrollments: list[dict[str, Any]] = []
    for uid in range(first_student, len(users) + 1):
        k = 1 + min(3, int(rng.expovariate(1.1)))
        chosen = {rng.choices(range(len(courses)), weights)[0] + 1 for _ in range(k)}
        if uid == first_student:
            chosen |= {1, 2}
        for course_id in sorted(chosen):
            enrollments.append(
                {
                    "id": len(enrollments) + 1,
                    "user_id": uid,
                    "course_id": course_id,
                    "enrolled_at": cfg.now - timedelta(days=rng.uniform(1, cfg.days), seconds=rng.randint(0, 86400)),
                }
            )
    return SamplePlatform(users, courses, lessons, enrollments, demo, cfg)


def iter_progress(platform: SamplePlatform) -> Iterator[dict[str, Any]]:
    """Lesson progress per enrollment: each lesson reached by fewer students than the one before."""
    cfg = platform.config
    rng = random.Random(cfg.seed * 7919 + 1)
    by_course: dict[int, list[dict[str, Any]]] = {}
    for lesson in platform.lessons:
        if lesson["video_url"]:
            by_course.setdefault(lesson["course_id"], []).append(lesson)
    # Each course keeps its students differently (content quality, pacing).
    stickiness = {c["id"]: rng.uniform(0.72, 0.92) for c in platform.courses}
    next_id = 1
    for enr in platform.enrollments:
        start = enr["enrolled_at"]
        age_days = max((cfg.now - start).total_seconds() / 86400, 0.1)
        t = start
        engaged = rng.random() < 0.88
        for idx, lesson in enumerate(by_course.get(enr["course_id"], [])):
            if not engaged or (idx > 0 and rng.random() > stickiness[enr["course_id"]]):
                break
            t = t + timedelta(hours=rng.expovariate(1 / (age_days * 24 / 8)))
            if t > cfg.now:
                break
            duration = lesson["duration_s"]
            r = rng.random()
            fraction = 1.0 if r < 0.62 else rng.betavariate(2, 3) if r < 0.95 else rng.uniform(0.0, 0.08)
            furthest = round(duration * fraction, 1)
            rewatch = 1.0 + (rng.expovariate(4) if rng.random() < 0.35 else 0.0)
            watched = round(min(furthest * rewatch, duration * 3), 1)
            yield {
                "id": next_id,
                "user_id": enr["user_id"],
                "lesson_id": lesson["id"],
                "seconds_watched": watched,
                "furthest_position_s": furthest,
                "completed_at": t if fraction >= 0.9 else None,
                "updated_at": t,
            }
            next_id += 1
            if fraction < 0.5 and rng.random() < 0.6:
                break

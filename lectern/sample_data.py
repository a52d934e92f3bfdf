"""Deterministic sample platform: teachers, courses, lessons, students, enrollments and lesson progress.

Pure generation (rows as dicts, ids assigned here so rows can reference each other without round trips);
`lectern.seed` writes them and `lectern.sample_history` brings the Mux history into the emulator. Shapes follow
a real course platform partway through its move to Mux: courses migrated in waves, others still on S3, new
lessons uploaded to Mux, the newest ones waiting for their video, some private lessons, and progress that
drops off lesson by lesson. Every lesson with a video is one of the sample videos' lengths
(`lectern.sample_media`), so each lesson's listed duration is its file's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.passwords import UNUSABLE, hash_password
from lectern.sample_media import LESSON_CLIP_SECONDS

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
    (
        "JavaScript for the Web",
        [
            "The browser console",
            "Values and variables",
            "Functions",
            "The DOM",
            "Events",
            "Fetching data",
            "Promises",
            "Async and await",
            "Modules",
            "Debugging",
            "A to-do app",
        ],
    ),
    (
        "Drawing People",
        ["Gesture", "Proportions", "Heads", "Hands", "Feet", "Clothing", "Light and shadow", "Figures in a scene"],
    ),
    (
        "Personal Finance",
        [
            "Budgeting",
            "Emergency funds",
            "Debt",
            "Credit scores",
            "Saving for goals",
            "Index funds",
            "Retirement accounts",
            "Taxes",
            "Insurance",
            "Your plan",
        ],
    ),
    (
        "Yoga for Every Day",
        ["Breathing", "Sun salutation", "Standing poses", "Balance", "Twists", "Hips", "Backbends", "Rest"],
    ),
    (
        "Statistics Without Tears",
        [
            "Data and variation",
            "Averages",
            "Spread",
            "Probability",
            "Distributions",
            "Sampling",
            "Confidence intervals",
            "Hypothesis tests",
            "Regression",
            "Pitfalls",
        ],
    ),
    (
        "Digital Marketing",
        [
            "Audiences",
            "Positioning",
            "Search",
            "Content",
            "Email",
            "Social media",
            "Paid ads",
            "Analytics",
            "Experiments",
        ],
    ),
    (
        "Italian Cooking",
        [
            "The pantry",
            "Fresh pasta",
            "Tomato sauce",
            "Risotto",
            "Soups",
            "Vegetables",
            "Fish",
            "Meat",
            "Desserts",
            "A dinner menu",
        ],
    ),
    (
        "Web Design Basics",
        [
            "Layout",
            "Typography",
            "Colour",
            "Grids",
            "Images",
            "Navigation",
            "Forms",
            "Accessibility",
            "Responsive design",
            "Portfolio site",
        ],
    ),
    (
        "Docker and Containers",
        [
            "Why containers",
            "Images",
            "Running containers",
            "Dockerfiles",
            "Volumes",
            "Networking",
            "Compose",
            "Registries",
            "In production",
        ],
    ),
    (
        "Creative Writing",
        [
            "Ideas",
            "Character",
            "Point of view",
            "Dialogue",
            "Setting",
            "Plot",
            "Revision",
            "Short stories",
            "Sharing your work",
        ],
    ),
    (
        "Piano Basics",
        [
            "The keyboard",
            "Posture",
            "Reading notes",
            "Right hand",
            "Left hand",
            "Both hands",
            "Chords",
            "Pedal",
            "First piece",
            "Practice habits",
        ],
    ),
    (
        "Project Management",
        [
            "Scope",
            "Stakeholders",
            "Planning",
            "Estimates",
            "Risks",
            "Agile",
            "Kanban",
            "Meetings",
            "Reporting",
            "Closing a project",
        ],
    ),
    (
        "Excel for Everyone",
        [
            "Cells and ranges",
            "Formulas",
            "Functions",
            "Sorting and filtering",
            "Charts",
            "Lookups",
            "Pivot tables",
            "Data validation",
            "Dashboards",
            "Macros",
            "A budget workbook",
        ],
    ),
]
TEACHER_NAMES = [
    "Ada Moreno",
    "Ben Okafor",
    "Chloé Martin",
    "Dev Patel",
    "Eva Lindqvist",
    "Femi Adeyemi",
    "Grace Liu",
    "Hassan Rahimi",
]
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


# Lessons some courses add after their topics (index by course; course 1 keeps its 12).
EXTRA_LESSONS = ["Q&A: your questions", "Project walkthrough", "Common mistakes", "Recap", "Further reading"]
EXTRA_COUNT = [0, 2, 3, 1, 4, 2, 3, 1, 2, 4, 3, 1, 2, 3, 4, 2, 1, 3, 2, 4, 3, 2, 1, 3, 2]

# What happens to each course's legacy S3 videos (cycled over the courses): migrated to Mux in one of four
# waves (the last at the start of this month), migrated live by the demo itself (`LIVE`), or still on S3.
# "new" courses started after the move to Mux began: their lessons went straight to Mux.
WAVES = ("wave1", "wave2", "wave3", "wave4")
LIVE = "live"
COURSE_FATES = [
    "wave1", "wave2", "s3", "wave1", "wave3", "live", "wave4", "s3", "wave1", "new", "wave2", "s3", "wave1",
    "wave3", "wave4", "new", "s3", "wave2", "wave1", "s3", "wave4", "wave3", "new", "wave2", "s3",
]  # fmt: skip
# Where the first three waves fall between the start of the Mux history and now (the fourth: this month's start).
WAVE_AT = (0.02, 0.33, 0.6)
# Waves whose S3 objects `lectern migrate cleanup` has deleted since (the latest one still has them).
CLEANED_UP_WAVES = frozenset({"wave1", "wave2", "wave3"})


DEMO_TEACHERS = 3  # teachers with a demo sign-in


def live_migration_course() -> int:
    """The course whose S3 videos `lectern demo` migrates while it starts (its id)."""
    return COURSE_FATES.index(LIVE) + 1


@dataclass(frozen=True)
class SeedConfig:
    seed: int = 7
    teachers: int = 8
    courses: int = 25
    students: int = 2400
    days: int = 90  # the Mux history: the move to Mux began two days after this many days ago
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    # Lesson lengths: the sample videos' (tests pass short ones, which are quick to make and encode).
    clip_seconds: tuple[int, ...] = LESSON_CLIP_SECONDS


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    password: str


@dataclass(frozen=True)
class MuxEvent:
    """How a lesson's video reached Mux before today: `migrated` from S3 (a wave) or `uploaded` by its teacher."""

    lesson_id: int
    kind: str  # migrated | uploaded
    at: datetime  # the Mux asset's creation
    duration_s: float
    playback_policy: str
    teacher_id: int
    title: str
    s3_key: str | None = None  # migrated: the legacy object
    cleaned_up: bool = False  # migrated: the S3 object was deleted after the migration

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MuxEvent:
        return cls(**{**raw, "at": datetime.fromisoformat(raw["at"])})


@dataclass
class SamplePlatform:
    users: list[dict[str, Any]]
    courses: list[dict[str, Any]]
    lessons: list[dict[str, Any]]
    enrollments: list[dict[str, Any]]
    demo_accounts: list[DemoAccount]
    config: SeedConfig
    # The Mux history (`lectern.sample_history` applies it): each lesson's move to Mux, oldest first.
    mux_history: list[MuxEvent] = field(default_factory=list)

    def mux_since(self) -> dict[int, datetime]:
        """Lesson id -> when it moved to Mux, for lessons that did before today."""
        return {event.lesson_id: event.at for event in self.mux_history}


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
    """3-5 chapters, the first at 0 and every one at least a minute before the end."""
    if rng.random() < 0.5:
        return None
    n = rng.randint(3, 5)
    cuts = sorted(rng.uniform(0.1, 0.9) * duration_s for _ in range(n - 1))
    titles = ["Introduction", "Key idea", "Worked example", "Common mistakes", "Practice", "Summary"]
    return [{"start_s": round(t, 1), "title": titles[i]} for i, t in enumerate([0.0, *cuts])]


def _month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def history_start(cfg: SeedConfig) -> datetime:
    """When the move to Mux began: the first Mux asset, two days inside the Mux history's window."""
    return cfg.now - timedelta(days=max(cfg.days - 2, 1))


def wave_times(cfg: SeedConfig) -> dict[str, datetime]:
    """When each migration wave began: three spread over the history, the last at this month's start."""
    begin = history_start(cfg)
    span = cfg.now - begin
    times = {name: begin + span * share for name, share in zip(WAVES, WAVE_AT, strict=False)}
    last = max(_month_start(cfg.now), times["wave3"] + timedelta(days=1))
    times["wave4"] = last if last < cfg.now else cfg.now - timedelta(hours=1)
    return times


def _clip_seconds(rng: random.Random, lengths: tuple[int, ...]) -> float:
    """A lesson's length: one of the sample videos' (5-24 minutes), middle lengths the most common."""
    middle = (len(lengths) - 1) / 2
    weights = [1.0 + middle - abs(i - middle) for i in range(len(lengths))]
    return float(rng.choices(lengths, weights)[0])


def build_platform(cfg: SeedConfig) -> SamplePlatform:
    """Users, courses, lessons, enrollments and the Mux history (progress is streamed: it can be millions).

    Timeline: courses and their lessons were recorded over the last year or so and kept on S3. The move to
    Mux began `days - 2` days ago: from then on teachers uploaded new lessons to Mux, while the migration
    moved whole courses' S3 videos in waves; some courses are still on S3, one is migrated live by the demo,
    and the newest lessons are still waiting for their video.
    """
    rng = random.Random(cfg.seed)
    begin = history_start(cfg)
    waves = wave_times(cfg)
    created = cfg.now - timedelta(days=max(cfg.days, 30) + 400)
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
                "password_hash": UNUSABLE,
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
        # A few teachers sign in; the others are sample accounts, like the students (and hashing is slow).
        password = _demo_password(rng) if i < DEMO_TEACHERS else None
        teacher_ids.append(add_user(email, name, "teacher", password))

    courses: list[dict[str, Any]] = []
    lessons: list[dict[str, Any]] = []
    history: list[MuxEvent] = []
    for c in range(cfg.courses):
        title, topics = COURSE_CATALOGUE[c % len(COURSE_CATALOGUE)]
        topics = topics + EXTRA_LESSONS[: EXTRA_COUNT[c % len(EXTRA_COUNT)]]
        if c >= len(COURSE_CATALOGUE):
            title = f"{title} ({c // len(COURSE_CATALOGUE) + 1})"
        course_id = c + 1
        fate = COURSE_FATES[c % len(COURSE_FATES)]
        teacher_id = teacher_ids[c % len(teacher_ids)]
        # A course is recorded over weeks: one lesson every few days, the last one at least a day ago.
        if fate == "new":
            course_at = begin + timedelta(days=rng.uniform(3, 0.45 * cfg.days))
        else:
            course_at = cfg.now - timedelta(days=rng.uniform(cfg.days + 60, cfg.days + 390))
        room = (cfg.now - timedelta(days=1) - course_at) / max(1, len(topics) - 1)
        gap = min(timedelta(days=rng.uniform(4, 10)), room)
        courses.append(
            {
                "id": course_id,
                "teacher_id": teacher_id,
                "title": title,
                "description": f"A practical course: {', '.join(topics[:3]).lower()} and more.",
                "created_at": course_at,
            }
        )
        made = [course_at + gap * i + timedelta(hours=rng.uniform(0, 20)) for i in range(len(topics))]
        if fate != "new" and rng.random() < 0.6:
            # The teacher came back to the course lately: its last few lessons are recent (and on Mux).
            tail = min(rng.randint(2, 4), len(topics) - 1)
            made[-tail:] = sorted(cfg.now - timedelta(days=rng.uniform(1, 40)) for _ in range(tail))
        # The newest lessons recorded lately may still wait for their video.
        recent = [i for i in range(len(topics)) if made[i] > max(begin, cfg.now - timedelta(days=21))]
        waiting = set(recent[-rng.choice([1, 2, 2, 3]) :]) if recent else set()
        wave_at = waves.get(fate)
        for pos, topic in enumerate(topics, start=1):
            lesson_id = len(lessons) + 1
            at = made[pos - 1]
            on_s3 = at < begin  # recorded before the move to Mux: its video went to S3
            has_video = pos - 1 not in waiting
            duration = _clip_seconds(rng, cfg.clip_seconds)
            policy = "signed" if rng.random() < 0.3 else "public"
            chapters = _chapters(rng, duration)
            key = f"courses/{course_id}/lesson-{lesson_id}.mp4"
            lessons.append(
                {
                    "id": lesson_id,
                    "course_id": course_id,
                    "position": pos,
                    "title": topic,
                    "video_url": key if on_s3 else None,
                    "duration_s": duration if on_s3 else None,
                    "chapters": chapters if has_video else None,
                    "created_at": at,
                    "video_provider": "s3" if on_s3 else None,
                    "video_status": "ready" if on_s3 else "none",
                    "video_duration_s": duration if on_s3 else None,
                    "playback_policy": policy,
                }
            )
            event = MuxEvent(lesson_id, "uploaded", at, duration, policy, teacher_id, topic)
            if on_s3 and wave_at is not None:
                # One lesson after another, as the migration worker took them.
                moved = wave_at + timedelta(seconds=40 * pos + rng.uniform(0, 20))
                moved = min(moved, cfg.now - timedelta(seconds=60 - pos))
                cleaned = fate in CLEANED_UP_WAVES
                history.append(replace(event, kind="migrated", at=moved, s3_key=key, cleaned_up=cleaned))
            elif not on_s3 and has_video:
                uploaded = min(at + timedelta(hours=rng.uniform(1, 48)), cfg.now - timedelta(hours=2))
                history.append(replace(event, at=uploaded))

    first_student = len(users) + 1
    add_user("student@lectern.test", "Sam Student", "student", _demo_password(rng))
    for i in range(1, cfg.students):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        add_user(f"student{i:06d}@example.edu", name, "student", None)

    # Course popularity is skewed, as on every real platform.
    weights = [1.0 / (rank + 1) ** 0.6 for rank in range(len(courses))]
    rng.shuffle(weights)
    enrollments: list[dict[str, Any]] = []
    for uid in range(first_student, len(users) + 1):
        k = 1 + min(3, int(rng.expovariate(1.1)))
        chosen = {rng.choices(range(len(courses)), weights)[0] + 1 for _ in range(k)}
        if uid == first_student:
            chosen |= {c for c in (1, 2) if c <= len(courses)}
        joined = []
        for course_id in sorted(chosen):
            opened = courses[course_id - 1]["created_at"]
            # Enrolments keep coming while a course is open, more of them lately (the platform grows).
            span = (cfg.now - timedelta(hours=1) - opened).total_seconds()
            at = cfg.now - timedelta(hours=1, seconds=span * rng.random() ** 1.25)
            joined.append(at)
            enrollments.append({"id": len(enrollments) + 1, "user_id": uid, "course_id": course_id, "enrolled_at": at})
        users[uid - 1]["created_at"] = min(joined) - timedelta(days=rng.uniform(0, 30))
    history.sort(key=lambda event: event.at)
    # scrypt (~0.3 s a password) releases the GIL: both cores hash at once.
    by_email = {u["email"]: u for u in users}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for account, hashed in zip(demo, pool.map(hash_password, [a.password for a in demo]), strict=True):
            by_email[account.email]["password_hash"] = hashed
    return SamplePlatform(users, courses, lessons, enrollments, demo, cfg, history)


def iter_progress(platform: SamplePlatform) -> Iterator[dict[str, Any]]:
    """Lesson progress while lessons played from S3: each lesson reached by fewer students than the one before.

    A student works through a course's lessons in order after enrolling, waiting for a lesson not recorded
    yet; the walk stops at a lesson that was on Mux by then (Mux Data and `lectern emulator simulate`
    account for those: this is the platform's record of the S3 years).
    """
    cfg = platform.config
    rng = random.Random(cfg.seed * 7919 + 1)
    by_course: dict[int, list[dict[str, Any]]] = {}
    for lesson in platform.lessons:
        by_course.setdefault(lesson["course_id"], []).append(lesson)
    on_mux = platform.mux_since()
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
            t = max(t, lesson["created_at"]) + timedelta(hours=rng.expovariate(1 / (age_days * 24 / 8)))
            moved = on_mux.get(lesson["id"])
            if t > cfg.now or lesson["video_url"] is None or (moved is not None and t >= moved):
                break
            duration = lesson["duration_s"]
            r = rng.random()
            fraction = 1.0 if r < 0.62 else rng.betavariate(2, 3) if r < 0.95 else rng.uniform(0.0, 0.08)
            furthest = round(duration * fraction, 1)
            rewatch = 1.0 + (rng.expovariate(4) if rng.random() < 0.35 else 0.0)
            # Going back over parts never counts for more than the whole lesson in the platform's record.
            watched = round(min(furthest * rewatch, duration), 1)
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

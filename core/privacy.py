"""Students' personal data: the pseudonymous student key, mapping it back (admins), and forgetting a student.

The warehouse and Mux Data never see a student's platform id, name or email. They see the *student key*:

    student_key(secret, user_id) = 10**17 + HMAC-SHA256(secret, "lectern-student:<id>") mod 9·10**17

always 18 decimal digits, so it is what the player sends Mux Data as `viewer_user_id`, what the loaders
read back as the view's numeric `user_id`, and what the platform snapshot writes in place of the student's
id (`users.id`, `enrollments.user_id`, `lesson_progress.user_id`): the warehouse joins views to
enrolments on it exactly as it did on platform ids. Real platform ids stay below 10**17, so a key never
equals one. Teachers, admins and analysts keep their platform ids (courses name their teacher).

The secret is LECTERN_PSEUDONYM_KEY; when unset it is derived from LECTERN_PLATFORM_JWT_SECRET (a deployment
that rotates that secret should set its own key, or the warehouse's student keys change with it). Without
the secret a key cannot be mapped back; with it, `lookup` recomputes the keys of the platform's users —
from the platform DB, never from the warehouse — which is why only admins (holders of the platform DB
credentials, through `lectern privacy lookup`) can do it.

Forgetting (`forget`, `lectern privacy forget --user ID`) removes the student from the warehouse's working
file and every published snapshot, and puts the key on the warehouse's forgotten list so that later syncs
skip them. `core` imports no `warehouse`: the caller hands `forget` a function that does the warehouse part
(warehouse/privacy.py `forget_in_warehouse`) — see lectern/commands/privacy.py.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from core.db.models import Role, User
from core.errors import Conflict, NotConfigured
from core.settings import Settings

KEY_MIN = 10**17
KEY_SPAN = 9 * 10**17
_DERIVE_LABEL = b"lectern pseudonym key v1"


def pseudonym_secret(settings: Settings) -> bytes:
    explicit = settings.pseudonym_key.get_secret_value()
    if explicit:
        return explicit.encode()
    jwt_secret = settings.platform_jwt_secret.get_secret_value().encode()
    if not jwt_secret:
        # A key derived from nothing would be the same for every installation: anyone could recompute it.
        raise NotConfigured(
            "students' keys need LECTERN_PSEUDONYM_KEY (or LECTERN_PLATFORM_JWT_SECRET to derive it from)"
        )
    return hmac.new(jwt_secret, _DERIVE_LABEL, hashlib.sha256).digest()


def student_key(secret: bytes, user_id: int) -> int:
    digest = hmac.new(secret, f"lectern-student:{user_id}".encode(), hashlib.sha256).digest()
    return KEY_MIN + int.from_bytes(digest[:16], "big") % KEY_SPAN


def is_student_key(value: int) -> bool:
    return KEY_MIN <= value < KEY_MIN + KEY_SPAN


def viewer_user_id(settings: Settings, user_id: int) -> str:
    """What Lectern's players send Mux Data (and put in playback tokens) for this user."""
    return str(student_key(pseudonym_secret(settings), user_id))


@dataclass(frozen=True)
class Person:
    user_id: int
    email: str
    name: str
    role: str


def lookup(engine: Engine, secret: bytes, key: int) -> Person | None:
    """The platform user behind a student key (a scan of users: keys cannot be reversed, only recomputed)."""
    with engine.connect() as conn:
        for row in conn.execute(select(User.id, User.email, User.name, User.role).where(User.role == Role.student)):
            if student_key(secret, row.id) == key:
                return Person(row.id, row.email, row.name, row.role)
    return None


@dataclass
class ForgetReport:
    user_id: int
    student_key: int
    warehouse_rows: dict[str, int] = field(default_factory=dict)
    snapshots_removed: int = 0
    already_forgotten: bool = False
    not_reached: list[str] = field(default_factory=list)

    def lines(self) -> Iterable[str]:
        yield f"student {self.user_id} -> key {self.student_key}"
        if self.already_forgotten:
            yield "already on the forgotten list (this run removed whatever came back since)"
        for table, n in self.warehouse_rows.items():
            yield f"warehouse {table}: {n} row(s) removed"
        yield f"published a new warehouse snapshot; older snapshots deleted: {self.snapshots_removed}"
        for item in self.not_reached:
            yield f"NOT REACHED: {item}"


# Lectern's own platform tables (webhook_events, migration_jobs, migration_controls, alerts) hold no
# rows about students; users, enrollments and lesson_progress are the platform's, deleted by the platform.
NOT_REACHED = (
    "the platform's own rows (users, enrollments, lesson_progress) belong to the platform: delete or "
    "anonymise the student there; until then the sync skips this student (the forgotten list)",
    "Mux Data keeps the student's views (under the pseudonymous viewer_user_id, no name or email) for its "
    "retention period; the views job drops them whenever they are fetched again",
    "copies made outside Lectern: warehouse exports (`lectern warehouse export`), analysts' downloads, "
    "backups of the warehouse directory",
)


@dataclass(frozen=True)
class WarehouseForgetResult:
    rows: dict[str, int]
    newly_listed: bool
    snapshots_removed: int


# (student key, platform user id) -> what the warehouse did.
WarehouseForget = Callable[[int, int], WarehouseForgetResult]


def forget(engine: Engine, secret: bytes, user_id: int, warehouse: WarehouseForget) -> ForgetReport:
    """Remove a student from the stores Lectern owns; idempotent (a second run removes nothing new).

    Refuses a platform user who is not a student (teachers' rows are course data, not a student's). A user
    the platform already deleted is still forgotten: their key is computed from the id alone.
    """
    with engine.connect() as conn:
        role = conn.execute(select(User.role).where(User.id == user_id)).scalar_one_or_none()
    if role is not None and role != Role.student:
        raise Conflict(
            f"user {user_id} is a {role}, not a student: `privacy forget` removes students only",
            context={"user_id": user_id, "role": role},
        )
    key = student_key(secret, user_id)
    done = warehouse(key, user_id)
    return ForgetReport(
        user_id=user_id,
        student_key=key,
        warehouse_rows=done.rows,
        snapshots_removed=done.snapshots_removed,
        already_forgotten=not done.newly_listed,
        not_reached=list(NOT_REACHED),
    )

"""The platform's bearer tokens and who may do what with a lesson.

Tokens are HS256 JWTs signed with `LECTERN_PLATFORM_JWT_SECRET`: `sub` = user id (a string), `exp`
required, `iat` set by `mint_token`. Rules:
- admin: everything;
- teacher: manages (uploads to) and views lessons of the courses they own;
- student (and anyone else): views lessons of courses they are enrolled in.
Failures are typed: `Unauthenticated` (no/bad/expired token, unknown user), `Forbidden`, `NotFound`. A user
who may not view a lesson gets `NotFound`, exactly as for an id that does not exist (no probing for ids);
`Forbidden` is for what a user may see but not do (an enrolled student asking to upload).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import Integer, Select, bindparam, exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.db.fast_read import FastRead
from core.db.models import Course, Enrollment, Lesson, Role, User
from core.db.records import LessonLike, LessonRecord
from core.errors import Forbidden, NotFound, Unauthenticated

ALGORITHM = "HS256"
# Every id column is an INTEGER: 32-bit on PostgreSQL, which refuses to compare a larger parameter with it
# ("integer out of range", a 500), and SQLite cannot bind past 2^63. A larger number is no row's id.
MAX_ID = 2**31 - 1
# A token's `exp` past this (year 9999) is not a real expiry: refused rather than cached forever or overflowing.
MAX_EXP = 253_402_300_799


@dataclass(frozen=True)
class Principal:
    user_id: int
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


@dataclass(frozen=True)
class LessonAccess:
    """A lesson, its course's teacher, whether the user is enrolled, and who the user is: one query."""

    lesson: LessonLike
    teacher_id: int
    enrolled: bool
    principal: Principal


def mint_token(secret: str, user_id: int, *, ttl_s: int = 3600, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return jwt.encode({"sub": str(user_id), "iat": issued, "exp": issued + ttl_s}, secret, algorithm=ALGORITHM)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing Authorization header (expected: Bearer <token>)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("malformed Authorization header (expected: Bearer <token>)")
    return token.strip()


def decode_token(secret: str, token: str, *, now: float | None = None) -> int:
    """The user id in a valid token; `Unauthenticated` with the reason otherwise."""
    return verify_token(secret, token, now=now)[0]


def verify_token(secret: str, token: str, *, now: float | None = None) -> tuple[int, int]:
    """(user id, exp) of a valid token; `Unauthenticated` with the reason otherwise."""
    options: jwt.types.Options = {"require": ["exp", "sub"]}
    try:
        # exp is checked below, not by pyjwt: its check lets OverflowError escape for `"exp": 1e400`.
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={**options, "verify_exp": False})
    except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError) as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    exp, sub = claims["exp"], claims["sub"]
    # Signed by whoever holds the secret, but still input: a float, string, huge or non-finite value is refused.
    if type(exp) is not int or not 0 < exp <= MAX_EXP:
        raise Unauthenticated("invalid token: exp is not a time in seconds")
    if exp <= (time.time() if now is None else now):
        raise Unauthenticated("token expired")
    # At most 10 ASCII digits before int(): Python refuses to convert digit strings over 4,300 long.
    if not isinstance(sub, str) or not _USER_ID.fullmatch(sub) or not 0 < int(sub) <= MAX_ID:
        raise Unauthenticated("invalid token: sub is not a user id")
    return int(sub), exp


_USER_ID = re.compile(r"[0-9]{1,10}")


class TokenVerifier:
    """`decode_token` with a bounded cache of tokens already verified (their expiry is still checked).

    A player polls playback/status with the same token many times; re-verifying the HMAC and re-parsing
    the JSON each time is a visible share of a request's CPU.
    """

    def __init__(self, secret: str, *, cache_size: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._cache: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.cache_size = cache_size
        self.clock = clock

    def user_id(self, token: str) -> int:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(token)
            if hit is not None:
                self._cache.move_to_end(token)
        if hit is not None:
            if hit[1] <= now:
                raise Unauthenticated("token expired")
            return hit[0]
        user_id, exp = verify_token(self._secret, token, now=now)
        with self._lock:
            self._cache[token] = (user_id, exp)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return user_id


_ROLE = select(User.role).where(User.id == bindparam("user_id", type_=Integer))


def user_role(session: Session | Connection, user_id: int) -> str | None:
    """The user's role now (a primary-key read), or None when no such user exists."""
    role: str | None = session.execute(_ROLE, {"user_id": user_id}).scalar_one_or_none()
    return role


def load_principal(session: Session | Connection, user_id: int) -> Principal:
    role = user_role(session, user_id)
    if role is None:
        raise Unauthenticated("token names an unknown user")
    return Principal(user_id=user_id, role=role)


def _lesson_access_statement(*lesson: Any) -> Select[Any]:
    user_id = bindparam("user_id", type_=Integer)
    enrolled = exists().where(Enrollment.course_id == Lesson.course_id, Enrollment.user_id == user_id).correlate(Lesson)
    role = select(User.role).where(User.id == user_id).scalar_subquery()
    return (
        select(*lesson, Course.teacher_id, enrolled, role)
        .select_from(Lesson)
        .join(Course, Course.id == Lesson.course_id)
        .where(Lesson.id == bindparam("lesson_id", type_=Integer))
    )


# Built once: composing a statement costs more than running it (playback is the hot path).
_LESSON_COLUMNS = tuple(Lesson.__table__.c)
_LESSON_KEYS = tuple(c.key for c in _LESSON_COLUMNS)
_LESSON_ACCESS_FOR_UPDATE = _lesson_access_statement(Lesson).with_for_update(of=Lesson)
_LESSON_VIEW = FastRead(_lesson_access_statement(*_LESSON_COLUMNS))


def _access(row: Any, lesson: LessonLike, user_id: int) -> LessonAccess:
    teacher_id, enrolled, role = row[-3:]
    if role is None:
        raise Unauthenticated("token names an unknown user")
    principal = Principal(user_id, role)
    return LessonAccess(lesson=lesson, teacher_id=teacher_id, enrolled=bool(enrolled), principal=principal)


def load_lesson_access(session: Session, lesson_id: int, user_id: int, *, for_update: bool = False) -> LessonAccess:
    """The lesson with everything access checks need. Unknown user -> Unauthenticated; lesson -> NotFound.

    `for_update=True` gives a session-managed, row-locked Lesson to change; otherwise see `read_lesson_access`.
    """
    if not for_update:
        return read_lesson_access(session.connection(), lesson_id, user_id)
    row = session.execute(_LESSON_ACCESS_FOR_UPDATE, {"lesson_id": lesson_id, "user_id": user_id}).one_or_none()
    if row is None:
        load_principal(session, user_id)  # an unknown user is a 401 even for an unknown lesson
        raise not_found(lesson_id)
    return _access(row, row[0], user_id)


def read_lesson_access(conn: Connection, lesson_id: int, user_id: int) -> LessonAccess:
    """The cheapest read of `load_lesson_access`: one query on the bare cursor, a read-only LessonRecord."""
    row = _LESSON_VIEW.one_or_none(conn, {"lesson_id": lesson_id, "user_id": user_id})
    if row is None:
        load_principal(conn, user_id)  # an unknown user is a 401 even for an unknown lesson
        raise not_found(lesson_id)
    return _access(row, LessonRecord(*row[: len(_LESSON_KEYS)]), user_id)


def can_manage(access: LessonAccess) -> bool:
    principal = access.principal
    return principal.is_admin or (principal.role == Role.teacher and access.teacher_id == principal.user_id)


def can_view(access: LessonAccess) -> bool:
    return can_manage(access) or access.enrolled


def not_found(lesson_id: int) -> NotFound:
    """The one answer for "no such lesson" and "not yours to know about", so ids cannot be probed."""
    return NotFound(f"lesson {lesson_id} not found")


def require_manage(access: LessonAccess) -> None:
    if not can_manage(access):
        if not can_view(access):
            raise not_found(access.lesson.id)
        raise Forbidden(f"only the course's teacher or an admin can change lesson {access.lesson.id}")


def require_view(access: LessonAccess) -> None:
    # 404, not 403: whoever may not view a lesson may not learn that its id exists either.
    if not can_view(access):
        raise not_found(access.lesson.id)

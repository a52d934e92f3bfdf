from __future__ import annotations

import jwt
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.auth import (
    TokenVerifier,
    bearer_token,
    can_manage,
    can_view,
    decode_token,
    load_lesson_access,
    mint_token,
    require_manage,
    require_view,
)
from core.db.engine import transaction
from core.errors import Forbidden, NotFound, Unauthenticated
from tests.factories import enroll, make_course, make_lesson, make_user

SECRET = "platform-secret-for-tests-0123456789abc"


def test_minted_tokens_decode_to_the_user_id() -> None:
    token = mint_token(SECRET, 42, ttl_s=60, now=1000)
    assert decode_token(SECRET, token, now=1059) == 42
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"sub": "42", "iat": 1000, "exp": 1060}


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (mint_token(SECRET, 1, ttl_s=60, now=1000), "token expired"),
        (mint_token("another-secret-for-tests-0123456789", 1, ttl_s=60, now=2000), "invalid token"),
        (jwt.encode({"sub": "1"}, SECRET, algorithm="HS256"), "invalid token"),  # no exp
        (jwt.encode({"sub": "bob", "exp": 9999}, SECRET, algorithm="HS256"), "not a user id"),
        ("not-a-jwt", "invalid token"),
    ],
)
def test_bad_tokens_are_unauthenticated_with_a_reason(token: str, reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        decode_token(SECRET, token, now=2000)


def _signed(claims: dict[str, object]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1", "exp": "99999999999"},  # a string
        {"sub": "1", "exp": 9999999999.5},  # a float
        {"sub": "1", "exp": float("inf")},  # json "Infinity": int() overflowed
        {"sub": "1", "exp": float("nan")},
        {"sub": "1", "exp": 10**30},  # past year 9999
        {"sub": "1", "exp": True},
        {"sub": "1", "exp": [1]},
        {"sub": str(2**31), "exp": 9999999999},  # no row has such an id (PostgreSQL's INTEGER ends below)
        {"sub": str(2**63), "exp": 9999999999},  # SQLite cannot even bind it
        {"sub": "0", "exp": 9999999999},
        {"sub": "-5", "exp": 9999999999},
        {"sub": "٢", "exp": 9999999999},  # a non-ASCII digit
        {"sub": 7, "exp": 9999999999},  # sub must be a string (RFC 7519)
        {"sub": "1", "exp": 9999999999, "iat": float("inf")},  # pyjwt's own iat check overflowed
        {"sub": "1", "exp": 9999999999, "nbf": "later"},
    ],
)
@pytest.mark.parametrize("now", [2000.0, None])
def test_signed_tokens_with_malformed_claims_are_unauthenticated(claims: dict[str, object], now: float | None) -> None:
    with pytest.raises(Unauthenticated, match="invalid token"):
        decode_token(SECRET, _signed(claims), now=now)
    with pytest.raises(Unauthenticated, match="invalid token"):
        TokenVerifier(SECRET).user_id(_signed(claims))


def test_wall_clock_expiry_is_enforced_without_an_injected_clock() -> None:
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(SECRET, mint_token(SECRET, 1, ttl_s=60, now=1000))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer"])
def test_authorization_header_must_be_bearer(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(header)


def test_access_rules(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        owner, other_teacher = make_user(s, "teacher"), make_user(s, "teacher")
        admin, student, stranger = make_user(s, "admin"), make_user(s), make_user(s)
        analyst = make_user(s, "analyst")
        course = make_course(s, teacher=owner)
        lesson = make_lesson(s, course)
        enroll(s, student, course)
        enroll(s, other_teacher, course)  # a teacher enrolled elsewhere may watch, not manage
        ids = {
            n: u.id
            for n, u in {
                "owner": owner,
                "other": other_teacher,
                "admin": admin,
                "student": student,
                "stranger": stranger,
                "analyst": analyst,
            }.items()
        }
        lesson_id = lesson.id

    expected = {
        "owner": (True, True),
        "admin": (True, True),
        "other": (False, True),
        "student": (False, True),
        "stranger": (False, False),
        "analyst": (False, False),
    }
    with session_factory() as s:
        for name, (manage, view) in expected.items():
            access = load_lesson_access(s, lesson_id, ids[name])
            assert (can_manage(access), can_view(access)) == (manage, view), name
        with pytest.raises(Forbidden):
            require_manage(load_lesson_access(s, lesson_id, ids["student"]))
        # Whoever may not view a lesson gets the answer an unknown id gets (no probing for ids).
        with pytest.raises(NotFound, match=f"lesson {lesson_id} not found"):
            require_view(load_lesson_access(s, lesson_id, ids["stranger"]))
        with pytest.raises(NotFound, match=f"lesson {lesson_id} not found"):
            require_manage(load_lesson_access(s, lesson_id, ids["stranger"]))
        with pytest.raises(NotFound):
            load_lesson_access(s, 999_999, ids["owner"])
        with pytest.raises(Unauthenticated):
            load_lesson_access(s, lesson_id, 999_999)
        with pytest.raises(Unauthenticated):
            load_lesson_access(s, 999_999, 999_999)  # unknown user wins over unknown lesson


def test_token_verifier_caches_valid_tokens_but_still_expires_them() -> None:
    now = [1000.0]
    verifier = TokenVerifier(SECRET, cache_size=2, clock=lambda: now[0])
    token = mint_token(SECRET, 7, ttl_s=60, now=1000)
    assert verifier.user_id(token) == 7
    assert verifier.user_id(token) == 7  # from the cache
    assert len(verifier._cache) == 1
    now[0] = 1061
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.user_id(token)
    with pytest.raises(Unauthenticated, match="invalid token"):
        verifier.user_id(mint_token("another-secret-for-tests-0123456789", 7, now=1000))
    assert len(verifier._cache) == 1  # failures are never cached


def test_a_sub_too_long_for_int_is_unauthenticated_not_an_error() -> None:
    # Python refuses int() on digit strings over 4,300 long: that ValueError escaped as a 500.
    with pytest.raises(Unauthenticated, match="sub is not a user id"):
        decode_token(SECRET, _signed({"sub": "9" * 5000, "exp": 2**31}), now=1.0)

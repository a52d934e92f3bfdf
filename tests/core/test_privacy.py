"""Student keys: stable, secret-dependent, 18 digits, never a platform id."""

from __future__ import annotations

from core.privacy import KEY_MIN, is_student_key, pseudonym_secret, student_key, viewer_user_id
from core.settings import load_settings


def test_keys_are_stable_18_digit_and_depend_on_the_secret() -> None:
    keys = [student_key(b"secret-a", i) for i in range(1, 2001)]
    assert keys == [student_key(b"secret-a", i) for i in range(1, 2001)]
    assert len(set(keys)) == len(keys)
    assert all(is_student_key(k) and len(str(k)) == 18 for k in keys)
    assert all(k >= KEY_MIN > i for i, k in enumerate(keys, 1))
    assert student_key(b"secret-b", 1) != keys[0]
    assert not is_student_key(42)


def test_the_key_secret_is_explicit_or_derived_from_the_jwt_secret_never_the_jwt_secret_itself() -> None:
    jwt = "platform-jwt-secret-0123456789abcdef-0123"
    explicit = load_settings(platform_jwt_secret=jwt, pseudonym_key="explicit-pseudonym-key")
    assert pseudonym_secret(explicit) == b"explicit-pseudonym-key"
    derived = load_settings(platform_jwt_secret=jwt)
    assert pseudonym_secret(derived) not in (b"", jwt.encode())
    assert pseudonym_secret(derived) == pseudonym_secret(load_settings(platform_jwt_secret=jwt))
    assert pseudonym_secret(derived) != pseudonym_secret(load_settings(platform_jwt_secret=jwt + "x"))
    assert viewer_user_id(explicit, 7) == str(student_key(b"explicit-pseudonym-key", 7))

"""Verification of signed-playback JWTs the way stream.mux.com / image.mux.com check them.

RS256 only; `kid` may sit in the JWT header (Mux docs, Elixir SDK) or in the claims (Node SDK >= 8);
`sub` is the playback ID; `aud` is v (video), t (thumbnail), g (gif), s (storyboard); `exp` required.
Time comes from the emulator clock so advancing it expires tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt

AUDIENCE_NAMES = {"v": "video", "t": "thumbnail", "g": "animated", "s": "storyboard"}


class PlaybackDenied(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def verify_playback_token(
    token: str | None,
    *,
    playback_id: str,
    audience: str,
    public_key_for: Callable[[str], str | None],
    now: float,
) -> dict[str, Any]:
    """Return the token's claims, or raise PlaybackDenied with a short reason."""
    if not token:
        raise PlaybackDenied("missing token: this playback ID is signed and needs ?token=<JWT>")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise PlaybackDenied(f"malformed token ({exc})") from exc
    if header.get("alg") != "RS256":
        raise PlaybackDenied(f"unsupported algorithm {header.get('alg')!r}; Mux tokens use RS256")
    key_id = header.get("kid") or unverified.get("kid")
    if not key_id:
        raise PlaybackDenied("missing kid: put the signing key ID in the JWT header or claims")
    public_pem = public_key_for(str(key_id))
    if public_pem is None:
        raise PlaybackDenied("signing key not found")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_pem,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise PlaybackDenied(f"invalid signature ({exc})") from exc
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        raise PlaybackDenied("missing exp claim")
    if exp <= now:
        raise PlaybackDenied("token expired")
    if claims.get("aud") != audience:
        raise PlaybackDenied(
            f"wrong audience: expected {audience!r} ({AUDIENCE_NAMES[audience]}), got {claims.get('aud')!r}"
        )
    if claims.get("sub") != playback_id:
        raise PlaybackDenied("token sub does not match the playback ID")
    return claims

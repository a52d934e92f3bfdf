"""When a signed-in dashboard session ends: idle too long, too old, or its account changed (pure rules).

The dashboard calls `session_end_reason` on every page run with the session's timestamps and the role read
back from the platform DB for the signed-in user id (None when the user was deleted). A reason means: sign
out and show it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings


@dataclass(frozen=True)
class SessionLimits:
    idle_s: float = 1800.0
    max_s: float = 12 * 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionLimits:
        return cls(idle_s=settings.dashboard_idle_timeout_s, max_s=settings.dashboard_session_max_s)


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def session_end_reason(
    *,
    now: float,
    signed_in_at: float,
    last_seen: float,
    signed_in_role: str,
    current_role: str | None,
    allowed_roles: tuple[str, ...],
    limits: SessionLimits,
) -> str | None:
    """Why this session must end now (a message for the user), or None while it is still good."""
    if current_role is None:
        return "Your account no longer exists, so you were signed out."
    if current_role != signed_in_role or current_role not in allowed_roles:
        return "Your account's role changed, so you were signed out. Sign in again to continue."
    if now - signed_in_at > limits.max_s:
        return f"Sessions last at most {_duration(limits.max_s)}; you were signed out. Sign in again to continue."
    if now - last_seen > limits.idle_s:
        return f"You were signed out after {_duration(limits.idle_s)} without activity. Sign in again to continue."
    return None

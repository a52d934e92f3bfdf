"""Short-lived tickets: one student (or teacher, admin), some lessons, some purposes, a near expiry.

A browser cannot put a bearer header on `navigator.sendBeacon` or on an `EventSource`, and a bearer token in
a URL ends up in access logs, where it is worth the user's whole account for hours. A ticket is what goes in
the URL (or a beacon's body) instead: it authenticates one user for the lessons it names and the purposes it
lists, and expires after `LECTERN_TICKET_TTL_S` (two hours at most). Whoever asks for one presents the usual
bearer token, and access is checked with the playback rules (`core.auth.require_view`); access is checked
again on every use (a removed enrolment stops progress writes and ends event streams at once), so a ticket
authenticates and never authorises on its own.

Format: `lt1.<payload>.<mac>`, both base64url without padding; the payload is `user:lessons:purposes:exp`
(lessons and purposes comma-separated); the MAC is HMAC-SHA256 over `lt1.<payload>` with a key derived from
`LECTERN_PLATFORM_JWT_SECRET` for tickets only, so a ticket is never a bearer token and a bearer token never a
ticket. Rotating the platform secret invalidates every ticket.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from core.auth import MAX_EXP, MAX_ID, read_lesson_access, require_view
from core.errors import Unauthenticated

PREFIX = "lt1"
KEY_LABEL = b"lectern ticket v1"
# A ticket is short by design; anything longer is not one (and is refused before any parsing).
MAX_TICKET_CHARS = 1024
_PAYLOAD = re.compile(r"([0-9]{1,10}):([0-9]{1,10}(?:,[0-9]{1,10})*):([a-z]+(?:,[a-z]+)*):([0-9]{1,12})")


class TicketPurpose(enum.StrEnum):
    events = "events"  # the lesson status event streams
    progress = "progress"  # progress reports from the player


@dataclass(frozen=True)
class Ticket:
    user_id: int
    lesson_ids: frozenset[int]
    purposes: frozenset[TicketPurpose]
    expires_at: int  # unix seconds

    def covers(self, lesson_ids: Iterable[int]) -> bool:
        return all(lesson_id in self.lesson_ids for lesson_id in lesson_ids)


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    user_id: int
    lesson_ids: tuple[int, ...]
    purposes: tuple[TicketPurpose, ...]
    expires_at: datetime


def ticket_key(platform_secret: str) -> bytes:
    """The tickets' own HMAC key, derived from the platform secret (never the JWT key itself)."""
    return hmac.new(platform_secret.encode(), KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TicketSigner:
    """Signs and verifies tickets; a bounded cache keeps tickets already verified (a player sends the same one
    with every report), so a repeat costs a dict lookup and the expiry check, not the MAC and the parse."""

    def __init__(
        self,
        platform_secret: str,
        *,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
        cache_size: int = 50_000,
    ) -> None:
        if not platform_secret:
            raise ValueError("tickets need LECTERN_PLATFORM_JWT_SECRET")
        self._key = ticket_key(platform_secret)
        self.ttl_s = ttl_s
        self.clock = clock
        self.cache_size = cache_size
        self._verified: OrderedDict[str, Ticket] = OrderedDict()
        self._lock = threading.Lock()

    def _mac(self, signed: str) -> str:
        return _b64(hmac.new(self._key, signed.encode(), hashlib.sha256).digest())

    def sign(
        self, user_id: int, lesson_ids: Collection[int], purposes: Collection[TicketPurpose]
    ) -> tuple[str, Ticket]:
        if not lesson_ids or not purposes:
            raise ValueError("a ticket names at least one lesson and one purpose")
        exp = int(self.clock()) + self.ttl_s
        lessons = sorted(set(lesson_ids))
        kinds = sorted({TicketPurpose(p) for p in purposes})
        payload = f"{user_id}:{','.join(map(str, lessons))}:{','.join(kinds)}:{exp}"
        signed = f"{PREFIX}.{_b64(payload.encode())}"
        return f"{signed}.{self._mac(signed)}", Ticket(user_id, frozenset(lessons), frozenset(kinds), exp)

    def verify(self, text: str, *, purpose: TicketPurpose, lesson_ids: Iterable[int] = ()) -> Ticket:
        """The ticket, if it is genuine, unexpired, allows `purpose` and covers `lesson_ids`; else Unauthenticated."""
        ticket = self.decode(text)
        if purpose not in ticket.purposes:
            raise Unauthenticated(f"ticket does not allow {purpose.value}")
        for lesson_id in lesson_ids:
            if lesson_id not in ticket.lesson_ids:
                raise Unauthenticated(f"ticket is not for lesson {lesson_id}")
        return ticket

    def decode(self, text: str) -> Ticket:
        with self._lock:
            ticket = self._verified.get(text)
            if ticket is not None:
                self._verified.move_to_end(text)
        if ticket is None:
            ticket = self._decode(text)
            with self._lock:
                self._verified[text] = ticket
                while len(self._verified) > self.cache_size:
                    self._verified.popitem(last=False)
        if ticket.expires_at <= self.clock():
            raise Unauthenticated("ticket expired")
        return ticket

    def _decode(self, text: str) -> Ticket:
        if len(text) > MAX_TICKET_CHARS or not text.isascii():
            raise Unauthenticated("invalid ticket")
        prefix, _, rest = text.partition(".")
        body, _, mac = rest.partition(".")
        if prefix != PREFIX or not body or not mac:
            raise Unauthenticated("invalid ticket")
        # Constant-time comparison of the MAC before the payload is read at all.
        if not hmac.compare_digest(self._mac(f"{PREFIX}.{body}"), mac):
            raise Unauthenticated("invalid ticket: signature does not match")
        try:
            payload = _unb64(body).decode("ascii")
        except (binascii.Error, ValueError):
            raise Unauthenticated("invalid ticket") from None
        match = _PAYLOAD.fullmatch(payload)
        if match is None:
            raise Unauthenticated("invalid ticket")
        user, lessons, purposes, exp = match.groups()
        try:
            kinds = frozenset(TicketPurpose(p) for p in purposes.split(","))
        except ValueError:
            raise Unauthenticated("invalid ticket: unknown purpose") from None
        ids = frozenset(int(i) for i in lessons.split(","))
        if not 0 < int(user) <= MAX_ID or not all(0 < i <= MAX_ID for i in ids) or not 0 < int(exp) <= MAX_EXP:
            raise Unauthenticated("invalid ticket")
        return Ticket(int(user), ids, kinds, int(exp))


class TicketService:
    """Hands out tickets to whoever may view the lessons (the playback endpoint's rule)."""

    def __init__(self, signer: TicketSigner, engine: Engine) -> None:
        self.signer = signer
        self.engine = engine

    def issue(self, user_id: int, lesson_ids: Collection[int]) -> IssuedTicket:
        """A ticket for `lesson_ids`: `events` always; `progress` too for one lesson the user is enrolled in.

        Teachers and admins may view a lesson without being enrolled: they get no `progress` purpose, so a
        preview never writes a student's progress. Access errors are those of `/status` (401, 404).
        """
        enrolled = True
        with self.engine.connect() as conn:
            for lesson_id in lesson_ids:
                access = read_lesson_access(conn, lesson_id, user_id)
                require_view(access)
                enrolled = enrolled and access.enrolled
        purposes = [TicketPurpose.events]
        if enrolled and len(lesson_ids) == 1:
            purposes.append(TicketPurpose.progress)
        text, ticket = self.signer.sign(user_id, lesson_ids, purposes)
        return IssuedTicket(
            ticket=text,
            user_id=user_id,
            lesson_ids=tuple(sorted(ticket.lesson_ids)),
            purposes=tuple(sorted(ticket.purposes)),
            expires_at=datetime.fromtimestamp(ticket.expires_at, UTC),
        )

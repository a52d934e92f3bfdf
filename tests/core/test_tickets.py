"""Tickets (core/tickets.py): scope, purpose, expiry, forgery, and never a bearer token (nor the reverse)."""

from __future__ import annotations

import base64

import pytest

from core.auth import TokenVerifier, mint_token
from core.errors import Unauthenticated
from core.tickets import TicketPurpose, TicketSigner

SECRET = "platform-secret-for-ticket-tests-0123456789"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signer(clock: Clock | None = None, secret: str = SECRET, ttl_s: int = 7200) -> TicketSigner:
    return TicketSigner(secret, ttl_s=ttl_s, clock=clock or Clock())


def reason(exc: pytest.ExceptionInfo[Unauthenticated]) -> str:
    return exc.value.reason


def test_a_ticket_names_its_user_lessons_purposes_and_expiry() -> None:
    text, ticket = signer().sign(42, [7], [TicketPurpose.progress, TicketPurpose.events])
    found = signer().verify(text, purpose=TicketPurpose.progress, lesson_ids=[7])
    assert found == ticket
    assert (found.user_id, found.lesson_ids, found.expires_at) == (42, frozenset({7}), int(NOW) + 7200)
    assert found.purposes == {TicketPurpose.progress, TicketPurpose.events}
    assert text.startswith("lt1.") and len(text) < 120


def test_a_ticket_for_lesson_a_is_refused_for_lesson_b() -> None:
    text, _ = signer().sign(42, [7], [TicketPurpose.events])
    with pytest.raises(Unauthenticated) as exc:
        signer().verify(text, purpose=TicketPurpose.events, lesson_ids=[8])
    assert reason(exc) == "ticket is not for lesson 8"
    listed, _ = signer().sign(42, [7, 9], [TicketPurpose.events])
    signer().verify(listed, purpose=TicketPurpose.events, lesson_ids=[9, 7])
    with pytest.raises(Unauthenticated):
        signer().verify(listed, purpose=TicketPurpose.events, lesson_ids=[7, 8])


def test_a_ticket_allows_only_its_purposes() -> None:
    text, _ = signer().sign(42, [7], [TicketPurpose.events])
    with pytest.raises(Unauthenticated) as exc:
        signer().verify(text, purpose=TicketPurpose.progress, lesson_ids=[7])
    assert reason(exc) == "ticket does not allow progress"


def test_a_ticket_expires() -> None:
    clock = Clock()
    text, _ = signer(clock, ttl_s=60).sign(42, [7], [TicketPurpose.events])
    clock.now = NOW + 59
    signer(clock).verify(text, purpose=TicketPurpose.events, lesson_ids=[7])
    clock.now = NOW + 60
    with pytest.raises(Unauthenticated) as exc:
        signer(clock).verify(text, purpose=TicketPurpose.events, lesson_ids=[7])
    assert reason(exc) == "ticket expired"


def _payload(text: str) -> str:
    body = text.split(".")[1]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def _with_payload(text: str, payload: str) -> str:
    prefix, _, mac = text.split(".")
    return f"{prefix}.{base64.urlsafe_b64encode(payload.encode()).rstrip(b'=').decode()}.{mac}"


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: _with_payload(t, _payload(t).replace("42:", "43:", 1)),  # another user, same MAC
        lambda t: _with_payload(t, _payload(t).replace(":7:", ":8:", 1)),  # another lesson
        lambda t: _with_payload(t, _payload(t).rsplit(":", 1)[0] + ":99999999999"),  # a later expiry
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # a changed MAC
        lambda t: signer(secret="another-secret-entirely-0123456789abcdef").sign(42, [7], [TicketPurpose.events])[0],
        lambda t: t.replace("lt1.", "lt2.", 1),
        lambda t: "lt1.." + t.split(".")[2],
        lambda t: t + "." + t,
        lambda t: "x" * 5000,
        lambda t: "lt1.é.é",
        lambda t: mint_token(SECRET, 42),  # a bearer token is not a ticket
    ],
)
def test_forged_tickets_are_refused(forge: object) -> None:
    text, _ = signer().sign(42, [7], [TicketPurpose.events])
    forged = forge(text)  # type: ignore[operator]
    with pytest.raises(Unauthenticated):
        signer().verify(forged, purpose=TicketPurpose.events, lesson_ids=[7])


def test_a_correctly_signed_payload_that_is_no_ticket_is_refused() -> None:
    # Whoever held the key could only sign these; they still parse as nothing.
    s = signer()
    for payload in ("0:7:events:1900000000", "42:0:events:1900000000", "42:7:admin:1900000000", "42:7:events:x"):
        body = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
        text = f"lt1.{body}.{s._mac(f'lt1.{body}')}"
        with pytest.raises(Unauthenticated):
            s.verify(text, purpose=TicketPurpose.events)


def test_a_ticket_is_not_a_bearer_token() -> None:
    text, _ = signer().sign(42, [7], [TicketPurpose.events])
    with pytest.raises(Unauthenticated):
        TokenVerifier(SECRET).user_id(text)


def test_a_cached_ticket_still_expires_and_its_scope_still_holds() -> None:
    clock = Clock()
    s = signer(clock, ttl_s=60)
    text, _ = s.sign(42, [7], [TicketPurpose.events])
    for _ in range(2):  # the second verification comes from the cache
        s.verify(text, purpose=TicketPurpose.events, lesson_ids=[7])
    with pytest.raises(Unauthenticated):
        s.verify(text, purpose=TicketPurpose.progress, lesson_ids=[7])
    with pytest.raises(Unauthenticated):
        s.verify(text, purpose=TicketPurpose.events, lesson_ids=[8])
    clock.now = NOW + 60
    with pytest.raises(Unauthenticated) as exc:
        s.verify(text, purpose=TicketPurpose.events, lesson_ids=[7])
    assert reason(exc) == "ticket expired"

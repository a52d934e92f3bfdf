"""Dashboard sign-in throttling: a pure planner (`decide`) and the platform-DB store its counts come from.

Three counts of recent failures (within `window_s`) decide whether an attempt may spend a password check:

- per (email, client address): the first limit. Past `pair_max_failures` that pair is locked out for
  `lockout_s` after its last failure. Someone guessing from one place stops there; the account's owner,
  signing in from elsewhere, does not.
- per email, across addresses: a slowdown, never a lock. Past `account_free_failures` each further attempt
  on that email waits a delay that doubles per failure up to `account_max_delay_s`, so spreading guesses
  over many addresses buys one guess per delay, and knowing a teacher's email is not enough to lock them out.
- per client address, across emails: past `address_max_failures` the address is locked out for `lockout_s`
  (one address spraying one password over many emails).

Emails are counted as typed (normalised), whether an account has them or not, so the answers never say
which emails exist. The store writes a failure row *before* the password check and deletes the pair's rows
when it succeeds: attempts running at the same time on other replicas already count each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db.models import SignInFailure
from core.settings import Settings

# Emails and addresses are stored at most this long (the columns' sizes); longer input never signs in anyway.
EMAIL_MAX = 320
ADDRESS_MAX = 64


@dataclass(frozen=True)
class ThrottleLimits:
    window_s: float = 900.0
    pair_max_failures: int = 5
    lockout_s: float = 900.0
    account_free_failures: int = 10
    account_max_delay_s: float = 60.0
    address_max_failures: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottleLimits:
        return cls(
            window_s=settings.signin_window_s,
            pair_max_failures=settings.signin_pair_max_failures,
            lockout_s=settings.signin_lockout_s,
            account_free_failures=settings.signin_account_free_failures,
            account_max_delay_s=settings.signin_account_max_delay_s,
            address_max_failures=settings.signin_address_max_failures,
        )


@dataclass(frozen=True)
class Recent:
    """How many failures in the window, and when the latest was (None when there were none)."""

    count: int = 0
    last: datetime | None = None


@dataclass(frozen=True)
class FailureCounts:
    pair: Recent = Recent()
    account: Recent = Recent()
    address: Recent = Recent()


@dataclass(frozen=True)
class Decision:
    wait_s: float  # 0: go ahead
    reason: str  # "ok" | "pair_locked" | "address_locked" | "account_slowed"

    @property
    def allowed(self) -> bool:
        return self.wait_s <= 0


def account_delay_s(failures: int, limits: ThrottleLimits) -> float:
    """The wait between attempts on one email after `failures` recent failures: 0, then 1, 2, 4 ... s, capped."""
    over = failures - limits.account_free_failures
    if over <= 0:
        return 0.0
    return float(min(limits.account_max_delay_s, 2.0 ** min(over - 1, 32)))


def decide(counts: FailureCounts, limits: ThrottleLimits, now: datetime) -> Decision:
    """Whether an attempt may check a password now, and otherwise how long to wait (the longest wait wins)."""
    waits: list[tuple[float, str]] = []

    def until(last: datetime | None, seconds: float) -> float:
        return 0.0 if last is None else max(0.0, (last + timedelta(seconds=seconds) - now).total_seconds())

    if counts.pair.count >= limits.pair_max_failures:
        waits.append((until(counts.pair.last, limits.lockout_s), "pair_locked"))
    if counts.address.count >= limits.address_max_failures:
        waits.append((until(counts.address.last, limits.lockout_s), "address_locked"))
    delay = account_delay_s(counts.account.count, limits)
    if delay > 0:
        waits.append((until(counts.account.last, delay), "account_slowed"))
    wait, reason = max(waits, default=(0.0, "ok"))
    return Decision(wait, reason) if wait > 0 else Decision(0.0, "ok")


def normalise_email(email: str) -> str:
    """An email as accounts and throttle counts are keyed: case and surrounding spaces do not matter."""
    return email.strip().lower()


def normalise_key(email: str, address: str) -> tuple[str, str]:
    return normalise_email(email)[:EMAIL_MAX], address[:ADDRESS_MAX]


class SignInThrottle:
    """Failure counts in the platform DB (`signin_failures`), shared by every dashboard replica."""

    def __init__(self, factory: sessionmaker[Session], limits: ThrottleLimits) -> None:
        self._factory = factory
        self.limits = limits

    def _recent(self, session: Session, since: datetime, *where: ColumnElement[bool]) -> Recent:
        count, last = session.execute(
            select(func.count(), func.max(SignInFailure.failed_at)).where(SignInFailure.failed_at > since, *where)
        ).one()
        return Recent(int(count), last)

    def counts(self, email: str, address: str, now: datetime) -> FailureCounts:
        email, address = normalise_key(email, address)
        since = now - timedelta(seconds=self.limits.window_s)
        with self._factory() as session:
            return FailureCounts(
                pair=self._recent(session, since, SignInFailure.email == email, SignInFailure.address == address),
                account=self._recent(session, since, SignInFailure.email == email),
                address=self._recent(session, since, SignInFailure.address == address),
            )

    def check(self, email: str, address: str, now: datetime) -> Decision:
        return decide(self.counts(email, address, now), self.limits, now)

    def record_attempt(self, email: str, address: str, now: datetime) -> None:
        """Count an attempt as failed before its password check (so concurrent attempts see it).

        Also prunes rows that left the window (and any longer lock-out), keeping the table small.
        """
        email, address = normalise_key(email, address)
        keep = timedelta(seconds=max(self.limits.window_s, self.limits.lockout_s, self.limits.account_max_delay_s))
        with self._factory.begin() as session:
            session.execute(delete(SignInFailure).where(SignInFailure.failed_at < now - keep))
            session.add(SignInFailure(email=email, address=address, failed_at=now))

    def record_success(self, email: str, address: str) -> None:
        """The password was right: this (email, address) pair starts afresh. Other addresses' failures stay."""
        email, address = normalise_key(email, address)
        with self._factory.begin() as session:
            session.execute(delete(SignInFailure).where(SignInFailure.email == email, SignInFailure.address == address))

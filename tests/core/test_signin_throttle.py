"""Sign-in throttling: the planner's rules from counts and a clock, and the platform-DB store on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import make_engine, make_session_factory
from core.db.models import SignInFailure
from core.settings import load_settings
from core.signin_throttle import (
    Decision,
    FailureCounts,
    Recent,
    SignInThrottle,
    ThrottleLimits,
    account_delay_s,
    decide,
)

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
LIMITS = ThrottleLimits(
    window_s=900, pair_max_failures=5, lockout_s=900, account_free_failures=10, account_max_delay_s=60,
    address_max_failures=50,
)  # fmt: skip


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_defaults_are_the_named_settings() -> None:
    settings = load_settings()
    assert ThrottleLimits.from_settings(settings) == ThrottleLimits()
    assert (settings.signin_max_concurrent_hashes, settings.signin_hash_wait_s) == (2, 2.0)
    assert settings.trusted_proxies == []


def test_a_pair_is_locked_after_its_max_failures_until_the_lockout_passes() -> None:
    assert decide(FailureCounts(pair=Recent(4, at(0))), LIMITS, at(1)).allowed
    locked = decide(FailureCounts(pair=Recent(5, at(0))), LIMITS, at(1))
    assert (locked.reason, locked.wait_s) == ("pair_locked", pytest.approx(899))
    assert decide(FailureCounts(pair=Recent(5, at(0))), LIMITS, at(900)).allowed


def test_the_account_wide_limit_only_slows_down_and_the_delay_grows_to_a_cap() -> None:
    assert [account_delay_s(n, LIMITS) for n in (0, 10, 11, 12, 13, 15, 17, 100, 10**6)] == [
        0, 0, 1, 2, 4, 16, 60, 60, 60,
    ]  # fmt: skip
    # Thousands of failures from other addresses: this pair still gets an attempt once the delay has passed.
    slowed = decide(FailureCounts(account=Recent(5000, at(0))), LIMITS, at(30))
    assert (slowed.reason, slowed.wait_s) == ("account_slowed", pytest.approx(30))
    assert decide(FailureCounts(account=Recent(5000, at(0))), LIMITS, at(60)) == Decision(0.0, "ok")


def test_an_address_is_locked_after_failing_on_many_accounts() -> None:
    locked = decide(FailureCounts(address=Recent(50, at(0))), LIMITS, at(0))
    assert (locked.reason, locked.wait_s) == ("address_locked", pytest.approx(900))
    assert decide(FailureCounts(address=Recent(49, at(0))), LIMITS, at(0)).allowed


def test_the_longest_wait_wins() -> None:
    counts = FailureCounts(pair=Recent(5, at(0)), account=Recent(20, at(0)), address=Recent(50, at(-800)))
    assert decide(counts, LIMITS, at(10)).reason == "pair_locked"


def _rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.execute(select(func.count()).select_from(SignInFailure)).scalar_one())


def test_store_counts_per_pair_account_and_address(session_factory: sessionmaker[Session]) -> None:
    throttle = SignInThrottle(session_factory, LIMITS)
    for i in range(3):
        throttle.record_attempt("Ada@X.test ", "10.0.0.1", at(i))
    throttle.record_attempt("ada@x.test", "10.0.0.2", at(3))
    throttle.record_attempt("bo@x.test", "10.0.0.1", at(4))
    counts = throttle.counts("ada@x.test", "10.0.0.1", at(5))
    assert counts == FailureCounts(pair=Recent(3, at(2)), account=Recent(4, at(3)), address=Recent(4, at(4)))
    # Only the window counts.
    assert throttle.counts("ada@x.test", "10.0.0.1", at(901)).pair == Recent(1, at(2))


def test_store_lockout_survives_a_restart_and_a_success_clears_only_its_pair(db_url: str) -> None:
    first = make_engine(db_url)
    throttle = SignInThrottle(make_session_factory(first), LIMITS)
    for i in range(5):
        throttle.record_attempt("ada@x.test", "10.0.0.1", at(i))
    throttle.record_attempt("ada@x.test", "10.0.0.9", at(5))
    first.dispose()

    second = make_engine(db_url)  # another replica, or the same one after a restart
    again = SignInThrottle(make_session_factory(second), LIMITS)
    assert again.check("ada@x.test", "10.0.0.1", at(10)).reason == "pair_locked"
    assert again.check("ada@x.test", "10.0.0.2", at(10)).allowed  # the owner elsewhere is not locked out
    again.record_success("ada@x.test", "10.0.0.9")
    assert again.counts("ada@x.test", "10.0.0.1", at(10)).pair.count == 5
    assert again.counts("ada@x.test", "10.0.0.9", at(10)).pair.count == 0
    second.dispose()


def test_store_prunes_rows_past_the_window(session_factory: sessionmaker[Session]) -> None:
    throttle = SignInThrottle(session_factory, LIMITS)
    throttle.record_attempt("a@x.test", "10.0.0.1", at(0))
    throttle.record_attempt("a@x.test", "10.0.0.1", at(10))
    assert _rows(session_factory) == 2
    throttle.record_attempt("b@x.test", "10.0.0.1", at(905))  # the first row is past the window: pruned
    assert _rows(session_factory) == 2


def test_store_keys_are_bounded(session_factory: sessionmaker[Session]) -> None:
    throttle = SignInThrottle(session_factory, LIMITS)
    throttle.record_attempt("a" * 5000 + "@x.test", "f" * 500, at(0))
    assert throttle.counts("a" * 5000 + "@x.test", "f" * 500, at(1)).pair.count == 1

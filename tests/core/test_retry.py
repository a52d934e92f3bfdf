from __future__ import annotations

import pytest

from core.errors import MuxInvalidRequest, MuxRateLimited, MuxUnavailable
from core.retry import Retrier, RetryPolicy


def test_backoff_doubles_from_base_and_is_capped() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=3.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(("rand", "expected"), [(1.0, 2.0), (0.5, 1.5), (0.0, 1.0)])
def test_jitter_only_shortens_the_wait_by_at_most_the_fraction(rand: float, expected: float) -> None:
    assert RetryPolicy(base_s=1.0, cap_s=10.0, jitter=0.5).backoff(2, rand) == pytest.approx(expected)


def test_retry_after_wins_over_backoff_and_too_long_gives_up() -> None:
    policy = RetryPolicy(base_s=0.5, max_retry_after_s=30.0)
    assert policy.delay_for(MuxRateLimited("429", retry_after=7.0), 1) == 7.0
    assert policy.delay_for(MuxRateLimited("429", retry_after=None), 1, rand=1.0) == 0.5
    assert policy.delay_for(MuxRateLimited("429", retry_after=120.0), 1) is None
    assert RetryPolicy(respect_retry_after=False, jitter=0).delay_for(MuxRateLimited("x", retry_after=7), 2) == 1.0


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)


class Flaky:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_transient_errors_retry_until_success_with_the_policy_waits() -> None:
    sleeps: list[float] = []
    fn = Flaky([MuxUnavailable("503"), MuxRateLimited("429", retry_after=2.0), MuxUnavailable("timeout")])
    retrier = Retrier(RetryPolicy(attempts=4, base_s=0.1, jitter=0.0), sleep=sleeps.append, rand=lambda: 1.0)
    assert retrier.call(fn) == "ok"
    assert fn.calls == 4
    assert sleeps == [0.1, 2.0, 0.4]


def test_permanent_errors_are_never_retried() -> None:
    sleeps: list[float] = []
    fn = Flaky([MuxInvalidRequest("400")])
    with pytest.raises(MuxInvalidRequest):
        Retrier(sleep=sleeps.append).call(fn)
    assert fn.calls == 1
    assert sleeps == []


def test_gives_up_after_the_last_attempt_with_the_last_error() -> None:
    sleeps: list[float] = []
    fn = Flaky([MuxUnavailable(f"503 #{i}") for i in range(10)])
    with pytest.raises(MuxUnavailable, match="#2"):
        Retrier(RetryPolicy(attempts=3), sleep=sleeps.append).call(fn)
    assert fn.calls == 3
    assert len(sleeps) == 2


def test_on_retry_observes_each_retry() -> None:
    seen: list[tuple[str, int, float]] = []
    fn = Flaky([MuxUnavailable("a"), MuxUnavailable("b")])
    Retrier(
        RetryPolicy(base_s=1.0, jitter=0.0),
        sleep=lambda _: None,
        on_retry=lambda e, n, d: seen.append((e.message, n, d)),
    ).call(fn)
    assert seen == [("a", 1, 1.0), ("b", 2, 2.0)]

"""Exact money: half-up rounding of rational products and integer sums, where floats alone would slip."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from core.costs.exact import ROUND_CHUNK, exact_sums, free_share, round_exact, volume_share
from core.costs.pricebook import load_pricebook


def _reference(x: np.ndarray, group: np.ndarray, factors: list[Fraction], divisor: np.ndarray | None) -> list[int]:
    out = []
    for i, value in enumerate(x):
        exact = Fraction(int(value)) * factors[int(group[i])] / (1 if divisor is None else int(divisor[i]))
        out.append((exact + Fraction(1, 2)).__floor__())
    return out


def test_ties_round_up_and_large_values_stay_exact() -> None:
    # 6.3275 minutes at $0.001 is 6,327.5 micro-dollars: a tie floats may put either side of.
    x = np.array([6_327_500, 1, 3, 2**60 // 7, 0, 45_000_001])
    factors = [Fraction(1, 1000), Fraction(1, 2), Fraction(2400, 60_000_000), Fraction(2, 3)]
    group = np.array([0, 1, 1, 3, 2, 2])
    assert list(round_exact(x, group, factors)) == _reference(x, group, factors, None)
    assert list(round_exact(x, group, factors))[:3] == [6_328, 1, 2]
    divisor = np.array([1, 1, 3, 5, 7, 30])
    assert list(round_exact(x, group, factors, divisor)) == _reference(x, group, factors, divisor)


def test_random_products_match_fractions() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 10**12, 5_000)
    x[::7] = (x[::7] // 1000) * 1000 + 500  # plenty of exact halves
    factors = [
        Fraction(int(n), int(d)) for n, d in zip(rng.integers(1, 10**6, 20), rng.integers(1, 10**6, 20), strict=True)
    ]
    factors += [Fraction(1, 1000), Fraction(0)]
    group = rng.integers(0, len(factors), x.size)
    divisor = rng.integers(1, 100, x.size)
    assert list(round_exact(x, group, factors, divisor)) == _reference(x, group, factors, divisor)


def test_rows_on_every_side_of_a_chunk_boundary_are_rounded_alike() -> None:
    # round_exact works a chunk of rows at a time: ties and the near-half integer path at each edge.
    n = 2 * ROUND_CHUNK + 3
    x = np.full(n, 6_327_500, dtype=np.int64)  # 6,327.5 micro-dollars at $0.001 a minute: a tie
    x[1::2] = 2**60 // 7
    factors = [Fraction(1, 1000), Fraction(2, 3)]
    group = np.arange(n) % 2
    divisor = np.where(np.arange(n) % 3 == 0, 7, 1)
    edges = np.r_[0:3, ROUND_CHUNK - 2 : ROUND_CHUNK + 2, 2 * ROUND_CHUNK - 2 : n]
    out = round_exact(x, group, factors, divisor)
    assert out.size == n
    assert list(out[edges]) == _reference(x[edges], group[edges], factors, divisor[edges])
    assert list(out[:ROUND_CHUNK]) == list(
        round_exact(x[:ROUND_CHUNK], group[:ROUND_CHUNK], factors, divisor[:ROUND_CHUNK])
    )


def test_sums_beyond_float_precision_are_exact() -> None:
    keys = np.array([0, 0, 0, 1, 1])
    values = np.array([2**53 - 1, 3, 2**52 + 1, 5, 7])
    assert exact_sums(keys, values, 3) == [2**53 - 1 + 3 + 2**52 + 1, 12, 0]


def test_credit_shares_are_exact_fractions() -> None:
    book = load_pricebook()
    # Plus 1080p storage tiers: first 50,000 minutes at list, next 100,000 at 0.9666666667.
    share = volume_share(book, "storage", Fraction(150_000))
    assert share == Fraction(100_000, 150_000) * (1 - Fraction("0.9666666667"))
    assert volume_share(book, "delivery", Fraction(400_000)) == 0
    assert free_share(book, Fraction(250_000)) == Fraction(2, 5)
    assert free_share(book, Fraction(50_000)) == 1 and free_share(book, Fraction(0)) == 0

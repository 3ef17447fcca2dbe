"""The benchmark harness's statistics (``benchmarks/stats.py``) and the target rows read from
them (``benchmarks/targets.py``): pure Python, nothing timed."""

from __future__ import annotations

import random
from itertools import islice

import pytest
from benchmarks.sampling import round_orders
from benchmarks.stats import Interval, coverage, lower_rank, median_interval, paired, status
from benchmarks.targets import targets


@pytest.mark.parametrize("n, k", [(6, 0), (10, 1), (20, 5), (50, 17)])
def test_rank_matches_the_binomial_table(n: int, k: int) -> None:
    # the tabulated 95% ranks of the median: [x_(k+1), x_(n-k)]
    assert lower_rank(n, 0.025) == k


def test_interval_is_the_tightest_at_95_percent() -> None:
    for n in range(6, 201):
        k = lower_rank(n, 0.025)
        assert coverage(n, k) >= 0.95
        assert coverage(n, k + 1) < 0.95 or k + 1 >= n // 2


def test_interval_covers_the_true_median() -> None:
    rng = random.Random(0)
    trials, covered = 2000, 0
    for _ in range(trials):  # skewed, like latencies: median of lognormvariate(0, s) is 1
        iv = median_interval([rng.lognormvariate(0, 0.3) for _ in range(15)])
        covered += iv.lo <= 1.0 <= iv.hi
    assert covered / trials >= 0.94  # nominal coverage(15, 3) = 0.965


def test_ratio_is_paired_within_rounds() -> None:
    rng = random.Random(1)
    load = [rng.uniform(1, 3) for _ in range(12)]  # a round's slowdown hits both sides
    gen = [0.9 * x for x in load]
    iv = paired({"generated": gen, "hand": load}, "generated", "hand")
    assert iv == pytest.approx(Interval(0.9, 0.9, 0.9))
    with pytest.raises(ValueError):
        paired({"generated": gen[:-1], "hand": load}, "generated", "hand")


@pytest.mark.parametrize(
    "lo, hi, limit, at_most, expected",
    [
        (0.97, 0.99, 1.0, True, "met"),
        (0.97, 1.004, 1.0, True, "met"),  # shown as 1.00
        (0.98, 1.01, 1.0, True, "within noise"),
        (1.01, 1.05, 1.0, True, "missed"),
        (2.1, 2.3, 2.0, False, "met"),
        (1.9, 2.1, 2.0, False, "within noise"),
        (0.9, 1.1, 2.0, False, "missed"),
    ],
)
def test_status(lo: float, hi: float, limit: float, at_most: bool, expected: str) -> None:
    assert status(Interval((lo + hi) / 2, lo, hi), limit, at_most) == expected


def test_target_row_takes_the_worst_batch() -> None:
    def batch(ratio: list[float]) -> dict:
        return {"median_s": {}, "ratios": {"gen/hand": ratio}}

    models = {"m": {"batches": {"1": batch([0.98, 0.97, 0.99]), "4": batch([1.0, 0.99, 1.02])}}}
    (row,) = targets("cpu", models)
    assert row == (
        "| cpu | m gen/hand plain <= 1.00 | within noise "
        "| b1: 0.98 [0.97, 0.99], b4: 1.00 [0.99, 1.02] |"
    )


def test_round_orders_give_every_variant_every_predecessor() -> None:
    """Random round orders: each is a permutation, reproducible from the seed, and over many
    rounds each variant follows each other one about equally often (a rotation of one fixed
    order would pin every variant to a single predecessor)."""
    names = ["torch", "generated", "generated_compiled", "hand", "hand_compiled"]
    orders = list(islice(round_orders(names, seed=3), 2000))
    assert all(sorted(o) == sorted(names) for o in orders)
    assert orders[:5] == list(islice(round_orders(names, seed=3), 5))
    follows = {(a, b): 0 for a in names for b in names if a != b}
    for o in orders:
        for a, b in zip(o, o[1:]):
            follows[(a, b)] += 1
    expected = 2000 * (len(names) - 1) / len(follows)
    assert all(0.8 * expected < c < 1.2 * expected for c in follows.values())

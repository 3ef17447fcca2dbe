"""Timing rounds of one (model, batch): warm-up rounds (compiled variants trace on their
first call), then interleaved rounds, each calling every variant once in a fresh random order
(seeded), until every variant has ``min_repeats`` samples and the time budget is spent (at
most ``max_repeats`` rounds). Ratios are paired within a round: a slow spell of the shared
machine slows both sides of one ratio alike.

Why random and not rotating: a call is slower after one that used other weights (the GPU's
L2 and the caches hold the previous model's), and a rotation of one fixed order gives every
variant the same predecessor in almost every round (the compiled variant always ran right
after its plain twin, on the same weights). A random order gives every variant every
predecessor alike, so such effects fall on both sides of a ratio."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .stats import PAIRS, paired

Run = tuple[Callable, tuple, Callable]  # (callable, its inputs, how to read its output)


@dataclass(frozen=True)
class Plan:
    warmup: int  # rounds
    min_repeats: int  # timed rounds, at least
    budget_s: float  # seconds of timed rounds, at least (then stop at the round's end)
    max_repeats: int  # timed rounds, at most


def sample(
    runs: dict[str, Run], plan: Plan, force: Callable, seed: int = 0
) -> dict[str, list[float]]:
    """Seconds per call of each variant, one sample per round."""
    names = list(runs)
    for _ in range(plan.warmup):
        for n in names:
            _call(runs[n], force)
    samples: dict[str, list[float]] = {n: [] for n in names}
    start, r = time.perf_counter(), 0
    orders = round_orders(names, seed)
    while r < plan.max_repeats and (
        r < plan.min_repeats or time.perf_counter() - start < plan.budget_s
    ):
        for n in next(orders):
            samples[n].append(_call(runs[n], force))
        r += 1
    return samples


def round_orders(names: list[str], seed: int) -> Iterator[list[str]]:
    """An endless series of random orders of ``names``, the same for the same seed."""
    rng = random.Random(seed)
    while True:
        order = list(names)
        rng.shuffle(order)
        yield order


def summarize(samples: dict[str, list[float]]) -> dict:
    """Median latency of each variant, the rounds taken and every paired ratio's median with
    its 95% interval (``[median, lo, hi]``)."""
    ratios = {
        name: list(paired(samples, num, den))
        for name, (num, den) in PAIRS.items()
        if num in samples and den in samples
    }
    return {
        "median_s": {n: statistics.median(s) for n, s in samples.items()},
        "rounds": len(next(iter(samples.values()))),
        "ratios": ratios,
    }


def _call(run: Run, force: Callable) -> float:
    fn, xs, _ = run
    start = time.perf_counter()
    force(fn(*xs))
    return time.perf_counter() - start

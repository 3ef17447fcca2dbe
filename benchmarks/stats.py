"""The numbers a ratio row reports: the median of per-round paired ratios with a
distribution-free 95% interval (order statistics of the median), and the target status it
supports. Pure Python: no MLX or torch (tests import it alone)."""

from __future__ import annotations

import math
import statistics
from typing import NamedTuple

# ratio name -> (numerator variant, denominator variant), each sample from one round
PAIRS: dict[str, tuple[str, str]] = {
    "gen/hand": ("generated", "hand"),
    "gen/hand compiled": ("generated_compiled", "hand_compiled"),
    "gen constants/hand compiled": ("generated_constants", "hand_compiled"),
    "state/constants": ("generated_compiled", "generated_constants"),
    "fast/hand": ("fast", "hand"),
    "fast/hand compiled": ("fast_compiled", "hand_compiled"),
    "gen/torch": ("generated", "torch"),
    "hand/gen": ("hand", "generated"),  # the LSTM's speed-up target
}
STATUSES = ("met", "within noise", "missed")  # worst last: a row shows its worst batch's


class Interval(NamedTuple):
    median: float
    lo: float
    hi: float


def median_interval(xs: list[float], level: float = 0.95) -> Interval:
    """The median of ``xs`` and the order-statistic interval [x_(k+1), x_(n-k)] that covers
    the true median with probability >= ``level`` (the binomial(n, 1/2) tails); with too few
    samples for ``level`` (n < 6 at 95%), the full range."""
    s = sorted(xs)
    k = lower_rank(len(s), (1 - level) / 2)
    return Interval(statistics.median(s), s[k], s[len(s) - 1 - k])


def lower_rank(n: int, tail: float) -> int:
    """The largest k with P(Binomial(n, 1/2) <= k) <= ``tail`` (0 if there is none), kept
    below the middle so that the interval's ends stay apart."""
    k, cdf = 0, 1 / 2**n
    while k + 1 < n // 2:
        cdf += math.comb(n, k + 1) / 2**n
        if cdf > tail:
            break
        k += 1
    return k


def coverage(n: int, k: int) -> float:
    """The probability that [x_(k+1), x_(n-k)] of n samples covers the median."""
    return 1 - 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def paired(samples: dict[str, list[float]], num: str, den: str) -> Interval:
    """The round-by-round ratio ``num / den`` (both timed in the same round)."""
    return median_interval([a / b for a, b in zip(samples[num], samples[den], strict=True)])


def status(iv: Interval, limit: float, at_most: bool = True) -> str:
    """``met`` when the whole interval is on the target's side of ``limit``, ``missed`` when
    the whole interval is past it, ``within noise`` when it straddles; compared at the two
    decimals shown."""
    lo, hi = round(iv.lo, 2), round(iv.hi, 2)
    if not at_most:  # a target ">= limit": mirror it
        lo, hi, limit = -hi, -lo, -limit
    if hi <= limit:
        return "met"
    return "missed" if lo > limit else "within noise"


def worst(statuses: list[str]) -> str:
    return max(statuses, key=STATUSES.index)

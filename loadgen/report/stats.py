"""Small, dependency-free statistics for telling a regression from run-to-run noise.

Comparing one p95 against another says nothing about noise: two clean runs on a shared machine
differ by several percent. The per-second series give many samples of each run, so a rank test can
ask whether the new run's seconds are *consistently* worse. Mann-Whitney U needs no normality
assumption (latency never is normal) and is robust to a few outlier seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Below this many seconds on either side a verdict would be a coin toss.
MIN_SAMPLES = 8


@dataclass(frozen=True, slots=True)
class RankTest:
    """One-sided Mann-Whitney U: is ``b`` stochastically greater than ``a``?

    ``p_value`` comes from the normal approximation with tie and continuity corrections (good from
    about 8 samples a side). ``effect`` is P(b > a) + P(b = a)/2: 0.5 means no shift.
    """

    u: float
    z: float
    p_value: float
    effect: float
    n_a: int
    n_b: int


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Average ranks (1-based) and the tie term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    return ranks, ties


def mann_whitney_greater(a: Sequence[float], b: Sequence[float]) -> RankTest:
    """Test H1 "b tends to be larger than a" against H0 "same distribution"."""
    n_a, n_b = len(a), len(b)
    if n_a == 0 or n_b == 0:
        raise ValueError("mann_whitney_greater needs two non-empty samples")
    ranks, ties = _ranks([*a, *b])
    u_b = sum(ranks[n_a:]) - n_b * (n_b + 1) / 2
    n = n_a + n_b
    mean = n_a * n_b / 2
    var = n_a * n_b / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return RankTest(u_b, 0.0, 1.0, 0.5, n_a, n_b)
    z = (u_b - mean - 0.5) / math.sqrt(var)
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return RankTest(u_b, z, min(1.0, p), u_b / (n_a * n_b), n_a, n_b)


def bootstrap_interval(a: Sequence[float], b: Sequence[float], stat: Callable[[Sequence[float]], float], *,
                       rounds: int = 1000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``stat(b) / stat(a) - 1`` (the relative change).

    Resamples seconds with replacement; seeded, so the same runs always give the same interval.
    """
    rng = random.Random(seed)
    changes = []
    for _ in range(rounds):
        ra = [a[rng.randrange(len(a))] for _ in a]
        rb = [b[rng.randrange(len(b))] for _ in b]
        base = stat(ra)
        changes.append(stat(rb) / base - 1 if base else (0.0 if stat(rb) == 0 else math.inf))
    changes.sort()
    tail = (1 - confidence) / 2
    low = changes[int(tail * (rounds - 1))]
    high = changes[int((1 - tail) * (rounds - 1))]
    return low, high


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

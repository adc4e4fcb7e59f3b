"""The one way every bench measures: subjects interleaved round by round, verdicts on paired ratios only.

A shared, loaded machine drifts by tens of percent within a minute, so two subjects run one after the
other compare the machine, not the code. Here each round runs every subject once, in the given order on
even rounds and the reverse on odd ones (ABBA...), and a ratio is taken inside each round: a burst of
load hits both sides of a pair alike. The verdict is the median of those paired ratios against a
target; absolute rates are printed as context only, since they move with the machine.

``finish`` prints the bench's table and, when ``BENCH_RESULTS`` names a file (``bench/run_all.py``
sets it), appends each ratio to it as one JSON line for the summary table.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Target:
    """A ratio's bound: ``>= value`` (higher is better), or ``<= value`` when ``at_most``."""

    value: float
    at_most: bool = False

    def met(self, ratio: float) -> bool:
        return ratio <= self.value if self.at_most else ratio >= self.value

    def __str__(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.value:g}"


@dataclass(frozen=True)
class Ratio:
    """One paired comparison of a bench: median and spread of the per-round ratios, and its verdict."""

    bench: str
    name: str
    median: float
    low: float
    high: float
    rounds: int
    target: Target | None
    context: str  # the absolute medians of both sides, for reading only

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "met" if self.target.met(self.median) else "MISSED"


def number(value: float) -> str:
    """A measurement as people read it: 83,812 or 0.0523."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def interleave(subjects: Mapping[str, Callable[[], float]], rounds: int, unit: str, *,
               warmup: bool = True) -> dict[str, list[float]]:
    """Call every subject once per round (forward order on even rounds, reversed on odd); each returns
    its measurement in ``unit``. Prints every round; returns the measurements by subject name."""
    names = list(subjects)
    if warmup:
        for name in names:
            subjects[name]()
    values: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            values[name].append(subjects[name]())
        cells = ", ".join(f"{name} {number(values[name][-1])}" for name in order)
        print(f"  round {i + 1}/{rounds}: {cells} {unit}", flush=True)
    return values


def interleave_steps(subjects: Mapping[str, Callable[[int], float]], rounds: int, steps: int, unit: str,
                     clock: Callable[[], float]) -> dict[str, list[float]]:
    """``interleave`` at a finer grain: within a round the subjects take turns step by step (``step(i)``
    does a small unit of work, a few ms, and returns how much it did), each step timed on ``clock``, so
    the machine's drift of a second or two falls on every subject alike, not on whichever ran then.
    A round's measurement is the work over the clock time its steps took together."""
    names = list(subjects)
    values: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds + 1):  # round 0 warms up and is not kept
        done = dict.fromkeys(names, 0.0)
        took = dict.fromkeys(names, 0.0)
        for i in range(steps):
            for name in names[i % len(names):] + names[:i % len(names)]:  # each subject first in turn
                start = clock()
                done[name] += subjects[name](i)
                took[name] += clock() - start
        if r:
            for name in names:
                values[name].append(done[name] / took[name])
            cells = ", ".join(f"{name} {number(values[name][-1])}" for name in names)
            print(f"  round {r}/{rounds}: {cells} {unit}", flush=True)
    return values


def ratio(bench: str, name: str, values: Mapping[str, list[float]], ours: str, reference: str,
          target: Target | None, unit: str) -> Ratio:
    """The median and spread of ``ours / reference`` taken round by round; prints one line."""
    pairs = [a / b for a, b in zip(values[ours], values[reference], strict=True) if b]
    median = statistics.median(pairs) if pairs else float("nan")
    context = (f"{ours} {number(statistics.median(values[ours]))} {unit}, "
               f"{reference} {number(statistics.median(values[reference]))} {unit}")
    result = Ratio(bench, name, median, min(pairs, default=median), max(pairs, default=median), len(pairs),
                   target, context)
    print(f"{name}: {median:.3g} (median of {len(pairs)} paired ratios, spread {result.low:.3g}..{result.high:.3g})"
          f"  target {target or '-'}: {result.verdict}   [{context}]", flush=True)
    return result


def finish(results: list[Ratio]) -> int:
    """Print the bench's verdicts, record them for ``run_all.py``; 1 if a target was missed."""
    print(f"\n{'ratio':<44} {'median':>8} {'spread':>15} {'target':>8}  verdict")
    for r in results:
        print(f"{r.name:<44} {r.median:>8.3g} {f'{r.low:.3g}..{r.high:.3g}':>15} {r.target or '-'!s:>8}  "
              f"{r.verdict}")
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            for r in results:
                out.write(json.dumps(asdict(r)) + "\n")
    return 1 if any(r.verdict == "MISSED" for r in results) else 0

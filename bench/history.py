"""Change-point detection on run histories: how often a 10% p95 step is found, how often noise alarms.

The series are made of real recorder data: a pool of synthetic runs (``tests/synthetic_run.py``, its
default shape: 60 s at 40 create/s with a ramp and a short server stall;
two worker Recorders, lognormal service times, HDR histograms merged as the Locust master does, the same
report.json model ``loadgen run`` writes) gives the create endpoint's p95 of each run. A series draws
``--runs`` of them (with replacement) and multiplies each by a per-run "machine" factor (lognormal,
``--noise`` 3%: the drift of a shared machine between runs, which the recorder alone does not have);
a stepped series multiplies the runs from a random position (run 8 to runs-8) by 1.10. Scaling the
p95 scales the run's service times (``SyntheticRun.latency_factor`` does exactly that), so this equals
re-running the recorder with the shift, at a fraction of the time.

Each series goes through :func:`loadgen.report.changes.change_points`, the call ``loadgen history
check`` makes (Apache Otava, p < 0.001). Detected: a worsening change point within 2 runs of the step.
False alarm: any change point in a stationary series. Also printed (context only): how often the step
is located exactly, and how often a slip of 1% per run over the last 20 runs is reported.

    .venv/bin/python bench/history.py [--series 200] [--runs 30] [--noise 0.03] [--pool 60] [--seed 1]
                                      [--duration 60] [--rate 40]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

from _paired import Ratio, Target, finish

from loadgen.report.changes import change_points
from loadgen.report.model import make_report
from loadgen.report.recorder import Recorder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from synthetic_run import SyntheticRun, synthetic_meta, synthetic_recorders

STEP = 0.10
SLIP = 0.01


def pool(size: int, duration_s: int, rate: float) -> list[float]:
    """The create p95 (ms) of ``size`` synthetic runs (seeds 0..size-1), the report tests' run otherwise."""
    values = []
    for seed in range(size):
        spec = SyntheticRun(duration_s=duration_s, ramp_s=min(10, duration_s // 4), create_rate=rate,
                            stall_at=duration_s * 0.55, seed=seed)
        master = Recorder.from_snapshots(w.snapshot() for w in synthetic_recorders(spec))
        p95 = make_report(master, synthetic_meta(spec, f"pool-{seed}")).endpoints["create"].latency.service.p95
        assert p95 is not None
        values.append(p95)
    return values


def series(rng: random.Random, p95s: list[float], runs: int, noise: float, shift: list[float]) -> list[float]:
    return [rng.choice(p95s) * rng.lognormvariate(0, noise) * shift[i] for i in range(runs)]


def wilson(hits: int, n: int) -> tuple[float, float]:
    """95% Wilson interval of a rate: the spread printed with it."""
    if n == 0:
        return 0.0, 1.0
    p, z = hits / n, 1.96
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def rate(name: str, hits: int, n: int, target: Target | None, context: str) -> Ratio:
    low, high = wilson(hits, n)
    result = Ratio("history.py", name, hits / n, low, high, n, target, context)
    print(f"{name}: {hits}/{n} = {hits / n:.3f} (95% interval {low:.3f}..{high:.3f})  target {target or '-'}: "
          f"{result.verdict}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--noise", type=float, default=0.03)
    parser.add_argument("--pool", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=int, default=60, help="seconds of each pool run")
    parser.add_argument("--rate", type=float, default=40.0, help="create/s of each pool run")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    p95s = pool(args.pool, args.duration, args.rate)
    spread = statistics.stdev(p95s) / statistics.mean(p95s)
    print(f"pool: {args.pool} runs of {args.duration} s at {args.rate:g} create/s, create p95 median "
          f"{statistics.median(p95s):.2f} ms, run-to-run CV {spread:.1%} "
          f"(recorder alone) + machine noise {args.noise:.0%}", flush=True)
    found = exact = alarms = slips = 0
    for _ in range(args.series):
        at = rng.randint(8, args.runs - 8)
        stepped = series(rng, p95s, args.runs, args.noise, [1 + STEP * (i >= at) for i in range(args.runs)])
        near = [i for i, _, before, after in change_points(stepped) if after > before and abs(i - at) <= 2]
        found += bool(near)
        exact += at in near
        alarms += bool(change_points(series(rng, p95s, args.runs, args.noise, [1.0] * args.runs)))
        start = args.runs - 20
        slip = [1 + SLIP * max(0, i - start + 1) for i in range(args.runs)]
        slipping = series(rng, p95s, args.runs, args.noise, slip)
        slips += any(after > before for _, _, before, after in change_points(slipping))
    context = (f"{args.series} series of {args.runs} runs ({args.duration} s at {args.rate:g}/s), p95 CV {spread:.1%} "
               f"+ {args.noise:.0%} machine noise")
    return finish([
        rate("10% p95 step found (within 2 runs)", found, args.series, Target(0.95), context),
        rate("false alarm on a stationary series", alarms, args.series, Target(0.02, at_most=True), context),
        rate("10% p95 step located at its run exactly", exact, args.series, None, context),
        rate("1%/run slip over 20 runs reported", slips, args.series, None, context),
    ])


if __name__ == "__main__":
    sys.exit(main())

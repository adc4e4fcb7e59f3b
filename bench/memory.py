"""Memory of a long run: the recorder and the report build of a 30-minute run against a 1-minute one.

A Locust process keeps one Recorder for the whole run (per-second counters and latency buckets per
endpoint), and the report is built from the merged recorder at the end. The whole-run HDR histograms
have a fixed size whatever the number of samples; the per-second data grows with the run's length
(one entry a second per endpoint, at most a few hundred latency buckets each), not with its request
count. Each subject runs in its own child process (peak RSS is per process and never comes back
down), fed by ``tests/synthetic_run.py``'s open-model traffic, the same data the report tests use:
ramp, steady rate, a stall with late and dropped arrivals, failures.

    .venv/bin/python bench/memory.py [--minutes 30] [--rate 100]

Target: every subject, up to 30 minutes at 400 creates/s (825,000 requests), peaks under 200 MB for
recording and for the report build. Memory is not a noisy measure, so the target is absolute; the
growth per minute of run and the effect of four times the traffic are printed as context. Where it
grows: the per-second latency sketches (1% log buckets, up to a few hundred per endpoint a second).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 200.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # kilobytes on Linux


def child(duration_s: int, rate: float) -> None:
    """Record ``duration_s`` of synthetic traffic, then build its report; print the peaks as JSON."""
    sys.path.insert(0, str(ROOT / "tests"))
    from synthetic_run import SyntheticRun, synthetic_meta, synthetic_recorders

    from loadgen.report.build import build_report
    from loadgen.report.recorder import Recorder

    spec = SyntheticRun(duration_s=duration_s, create_rate=rate, bulk_rate=rate / 20, malformed_rate=rate / 10)
    imported = peak_mb()
    workers = synthetic_recorders(spec)
    recorded = peak_mb()
    master = Recorder.from_snapshots(w.snapshot() for w in workers)
    with tempfile.TemporaryDirectory() as folder:
        report = build_report(folder, master, synthetic_meta(spec, "memory"))
        sizes = {name: os.path.getsize(Path(folder) / name) for name in os.listdir(folder)}
    requests = report.summary.requests
    print(json.dumps({"imported": imported, "recorded": recorded, "built": peak_mb(), "requests": requests,
                      "bytes": sizes}))


def measure(duration_s: int, rate: float) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", str(duration_s), "--rate", str(rate)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rate", type=float, default=100.0, help="create requests/s (bulk 1/20, malformed 1/10)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.rate)
        return 0
    long_s = args.minutes * 60
    rows = {"1 min": measure(60, args.rate), f"{args.minutes} min": measure(long_s, args.rate),
            f"{args.minutes} min, 4x rate": measure(long_s, args.rate * 4)}
    print(f"{'run':>16} {'requests':>10} {'after import':>13} {'recording':>10} {'report build':>13}  report files")
    for label, row in rows.items():
        files = ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in sorted(row["bytes"].items()))
        print(f"{label:>16} {row['requests']:>10,} {row['imported']:>10.1f} MB {row['recorded']:>7.1f} MB "
              f"{row['built']:>10.1f} MB  {files}")
    short, long, busy = rows.values()
    for key in ("recorded", "built"):
        print(f"{key}: {(long[key] - short[key]) / (args.minutes - 1):.2f} MB more per minute of run")
    for key, label in (("recorded", "recording"), ("built", "report build")):
        print(f"{label}: 4x the requests over {args.minutes} min = {busy[key] / long[key]:.2f}x the peak RSS")
    missed = [label for label, row in rows.items() if max(row["recorded"], row["built"]) > TARGET_MB]
    print(f"peak RSS under {TARGET_MB:.0f} MB: {'missed by ' + ', '.join(missed) if missed else 'yes, every run'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""A realistic, seeded run folder without Locust or a server: a fixture of the report tests.

It plays an open-model schedule (a ramp stage, then the steady rate) through two worker Recorders
on a fake clock, with lognormal service times, a short server stall (late arrivals, a few drops and
a gap between service and intended-start latency), unique violations and per-slot bulk failures,
then merges them as the Locust master would. ``latency_factor``/``extra_ms`` inject a regression;
``seed`` alone gives run-to-run noise.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from loadgen.errors import Code
from loadgen.ramp import Stage
from loadgen.report.build import build_report
from loadgen.report.document import Report
from loadgen.report.recorder import Recorder
from loadgen.runfolder import RECORDER, Meta, write_meta

#: Median service time (ms) of each endpoint on an unloaded sandbox, and its log-spread.
_BASE_MS = {"create": 3.2, "bulkCreate": 48.0, "malformed": 1.4}
_SIGMA = 0.35


@dataclass(frozen=True)
class SyntheticRun:
    duration_s: int = 60
    ramp_s: int = 10
    create_rate: float = 40.0
    bulk_rate: float = 2.0
    bulk_size: int = 100
    malformed_rate: float = 4.0
    latency_factor: float = 1.0
    extra_ms: float = 0.0
    stall_at: float | None = 34.0
    stall_s: float = 1.2
    workers: int = 2
    cpu: tuple[float, ...] = (46.0, 49.5)
    seed: int = 0
    start: float = 1_764_000_000.0


def _stages(spec: SyntheticRun) -> tuple[Stage, ...]:
    """``loadgen run --stages`` in the main (create) endpoint's units: a linear ramp, then steady."""
    return Stage(spec.ramp_s, spec.create_rate), Stage(spec.duration_s - spec.ramp_s, spec.create_rate)


def _mean_rate(spec: SyntheticRun, rate: float) -> float:
    return rate * (spec.duration_s - spec.ramp_s / 2) / spec.duration_s


def _arrivals(spec: SyntheticRun, rate: float) -> list[float]:
    """Due times of an open model ramping linearly from 0 to ``rate`` over ``ramp_s``, then steady."""
    if rate <= 0:
        return []
    times: list[float] = []
    k = 0
    in_ramp = rate * spec.ramp_s / 2  # arrivals during the ramp
    while True:
        t = math.sqrt(2 * spec.ramp_s * k / rate) if k < in_ramp else spec.ramp_s + (k - in_ramp) / rate
        if t >= spec.duration_s:
            return times
        times.append(t)
        k += 1


def synthetic_recorders(spec: SyntheticRun = SyntheticRun()) -> list[Recorder]:
    """One Recorder per worker, filled with the spec's traffic."""
    rng = random.Random(spec.seed)
    workers = [Recorder(start=spec.start) for _ in range(spec.workers)]
    stall = (spec.stall_at, spec.stall_at + spec.stall_s) if spec.stall_at is not None else None
    for endpoint, rate in (("create", spec.create_rate), ("bulkCreate", spec.bulk_rate),
                           ("malformed", spec.malformed_rate)):
        for n, intended in enumerate(_arrivals(spec, rate)):
            rec = workers[n % spec.workers]
            lag = 0.0
            if stall and stall[0] <= intended < stall[1]:
                if rng.random() < 0.08:
                    rec.record_dropped(endpoint, at=spec.start + intended)
                    continue
                lag = (stall[1] - intended) * 1000
            service = rng.lognormvariate(math.log(_BASE_MS[endpoint]), _SIGMA) * spec.latency_factor + spec.extra_ms
            failure, records = None, 0
            if endpoint == "create":
                roll = rng.random()
                if roll < 0.004:
                    failure = Code.UNIQUE_VIOLATION.label
                elif lag and roll < 0.15:
                    failure = Code.API_LIMIT_ERROR.label
                records = 0 if failure else 1
            elif endpoint == "bulkCreate":
                records = spec.bulk_size - sum(rng.random() < 0.002 for _ in range(spec.bulk_size))
                if rng.random() < 0.01:
                    failure, records = Code.TIMEOUT.label, 0
            elif rng.random() < 0.002:
                failure = f"accepted a bad request (expected {Code.INVALID_ARGUMENT.label})"
            at = spec.start + intended + (lag + service) / 1000
            rec.record(endpoint, service_ms=service, intended_ms=service + lag, ok=failure is None,
                       failure=failure, records=records, at=at)
    for rec in workers:
        rec.end = spec.start + spec.duration_s
    return workers


def synthetic_meta(spec: SyntheticRun, run_id: str) -> Meta:
    """meta.json as loadgen run writes it (host with credentials, which the report must drop)."""
    return Meta(
        run_id=run_id, scenario="mixed", host="http://client:s3cret@127.0.0.1:8765/?token=x",
        targets={name: {"requests_per_s": _mean_rate(spec, rate), "records_per_s": _mean_rate(spec, rate) * size}
                 for name, rate, size in (("create", spec.create_rate, 1),
                                          ("bulkCreate", spec.bulk_rate, spec.bulk_size),
                                          ("malformed", spec.malformed_rate, 0))},
        stages=_stages(spec), duration_s=spec.duration_s, seed=spec.seed, profile="profiles/user.toml",
        schema_fingerprint="3f9a1c0d5e7b", started_at=spec.start, ended_at=spec.start + spec.duration_s,
        workers_cpu={str(i): pct for i, pct in enumerate(spec.cpu)}, versions={"locust": "2.47.0"},
    )


def write_synthetic_run(run_dir: str | os.PathLike[str], spec: SyntheticRun = SyntheticRun(), *,
                        run_id: str | None = None, thresholds: Iterable[str] = ()) -> Report:
    """Write recorder.json and meta.json like a real run (``thresholds`` as ``loadgen run --threshold``), then
    build its reports."""
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    workers = synthetic_recorders(spec)
    master = Recorder.from_snapshots(w.snapshot() for w in workers)
    meta = replace(synthetic_meta(spec, run_id or folder.name), thresholds=tuple(thresholds))
    (folder / RECORDER).write_text(json.dumps(master.snapshot()), encoding="utf-8")
    write_meta(folder, meta)
    return build_report(folder, master, meta)

"""``loadgen capacity``: the highest arrival rate a target sustains within an SLO, found by open-model steps.

A fixed-rate run answers "did 50/s meet the SLO?"; a baseline report asks "what is the most it takes?".
Each step is a real ``loadgen run`` at one constant arrival rate (open model: arrivals do not wait for
answers, so a slow target is not let off by a slower load), with a warm-up left out and the SLO as its
thresholds. The rate doubles from ``start_rate`` until a step fails (or ``max_rate``), then the gap
between the last passing and the first failing rate is bisected down to ``precision``.

A step *fails* when arrivals were dropped (the generator could not even offer the rate), or when an SLO
breach is supported by the step's seconds: the one-sided rank test ``compare`` uses
(:func:`loadgen.report.compare.beyond_limit`, p < 0.01). A breach its seconds do not support is
*noise*: the step is run once more, twice as long, and that verdict stands (noise again fails: the
sustainable rate is one that clearly holds). For bulkCreate, the search runs for each ``--bulk-size``
and the size with the most records/s within the SLO is named.

Guard rails: ``max_rate``, ``max_records`` (records the steps may create in all), ``max_duration``;
Ctrl-C ends the search after the step in hand, keeping (and reporting) the steps done.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loadgen.errors import UsageError
from loadgen.phases import Phases
from loadgen.report.compare import ALPHA, beyond_limit
from loadgen.report.document import Report, Verdict
from loadgen.report.knee import Capacity, Step, write
from loadgen.report.thresholds import describe, parse_thresholds
from loadgen.runner import RunOptions, paced_rates, run
from loadgen.scenarios import BULK_CREATE, BY_NAME, SCENARIOS, main_endpoint

_HIGHER_IS_WORSE = ("<", "<=")
#: Seconds an answer may take before a step runs short of users (and drops arrivals): an open model
#: needs the concurrency of rate x latency, so each step gets users for this much latency at its rate.
ANSWER_BUDGET_S = 2.0


@dataclass(frozen=True)
class CapacityOptions:
    """What ``loadgen capacity`` accepts; ``base`` carries the run options every step shares."""

    base: RunOptions
    slos: tuple[str, ...]
    start_rate: float = 10.0
    max_rate: float = 1000.0
    step_s: float = 30.0
    warmup_s: float = 5.0
    precision: float = 0.10
    max_records: int | None = None
    max_duration: float | None = None
    bulk_sizes: tuple[int, ...] = ()


def _support(report: Report, v: Verdict) -> float | None:
    """The p-value that the seconds are beyond the limit. A whole-run SLO (scope ``all``) can be broken by
    any one endpoint (the slow bulkCreates of a mixed run): each endpoint's seconds are tested and the
    strongest is taken, Bonferroni-corrected for the number tested (None: no endpoint has enough seconds)."""
    scopes = list(report.endpoints) if v.scope == "all" else [v.scope]
    values = [p for scope in scopes if (p := beyond_limit(report, scope, v.metric, v.limit,
                                                          higher_is_worse=v.op in _HIGHER_IS_WORSE)) is not None]
    return min(1.0, min(values) * len(values)) if values else None


def judge(report: Report) -> tuple[str, tuple[str, ...]]:
    """A step's verdict and why: dropped arrivals fail; a breach fails when its seconds support it."""
    if report.summary.dropped:
        return "fail", (f"{report.summary.dropped} arrivals dropped: the rate was not even offered",)
    verdict, reasons = "pass", []
    for v in report.thresholds:
        if v.ok:
            continue
        p = None if v.window_s is not None or v.actual is None else _support(report, v)
        if p is not None and p >= ALPHA:
            verdict = "fail" if verdict == "fail" else "noise"
            reasons.append(f"{v.expression}: {describe(v)}, not supported by the seconds (p={p:.3f})")
        else:
            verdict = "fail"
            support = "" if p is None else f" (p={p:.2g})"
            reasons.append(f"{v.expression}: {describe(v)}{support}")
    return verdict, tuple(reasons)


def _step_options(opts: CapacityOptions, rate: float, bulk_size: int, run_id: str, duration: float,
                  records_left: int | None) -> RunOptions:
    """One step's run: every paced rate scaled so the main endpoint's is ``rate``, the SLOs as thresholds."""
    base = replace(opts.base, bulk_size=bulk_size)
    rates = paced_rates(base)
    main = rates[main_endpoint(list(rates)) or ""]
    scaled: dict[str, Any] = {BY_NAME[name].rate_option or "": value * rate / main for name, value in rates.items()}
    users = max(opts.base.users or 0, math.ceil(rate * ANSWER_BUDGET_S) + 5)
    step: RunOptions = replace(base, **scaled, duration=duration, run_id=run_id, thresholds=opts.slos, stages="",
                               max_records=records_left, phases=Phases(warmup=opts.warmup_s), users=users)
    return step


def check(opts: CapacityOptions) -> str:
    """Refuse bad options in one line; return the endpoint whose rate is searched."""
    if not opts.slos:
        raise UsageError("capacity needs at least one --slo, e.g. 'create.p99<300ms'")
    parse_thresholds(opts.slos)
    if not 0 < opts.start_rate <= opts.max_rate:
        raise UsageError(f"--start-rate must be > 0 and at most --max-rate, got {opts.start_rate:g}")
    if opts.step_s < 10:
        raise UsageError("--step must be at least 10s: a verdict needs 8 whole seconds")
    if not 0.01 <= opts.precision < 1:
        raise UsageError("--precision must be between 1% and 99%")
    paced = SCENARIOS[opts.base.scenario].paced if opts.base.scenario in SCENARIOS else ()
    main = main_endpoint(paced)
    if main is None:
        raise UsageError(f"scenario {opts.base.scenario!r} paces nothing: choose one of {', '.join(SCENARIOS)}")
    if opts.bulk_sizes and BULK_CREATE.name not in paced:
        raise UsageError("--bulk-size sweeps need a scenario that paces bulkCreate (e.g. bulk_create)")
    return main


class _Search:
    """The steps of one search, within the guard rails shared by every bulk size."""

    def __init__(self, opts: CapacityOptions, out: Capacity, endpoint: str,
                 on_step: Callable[[Step], None] | None) -> None:
        self.opts, self.out, self.endpoint, self.on_step = opts, out, endpoint, on_step
        self.started = time.monotonic()
        self.records = 0

    def step(self, rate: float, size: int, duration: float) -> Step | None:
        """Run one step (None: a guard rail stops the search first, or Ctrl-C stopped it)."""
        opts = self.opts
        if opts.max_duration is not None and time.monotonic() - self.started + duration + opts.warmup_s \
                > opts.max_duration:
            self.out.stopped = "max-duration"
            return None
        left = None if opts.max_records is None else opts.max_records - self.records
        per_request = size if self.endpoint == BULK_CREATE.name else 1
        if left is not None and left < rate * per_request * (duration + opts.warmup_s):
            self.out.stopped = "max-records"
            return None
        run_id = f"step-{len(self.out.steps) + 1:02d}-{rate:g}rps" + (f"-x{size}" if opts.bulk_sizes else "")
        result = run(_step_options(opts, rate, size, run_id, duration, left))
        report = result.report
        self.records += result.ledger_count
        # a step Ctrl-C cut short has no verdict: its few seconds would pass or fail it by chance
        verdict, reasons = ("interrupted", ("stopped by Ctrl-C before its end",)) if result.interrupted \
            else judge(report)
        entry = report.endpoints[self.endpoint]
        lat = entry.latency
        step = Step(rate, size, run_id, verdict, reasons, entry.requests_per_s, report.summary.records_per_s,
                    lat.service.p50, lat.service.p95, lat.service.p99, lat.intended.p99, report.summary.error_rate,
                    report.summary.dropped, report.summary.records, report.run.store_records)
        self.out.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)
        if result.interrupted:
            self.out.stopped = "interrupted"
            return None
        return step

    def verdict(self, rate: float, size: int) -> bool | None:
        """Whether ``rate`` holds (a noisy step once more, twice as long); None: the search must stop."""
        step = self.step(rate, size, self.opts.step_s)
        if step is not None and step.verdict == "noise":
            step = self.step(rate, size, 2 * self.opts.step_s)
        return None if step is None else step.verdict == "pass"

    def search(self, size: int) -> None:
        """Exponential steps up, then bisection, for one bulk size."""
        opts = self.opts
        low: float | None = None
        high: float | None = None
        rate = opts.start_rate
        while True:
            held = self.verdict(rate, size)
            if held is None:
                break
            if held:
                low = rate
            else:
                high = rate
            if high is None:
                if rate >= opts.max_rate:
                    self.out.stopped = "max-rate"
                    break
                rate = min(rate * 2, opts.max_rate)
            elif low is None:
                if rate <= opts.start_rate / 8:
                    break      # not even an eighth of the start rate holds
                rate = rate / 2
            elif (high - low) / low <= opts.precision:
                break
            else:
                rate = _round_rate((low + high) / 2)
                if rate in (low, high):
                    break      # the rounded midpoint is a rate already judged: as close as three figures go
        self.out.sustainable[size], self.out.first_failing[size] = low, high


def _round_rate(rate: float) -> float:
    """Three significant figures at every scale: step names and the chart stay readable."""
    return float(f"{rate:.3g}")


def capacity(opts: CapacityOptions, *, capacity_id: str,
             on_step: Callable[[Step], None] | None = None) -> tuple[Capacity, Path]:
    """Search, write ``capacity.json`` and ``capacity.html`` into ``<out>/<capacity_id>``; return the
    result and that folder. Each step is a run folder there (``loadgen cleanup`` works on each)."""
    endpoint = check(opts)
    folder = Path(opts.base.out) / capacity_id
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} already exists: pick another --run-id")
    out = Capacity(capacity_id, opts.slos)
    search = _Search(replace(opts, base=replace(opts.base, out=folder)), out, endpoint, on_step)
    for size in opts.bulk_sizes or (opts.base.bulk_size,):
        search.search(size)
        if out.stopped not in ("done", "max-rate"):
            break
    write(out, folder)
    return out, folder

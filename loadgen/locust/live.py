"""The live view of a run: one typed snapshot that the Capture tab, the console line and ``loadgen run`` read.

Locust's own request stats count requests only. What a Capture load test is judged by (records/s
against the target, records and requests by Capture code, dropped and late arrivals, latency from
the intended start) lives in our :class:`~loadgen.report.recorder.Recorder`. The master (or the only
Locust process) builds a :class:`LiveSnapshot` from its merged recorder once a second; every face
shows that one value, so the web UI's Capture tab, the headless console line, the run folder's
``live.json`` (read by ``loadgen run``) and the final ``report.json`` cannot disagree. Whole-run counts
and percentiles come from the same recorder and the same HDR percentile rule the report uses; the
rates are those of the last few complete seconds.

No Locust import: ``loadgen run`` reads the snapshot in a process that must never import Locust.
"""

from __future__ import annotations

import contextlib
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from loadgen._fields import FieldError, Fields, as_int, as_num, as_str, dict_of, or_null, tuple_of
from loadgen.errors import UsageError
from loadgen.ramp import Schedule
from loadgen.report.recorder import NS_PER_MS, EndpointData, Latency, Recorder
from loadgen.runfolder import read_json

#: Rates are averaged over this many complete seconds.
WINDOW_S = 5
#: Upper bounds (ms) of the latency histograms the metrics endpoint exports, Prometheus-style.
BUCKETS_MS: tuple[float, ...] = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
_opt_num = or_null(as_num)


class LiveFormatError(FieldError):
    """A ``live.json`` this tool cannot read (another version wrote it); the message names the field."""


@dataclass(frozen=True, slots=True)
class Target:
    """A paced endpoint's swarm-wide schedule and the records each of its arrivals sends."""

    schedule: Schedule
    records_per_arrival: int
    #: the part of the schedule's arrivals that are this endpoint's (error_path: create 0.9, malformed 0.1)
    share: float = 1.0


class _Cumulative:
    """An HDR histogram's running counts, in one C-speed pass (a slice and ``accumulate``).

    The library reads percentiles and buckets with a Python call per counts slot, several
    milliseconds each; this runs every second on the load generator, so it reads them all from one
    cumulative list. Percentiles are exactly ``HdrHistogram.get_value_at_percentile``'s, the ones
    report.json shows (tests/locust/test_live.py pins it).
    """

    def __init__(self, latency: Latency) -> None:
        self.latency = latency
        hist = latency.hist
        self.running = list(accumulate(hist.counts[0:hist.counts_len]))

    def percentile_ms(self, percentile: float) -> float | None:
        hist = self.latency.hist
        if not hist.get_total_count():
            return None
        index = bisect_left(self.running, hist.get_target_count_at_percentile(percentile))
        value = float(hist.get_highest_equivalent_value(hist.get_value_from_index(index))) / NS_PER_MS
        # kept within the exact min and max, as report.model.histogram_block does with HDR's bucket tops
        return min(max(value, self.latency.min_ms), self.latency.max_ms)

    def buckets(self) -> Buckets:
        """The counts up to each bound's HDR slot (the slot's top is within 0.1% of the bound)."""
        hist, last = self.latency.hist, len(self.running) - 1
        return Buckets(tuple(self.running[min(hist.get_counts_array_index(round(bound * NS_PER_MS)), last)]
                             for bound in BUCKETS_MS), hist.get_total_count(), self.latency.total_ms)


@dataclass(frozen=True, slots=True)
class Buckets:
    """A latency histogram as Prometheus exports one: cumulative counts at ``BUCKETS_MS``, total count, sum."""

    cumulative: tuple[int, ...]
    count: int
    sum_ms: float

    def to_json(self) -> dict[str, object]:
        return {"cumulative": list(self.cumulative), "count": self.count, "sum_ms": self.sum_ms}

    @classmethod
    def from_json(cls, data: object, where: str) -> Buckets:
        o = Fields(data, where)
        return cls(o.get("cumulative", tuple_of(as_int)), o.get("count", as_int), o.get("sum_ms", as_num))


@dataclass(frozen=True, slots=True)
class LiveEndpoint:
    """One endpoint (request name) so far: whole-run counts and percentiles, and its recent rates."""

    name: str
    requests: int
    ok: int
    records: int
    failures: dict[str, int]          # failed requests by Capture code label ("361 unique_violation")
    record_failures: dict[str, int]   # failed records of a batch by label (bulkCreate)
    dropped: int
    late: int
    requests_per_s: float             # over the last WINDOW_S complete seconds
    records_per_s: float
    target_requests_per_s: float | None   # None: not a paced endpoint
    target_records_per_s: float | None
    service_p95_ms: float | None      # whole run so far, as report.json computes it
    intended_p99_ms: float | None
    service: Buckets
    intended: Buckets

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "requests": self.requests, "ok": self.ok, "records": self.records,
                "failures": dict(self.failures), "record_failures": dict(self.record_failures),
                "dropped": self.dropped, "late": self.late, "requests_per_s": self.requests_per_s,
                "records_per_s": self.records_per_s, "target_requests_per_s": self.target_requests_per_s,
                "target_records_per_s": self.target_records_per_s, "service_p95_ms": self.service_p95_ms,
                "intended_p99_ms": self.intended_p99_ms, "service": self.service.to_json(),
                "intended": self.intended.to_json()}

    @classmethod
    def from_json(cls, data: object, where: str) -> LiveEndpoint:
        o = Fields(data, where)
        return cls(o.get("name", as_str), o.get("requests", as_int), o.get("ok", as_int), o.get("records", as_int),
                   o.get("failures", dict_of(as_int)), o.get("record_failures", dict_of(as_int)),
                   o.get("dropped", as_int), o.get("late", as_int), o.get("requests_per_s", as_num),
                   o.get("records_per_s", as_num), o.get("target_requests_per_s", _opt_num),
                   o.get("target_records_per_s", _opt_num), o.get("service_p95_ms", _opt_num),
                   o.get("intended_p99_ms", _opt_num), o.get("service", Buckets.from_json),
                   o.get("intended", Buckets.from_json))


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """The whole swarm at one moment (the master's merged view in a distributed run)."""

    run_id: str
    state: str            # Locust's runner state: "running", "stopped"...
    at: float             # epoch seconds
    elapsed_s: float
    workers: int
    in_flight: int
    endpoints: tuple[LiveEndpoint, ...]
    #: seconds of ``--warmup`` still to go: the counts (errors, dropped...) start after it, the rates do not
    warmup_left_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.endpoints)

    @property
    def records(self) -> int:
        return sum(e.records for e in self.endpoints)

    @property
    def dropped(self) -> int:
        return sum(e.dropped for e in self.endpoints)

    @property
    def late(self) -> int:
        return sum(e.late for e in self.endpoints)

    @property
    def failures(self) -> Counter[str]:
        return sum((Counter(e.failures) for e in self.endpoints), Counter())

    @property
    def requests_per_s(self) -> float:
        return sum(e.requests_per_s for e in self.endpoints)

    @property
    def records_per_s(self) -> float:
        return sum(e.records_per_s for e in self.endpoints)

    def target(self, field: str) -> float | None:
        """The summed ``target_requests_per_s`` or ``target_records_per_s`` of the paced endpoints."""
        values = [getattr(e, field) for e in self.endpoints if getattr(e, field) is not None]
        return sum(values) if values else None

    def _against(self, target_field: str, field: str) -> str:
        """The paced endpoints' rate over their target, and what unpaced tasks add beside it (``+4.0
        unpaced``): a locustfile's own unpaced requests must not read as an overshoot of the target."""
        target = self.target(target_field)
        if target is None:
            return _rate(getattr(self, field), None)
        paced = sum(getattr(e, field) for e in self.endpoints if getattr(e, target_field) is not None)
        other = getattr(self, field) - paced
        return _rate(paced, target) + (f" (+{other:.1f} unpaced)" if other >= 0.05 else "")

    def to_json(self) -> dict[str, object]:
        return {"run_id": self.run_id, "state": self.state, "at": self.at, "elapsed_s": self.elapsed_s,
                "workers": self.workers, "in_flight": self.in_flight,
                "endpoints": [e.to_json() for e in self.endpoints], "warmup_left_s": self.warmup_left_s}

    @classmethod
    def from_json(cls, data: object, source: str = "live.json") -> LiveSnapshot:
        try:
            o = Fields(data, "", defaults={"warmup_left_s": 0.0})  # a live.json from before it
            return cls(o.get("run_id", as_str), o.get("state", as_str), o.get("at", as_num),
                       o.get("elapsed_s", as_num), o.get("workers", as_int), o.get("in_flight", as_int),
                       o.get("endpoints", tuple_of(LiveEndpoint.from_json)), o.get("warmup_left_s", as_num))
        except UsageError as exc:
            raise LiveFormatError(f"{source}: {exc}") from None

    def line(self, width: int = 0) -> str:
        """One compact line: elapsed, req/s and records/s against target, errors by code, p95, dropped, late.

        ``width`` (0: no limit) shortens it, errors last to go: on an 80-column terminal the error
        labels shrink to their Capture code ("361 x12") before anything about failures is cut.
        """
        p95 = _worst(self, "service_p95_ms")
        warmup = f"  warm-up {math.ceil(self.warmup_left_s)}s left" if self.warmup_left_s > 0 else ""
        head = (f"{self.elapsed_s:4.0f}s{warmup}  req/s {self._against('target_requests_per_s', 'requests_per_s')}"
                f"  rec/s {self._against('target_records_per_s', 'records_per_s')}")
        tail = [f"p95 {_ms(p95)}", f"dropped {self.dropped}", f"late {self.late}", f"in flight {self.in_flight}"]
        failures = self.failures
        text = ""
        for short in (False, True):
            errors = ", ".join([f"errors {sum(failures.values())}",
                                *(f"{_label(label, short)} x{n}" for label, n in failures.most_common())])
            text = "  ".join([head, errors, *tail])
            if not width or len(text) <= width:
                return text
        while tail and len(text) > width:
            tail.pop()
            text = "  ".join([head, errors, *tail])
        return text


@dataclass(frozen=True, slots=True)
class WorkerLive:
    """What a worker adds to its stats report for the live view: what the merged recorder cannot tell.

    ``origin`` is the epoch time its pacers' schedule began (after its set-up), None without pacers.
    """

    in_flight: int
    record_failures: dict[str, dict[str, int]]
    origin: float | None

    def to_json(self) -> dict[str, object]:
        return {"in_flight": self.in_flight, "record_failures": self.record_failures, "origin": self.origin}

    @classmethod
    def from_json(cls, data: object, where: str = "loadgen_live") -> WorkerLive:
        o = Fields(data, where)
        return cls(o.get("in_flight", as_int), o.get("record_failures", dict_of(dict_of(as_int))),
                   o.get("origin", _opt_num))


def merge_workers(parts: Iterable[WorkerLive]) -> WorkerLive:
    """The sum of the workers' parts (each is cumulative: the master keeps the latest of each worker);
    the schedule began with the first worker's."""
    in_flight, failures, origins = 0, dict[str, Counter[str]](), []
    for part in parts:
        in_flight += part.in_flight
        for name, counts in part.record_failures.items():
            failures.setdefault(name, Counter()).update(counts)
        if part.origin is not None:
            origins.append(part.origin)
    return WorkerLive(in_flight, {name: dict(counts) for name, counts in failures.items()}, min(origins, default=None))


#: The Capture tab's columns (key, title); keys without underscores, which the web UI would camel-case.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Endpoint"), ("requests", "Requests"), ("reqs", "Req/s (target)"), ("records", "Records"),
    ("recs", "Records/s (target)"), ("failures", "Failed requests by code"),
    ("failedrecords", "Failed records by code"), ("dropped", "Dropped"), ("late", "Late"),
    ("p95", "Service p95 ms"), ("ip99", "Intended-start p99 ms"),
)


def table_rows(snap: LiveSnapshot) -> list[dict[str, str | int]]:
    """The Capture tab's rows: one per endpoint, then the total (whose latencies are the endpoints' worst)."""
    rows: list[dict[str, str | int]] = [
        {"name": e.name, "requests": e.requests, "reqs": _rate(e.requests_per_s, e.target_requests_per_s),
         "records": e.records, "recs": _rate(e.records_per_s, e.target_records_per_s),
         "failures": _counts(e.failures), "failedrecords": _counts(e.record_failures), "dropped": e.dropped,
         "late": e.late, "p95": _ms(e.service_p95_ms, unit=""), "ip99": _ms(e.intended_p99_ms, unit="")}
        for e in snap.endpoints]
    rows.append({"name": f"Total ({snap.state}, {snap.elapsed_s:.0f}s, {snap.in_flight} in flight)",
                 "requests": snap.requests,
                 "reqs": _rate(snap.requests_per_s, snap.target("target_requests_per_s")), "records": snap.records,
                 "recs": _rate(snap.records_per_s, snap.target("target_records_per_s")),
                 "failures": _counts(snap.failures),
                 "failedrecords": _counts(sum((Counter(e.record_failures) for e in snap.endpoints), Counter())),
                 "dropped": snap.dropped, "late": snap.late, "p95": _ms(_worst(snap, "service_p95_ms"), unit=""),
                 "ip99": _ms(_worst(snap, "intended_p99_ms"), unit="")})
    return rows


def _worst(snap: LiveSnapshot, field: str) -> float | None:
    return max((v for e in snap.endpoints if (v := getattr(e, field)) is not None), default=None)


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{label}: {n}" for label, n in Counter(counts).most_common()) or "-"


class LiveFile:
    """``live.json`` as ``loadgen run`` polls it: read again only when rewritten, the last good one kept.

    Locust's master rewrites the file once a second with an atomic replace, so a read never sees half
    of it; a missing file (Locust still starting) or one this version cannot read gives the last
    snapshot read, or None.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last: LiveSnapshot | None = None
        self._mtime: int | None = None

    def read(self) -> LiveSnapshot | None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return self.last
        if mtime != self._mtime:
            self._mtime = mtime
            with contextlib.suppress(UsageError):
                self.last = LiveSnapshot.from_json(read_json(self.path), str(self.path))
        return self.last


def _rate(achieved: float, target: float | None) -> str:
    return f"{achieved:.1f}" if target is None else f"{achieved:.1f}/{target:.1f}"


def _ms(value: float | None, unit: str = "ms") -> str:
    return "-" if value is None else f"{value:.3g}{unit}"


def _label(label: str, short: bool) -> str:
    """A failure label, or only its leading Capture code or HTTP status when space is short."""
    if not short:
        return label
    first, _, rest = label.partition(" ")
    if first.isdigit():
        return first
    if first == "HTTP" and rest.split(" ")[0].isdigit():
        return f"HTTP{rest.split(' ')[0]}"
    return label[:12]


def build_snapshot(recorder: Recorder, *, run_id: str, state: str, now: float, started_at: float,
                   targets: Mapping[str, Target], record_failures: Mapping[str, Mapping[str, int]],
                   workers: int, in_flight: int, lag_s: int, final: bool = False) -> LiveSnapshot:
    """The snapshot of a cumulative (or merged) recorder at ``now``.

    ``targets`` are the paced endpoints' schedules, ``started_at`` their origin (epoch seconds). While
    the test runs, rates are those of the last ``WINDOW_S`` complete seconds, ``lag_s`` being how many
    recent seconds may still be incomplete (1 in a local run; a master waits for the workers' next
    stats report). Once it is over (``final``), they are the run's means up to its last answer.
    """
    endpoints = []
    for name in list(recorder.endpoints) + [name for name in targets if name not in recorder.endpoints]:
        data = recorder.endpoints.get(name) or EndpointData()
        if final:
            t0, t1 = 0.0, max(0.0, recorder.end - started_at)
            requests, records = data.requests, data.records
        else:
            end = math.floor(now) - lag_s
            # whole seconds after the origin only: the schedule's first second is partial, and a window of a
            # fraction of a second is all edge (one 100-record batch due or not in it swung rec/s by hundreds)
            first = min(end, max(end - WINDOW_S, math.ceil(started_at)))
            t0, t1 = first - started_at, end - started_at
            requests = records = 0
            for second in range(first, end):
                sec = data.seconds.get(second)
                if sec is not None:
                    requests += sec.requests
                    records += sec.records
        span = t1 - t0
        target = targets.get(name)
        due = None if target is None else (
            # whole arrivals, as the report counts them: a bulkCreate arrival is 100 records or none
            (target.schedule.arrivals_by(t1) - target.schedule.arrivals_by(t0)) * target.share / span
            if span > 0 else 0.0)
        service, intended = _Cumulative(data.service), _Cumulative(data.intended)
        endpoints.append(LiveEndpoint(
            name=name, requests=data.requests, ok=data.ok, records=data.records, failures=dict(data.failures),
            record_failures=dict(record_failures.get(name, {})), dropped=data.dropped, late=data.late,
            requests_per_s=requests / span if span > 0 else 0.0, records_per_s=records / span if span > 0 else 0.0,
            target_requests_per_s=due,
            target_records_per_s=None if due is None or target is None else due * target.records_per_arrival,
            service_p95_ms=service.percentile_ms(95.0), intended_p99_ms=intended.percentile_ms(99.0),
            service=service.buckets(), intended=intended.buckets()))
    warmup_left = 0.0 if final or recorder.measure_from is None else max(0.0, recorder.measure_from - now)
    return LiveSnapshot(run_id=run_id, state=state, at=now, elapsed_s=max(0.0, now - started_at), workers=workers,
                        in_flight=in_flight, endpoints=tuple(endpoints), warmup_left_s=warmup_left)

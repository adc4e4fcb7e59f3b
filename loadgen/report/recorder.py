"""What every Locust worker records, in a form the master can merge exactly.

Two latencies per request go into HDR histograms (3 significant figures, values in nanoseconds so a
0.3 ms loopback call keeps its precision): the *service* time the server took, and the time from the
*intended* start the pacer planned. The gap between them is coordinated omission: when the generator
falls behind, the service time looks fine while users would have waited.

Besides the whole-run histograms, each wall-clock second (keyed by the absolute epoch second, so two
workers' seconds line up without agreeing on a start) keeps counts and a small log-bucket sketch
(1% relative accuracy). Those per-second series feed the charts and the noise-aware comparison.

Each process also keeps, per second, its peak and last number of requests in flight (``busy``, keyed
by the process's ``source`` so a worker's consecutive deltas merge by max, and workers add up): with
the run's ``--users`` it tells "every user was busy" from "the generator was short of CPU".

Snapshots are plain JSON (histograms base64 HDR "histoblobs"), so they travel in Locust worker
messages and land in ``recorder.json`` unchanged.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen._fast import hdr
from loadgen.errors import RuntimeFailure, UsageError

#: Version tag of :meth:`Recorder.snapshot`; a merge refuses anything else.
SNAPSHOT_FORMAT = "loadgen-recorder/1"

NS_PER_MS = 1_000_000
#: HDR range: 1 ns to 1 hour. Longer latencies are clamped to the top (and counted as such).
HIGHEST_NS = 3_600 * 1_000 * NS_PER_MS
SIGNIFICANT_FIGURES = 3
#: A request that started this much later than its intended start counts as a late arrival.
DEFAULT_LATE_MS = 100.0

# Per-second sketch: bucket i holds values in (GAMMA**(i-1), GAMMA**i] ms; the representative value
# 2*GAMMA**i/(GAMMA+1) is within ALPHA of any value in the bucket.
ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
_FLOOR_MS = 1e-3


def new_histogram() -> HdrHistogram:
    """An empty latency histogram with the range and precision every recorder shares."""
    return HdrHistogram(1, HIGHEST_NS, SIGNIFICANT_FIGURES)


#: ``hist.record_value(ns)`` in one call instead of six: ``Latency.add`` runs twice per request.
_record = hdr.recorder_for(new_histogram())


def decode_histogram(blob: str) -> HdrHistogram:
    """Decode a base64 histoblob; a corrupt one is a usage error (a damaged run folder)."""
    try:
        hist = new_histogram()
        if blob:
            hist.decode_and_add(blob.encode("ascii"))
        return hist
    except Exception as exc:  # hdrh raises zlib, binascii and its own errors alike
        raise RuntimeFailure(f"corrupt latency histogram in recorder data: {exc}") from exc


def sketch_index(ms: float) -> int:
    """Log bucket of a latency in ms (1% relative accuracy)."""
    return math.ceil(math.log(max(ms, _FLOOR_MS)) / _LOG_GAMMA)


def sketch_value(index: int) -> float:
    """Representative latency in ms of a sketch bucket."""
    return 2 * GAMMA**index / (GAMMA + 1)


def sketch_quantile(sketch: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of a sketch by nearest rank, or None when it is empty."""
    total = sum(sketch.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(sketch):
        seen += sketch[index]
        if seen >= rank:
            return sketch_value(index)
    return sketch_value(max(sketch))


@dataclass
class Latency:
    """One latency kind of one endpoint: the HDR histogram plus exact sum, min and max in ms."""

    hist: HdrHistogram = field(default_factory=new_histogram)
    total_ms: float = 0.0
    min_ms: float = math.inf
    max_ms: float = 0.0
    clamped: int = 0

    def add(self, ms: float) -> None:
        ns = round(ms * NS_PER_MS)
        if ns > HIGHEST_NS:
            ns = HIGHEST_NS
            self.clamped += 1
        elif ns < 1:
            ns = 1
        _record(self.hist, ns)
        self.total_ms += ms
        if ms < self.min_ms:  # comparisons, not min()/max(): this runs twice per request
            self.min_ms = ms
        if ms > self.max_ms:
            self.max_ms = ms

    def to_json(self) -> dict[str, Any]:
        count = self.hist.get_total_count()
        return {"hdr": self.hist.encode().decode("ascii") if count else "", "sum_ms": self.total_ms,
                "min_ms": self.min_ms if count else None, "max_ms": self.max_ms, "clamped": self.clamped}

    def merge_json(self, data: Mapping[str, Any]) -> None:
        if data.get("hdr"):
            self.hist.add(decode_histogram(data["hdr"]))
        self.total_ms += float(data.get("sum_ms", 0.0))
        if data.get("min_ms") is not None:
            self.min_ms = min(self.min_ms, float(data["min_ms"]))
        self.max_ms = max(self.max_ms, float(data.get("max_ms", 0.0)))
        self.clamped += int(data.get("clamped", 0))


@dataclass
class Second:
    """Counts of one endpoint in one wall-clock second."""

    requests: int = 0
    records: int = 0
    dropped: int = 0
    late: int = 0
    sum_ms: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    service: Counter[int] = field(default_factory=Counter)
    intended: Counter[int] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {"n": self.requests, "r": self.records, "d": self.dropped, "l": self.late, "s": self.sum_ms,
                "f": dict(self.failures), "lat": {str(k): v for k, v in self.service.items()},
                "ilat": {str(k): v for k, v in self.intended.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Second:
        return cls(int(data.get("n", 0)), int(data.get("r", 0)), int(data.get("d", 0)), int(data.get("l", 0)),
                   float(data.get("s", 0.0)), Counter({str(k): int(v) for k, v in data.get("f", {}).items()}),
                   Counter({int(k): int(v) for k, v in data.get("lat", {}).items()}),
                   Counter({int(k): int(v) for k, v in data.get("ilat", {}).items()}))

    def add(self, other: Second) -> None:
        """Another second's counts into this one: a worker's into the master's, or seconds into a window."""
        self.requests += other.requests
        self.records += other.records
        self.dropped += other.dropped
        self.late += other.late
        self.sum_ms += other.sum_ms
        self.failures.update(other.failures)
        self.service.update(other.service)
        self.intended.update(other.intended)

    def merge_json(self, data: Mapping[str, Any]) -> None:
        self.add(Second.from_json(data))


@dataclass
class EndpointData:
    """Everything recorded for one endpoint."""

    requests: int = 0
    ok: int = 0
    records: int = 0
    dropped: int = 0
    late: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    service: Latency = field(default_factory=Latency)
    intended: Latency = field(default_factory=Latency)
    seconds: dict[int, Second] = field(default_factory=dict)
    #: a metric of the scenario's own (``capture.measure``), not a request: the run's totals leave it out
    measure: bool = False

    def second(self, epoch_second: int) -> Second:
        sec = self.seconds.get(epoch_second)
        if sec is None:
            sec = self.seconds[epoch_second] = Second()
        return sec


class Recorder:
    """Latency histograms and per-second counts of one process; mergeable across workers.

    ``start`` is the run's epoch start (defaults to now); it only anchors the report's time axis.
    Not thread-safe by design: a Locust worker is one gevent-scheduled thread.
    """

    def __init__(self, start: float | None = None, *, late_ms: float = DEFAULT_LATE_MS, source: str = "0") -> None:
        self.start = time.time() if start is None else start
        self.end = self.start
        self.late_ms = late_ms
        self.endpoints: dict[str, EndpointData] = {}
        #: the process whose in-flight counts :meth:`in_flight` records (a worker's index)
        self.source = source
        #: source -> epoch second -> (peak, last) requests in flight during that second
        self.busy: dict[str, dict[int, tuple[int, int]]] = {}
        #: epoch end of the warm-up: a request due (its intended start) before it goes to the per-second data
        #: only (the charts draw it), not to the whole-run counts and histograms the summary and gates read; one
        #: sent in the warm-up and answered after is still the warm-up's, as its arrival was
        self.measure_from: float | None = None
        #: epoch start of the arrival schedule (the earliest process's): where the report lays the schedule
        #: the run's targets come from on the recorded seconds
        self.schedule_from: float | None = None
        #: epoch moment the run stopped taking arrivals before its schedule ended (``--max-records`` spent,
        #: Ctrl-C, an abort gate; the first process's: from then on the swarm no longer served its schedule,
        #: a worker whose budget share ran out first left its arrivals unsent): the report's measured period
        #: ends there, so the arrivals due while the last answers came in are not counted as offered and missed
        self.stop_from: float | None = None

    def endpoint(self, name: str) -> EndpointData:
        """The data of one endpoint, created empty on first use."""
        data = self.endpoints.get(name)
        if data is None:
            if not name or not isinstance(name, str):
                raise UsageError(f"recorder: bad endpoint name {name!r}")
            data = self.endpoints[name] = EndpointData()
        return data

    def _second(self, data: EndpointData, moment: float) -> Second:
        self.end = max(self.end, moment)
        return data.second(math.floor(moment))

    def warming_up(self, moment: float) -> bool:
        return self.measure_from is not None and moment < self.measure_from

    def record(self, endpoint: str, *, service_ms: float, intended_ms: float | None = None,
               ok: bool = True, failure: str | None = None, records: int = 0,
               at: float | None = None) -> None:
        """Record one request. ``at`` is the epoch time it completed (now when omitted).

        ``intended_ms`` is the latency measured from the pacer's intended start; without a pacer
        it equals ``service_ms``. A ``failure`` label (``"361 unique_violation"``) marks it failed.
        The request is the warm-up's when its intended start (``at`` less ``intended_ms``) came before
        :attr:`measure_from`.
        """
        if not math.isfinite(service_ms) or service_ms < 0:
            raise UsageError(f"recorder: service_ms must be a finite number >= 0, got {service_ms!r}")
        if intended_ms is None or intended_ms <= service_ms:
            intended = service_ms
        elif math.isfinite(intended_ms):
            intended = intended_ms
        else:
            raise UsageError(f"recorder: intended_ms must be a finite number, got {intended_ms!r}")
        data = self.endpoint(endpoint)
        moment = time.time() if at is None else at
        sec = self._second(data, moment)
        sec.requests += 1
        label = (failure or "failed") if failure is not None or not ok else None
        if label is not None:
            sec.failures[label] += 1
        sec.records += records
        sec.sum_ms += service_ms
        index = sketch_index(service_ms)
        sec.service[index] += 1
        sec.intended[index if intended == service_ms else sketch_index(intended)] += 1
        late = intended - service_ms > self.late_ms
        sec.late += late
        if self.warming_up(moment - intended / 1000.0):
            return
        data.requests += 1
        if label is not None:
            data.failures[label] += 1
        else:
            data.ok += 1
        data.records += records
        data.service.add(service_ms)
        data.intended.add(intended)
        data.late += late

    def record_measure(self, name: str, ms: float, *, failure: str | None = None, at: float | None = None) -> None:
        """Record a value of a scenario's own metric (a time-to-visible): a row of its own, outside the totals."""
        self.endpoint(name).measure = True
        self.record(name, service_ms=ms, failure=failure, at=at)

    def record_dropped(self, endpoint: str, n: int = 1, at: float | None = None) -> None:
        """Count arrivals the users could not serve at all (the pacer skipped them)."""
        data = self.endpoint(endpoint)
        moment = time.time() if at is None else at
        self._second(data, moment).dropped += n
        if not self.warming_up(moment):
            data.dropped += n

    def in_flight(self, count: int, at: float | None = None) -> None:
        """Note this process's number of requests in flight, each time it changes."""
        second = math.floor(time.time() if at is None else at)
        seconds = self.busy.setdefault(self.source, {})
        peak, _ = seconds.get(second, (0, 0))
        seconds[second] = (max(peak, count), count)

    def busy_series(self, t0: int, length: int) -> tuple[int, ...]:
        """Peak requests in flight per second from epoch second ``t0``, all sources added up.

        A second without a change keeps the level its source was left at (a request held for three
        seconds is in flight in all three).
        """
        total = [0] * length
        for seconds in self.busy.values():
            level = 0
            for second in sorted(seconds):
                if second < t0:
                    level = seconds[second][1]
            for i in range(length):
                peak, last = seconds.get(t0 + i, (level, level))
                total[i] += peak
                level = last
        return tuple(total)

    def snapshot(self, *, reset: bool = False) -> dict[str, Any]:
        """A JSON-serialisable copy. ``reset=True`` also clears the recorder, for periodic deltas."""
        snap = {
            "format": SNAPSHOT_FORMAT, "start": self.start, "end": self.end, "late_ms": self.late_ms,
            "measure_from": self.measure_from, "schedule_from": self.schedule_from, "stop_from": self.stop_from,
            "endpoints": {
                name: {"requests": d.requests, "ok": d.ok, "records": d.records, "dropped": d.dropped,
                       "late": d.late, "failures": dict(d.failures), "service": d.service.to_json(),
                       "intended": d.intended.to_json(), "measure": d.measure,
                       "seconds": {str(s): sec.to_json() for s, sec in sorted(d.seconds.items())}}
                for name, d in self.endpoints.items()
            },
            "busy": {source: {str(s): list(v) for s, v in sorted(seconds.items())}
                     for source, seconds in self.busy.items()},
        }
        if reset:
            self.endpoints = {}
            self.busy = {}
        return snap

    def merge(self, snapshot: Mapping[str, Any]) -> None:
        """Add another recorder's snapshot (a worker's) into this one."""
        if not isinstance(snapshot, Mapping) or snapshot.get("format") != SNAPSHOT_FORMAT:
            found = snapshot.get("format") if isinstance(snapshot, Mapping) else type(snapshot).__name__
            raise RuntimeFailure(f"recorder: cannot merge snapshot of format {found!r} (want {SNAPSHOT_FORMAT})")
        self.start = min(self.start, float(snapshot["start"]))
        self.end = max(self.end, float(snapshot["end"]))
        if snapshot.get("measure_from") is not None:   # the workers' warm-ups end together, give or take
            given = float(snapshot["measure_from"])
            self.measure_from = given if self.measure_from is None else min(self.measure_from, given)
        if snapshot.get("schedule_from") is not None:   # each worker's schedule starts when its users are spawned
            given = float(snapshot["schedule_from"])
            self.schedule_from = given if self.schedule_from is None else min(self.schedule_from, given)
        if snapshot.get("stop_from") is not None:   # the swarm stopped serving its schedule when one process did
            given = float(snapshot["stop_from"])
            self.stop_from = given if self.stop_from is None else min(self.stop_from, given)
        for name, raw in snapshot.get("endpoints", {}).items():
            data = self.endpoint(name)
            for attr in ("requests", "ok", "records", "dropped", "late"):
                setattr(data, attr, getattr(data, attr) + int(raw.get(attr, 0)))
            data.failures.update({str(k): int(v) for k, v in raw.get("failures", {}).items()})
            data.measure = data.measure or bool(raw.get("measure", False))
            data.service.merge_json(raw.get("service", {}))
            data.intended.merge_json(raw.get("intended", {}))
            for key, sec in raw.get("seconds", {}).items():
                data.second(int(key)).merge_json(sec)
        for source, raw_seconds in snapshot.get("busy", {}).items():
            seconds = self.busy.setdefault(str(source), {})
            for key, (peak, last) in raw_seconds.items():
                # a second split over two deltas of one process: its peak is the larger, its last the later
                seconds[int(key)] = (max(seconds.get(int(key), (0, 0))[0], int(peak)), int(last))

    @classmethod
    def from_snapshots(cls, snapshots: Iterable[Mapping[str, Any]]) -> Recorder:
        """One recorder holding the sum of several snapshots (the master's view)."""
        snaps = list(snapshots)
        starts = [float(s["start"]) for s in snaps if isinstance(s, Mapping) and "start" in s]
        merged = cls(start=min(starts) if starts else None)
        for snap in snaps:
            merged.merge(snap)
        return merged

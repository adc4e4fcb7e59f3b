"""The shape of ``report.json`` in one place: frozen dataclasses, each with ``to_json`` and ``from_json``.

Every output (HTML, Markdown, ``loadgen compare``, baselines, the CLI's verdict) reads these
attributes, never string keys of a dict, so a field is renamed or re-typed here and nowhere else.
``to_json`` gives the exact on-disk layout (key order included) documented in
``docs/report-schema.md``; ``from_json`` checks a file before anything trusts it, so a foreign file,
another ``schema_version`` or a missing or mistyped field is one line naming the file and the field
(a :class:`ReportFormatError`, a ``UsageError``: exit 2), not a ``KeyError`` deep in a renderer.
Fields this version does not know are ignored on read: a newer minor writer may add some.
Units: latencies in ms, rates per second, ``error_rate`` and ``achieved_ratio`` as fractions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadgen._fields import FieldError, Fields, as_bool, as_int, as_num, as_str, dict_of, or_null, tuple_of
from loadgen.ramp import Stage
from loadgen.runfolder import Target, as_target

SCHEMA_VERSION = 1
KIND = "capture-loadgen.report"
#: The keys of a latency block after ``count``, in file order ("p99.9" is attribute ``p99_9``).
LATENCY_KEYS = ("p50", "p90", "p95", "p99", "p99.9", "max", "min", "mean")
#: Per-second latency series: service-time percentiles, their mean, and ``ip99`` (p99 from the intended start).
SERIES_LATENCY_KEYS = ("mean", "p50", "p90", "p95", "p99", "ip99")

class ReportFormatError(FieldError):
    """A report.json this tool cannot read; the message names the file and the field."""


_opt_num = or_null(as_num)


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """``latency.service`` or ``latency.intended``: HDR percentiles plus the exact count, max, min and mean.

    Every value is None when ``count`` is 0.
    """

    count: int
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    p99_9: float | None
    max: float | None
    min: float | None
    mean: float | None

    def value(self, key: str) -> float | None:
        """The value of a key of :data:`LATENCY_KEYS` (how thresholds and tables name them)."""
        return dict(zip(LATENCY_KEYS, self._values(), strict=True))[key]

    def _values(self) -> tuple[float | None, ...]:
        return self.p50, self.p90, self.p95, self.p99, self.p99_9, self.max, self.min, self.mean

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, **dict(zip(LATENCY_KEYS, self._values(), strict=True))}

    @classmethod
    def from_json(cls, data: object, where: str) -> LatencyStats:
        o = Fields(data, where)
        return cls(o.get("count", as_int), *(o.get(key, _opt_num) for key in LATENCY_KEYS))


@dataclass(frozen=True, slots=True)
class Latencies:
    """``latency``: the server's time and the time from the intended start (coordinated omission)."""

    service: LatencyStats
    intended: LatencyStats

    def to_json(self) -> dict[str, object]:
        return {"service": self.service.to_json(), "intended": self.intended.to_json()}

    @classmethod
    def from_json(cls, data: object, where: str) -> Latencies:
        o = Fields(data, where)
        return cls(o.get("service", LatencyStats.from_json), o.get("intended", LatencyStats.from_json))


@dataclass(frozen=True, slots=True)
class Histograms:
    """``histograms``: base64 HDR "histoblobs" (ns, 1 ns..1 h, 3 significant figures); "" when empty."""

    service: str
    intended: str

    def to_json(self) -> dict[str, object]:
        return {"service": self.service, "intended": self.intended}

    @classmethod
    def from_json(cls, data: object, where: str) -> Histograms:
        o = Fields(data, where)
        return cls(o.get("service", as_str), o.get("intended", as_str))


@dataclass(frozen=True, slots=True)
class Totals:
    """``summary``: the whole run, all endpoints together (an endpoint entry without targets or histograms)."""

    requests: int
    failed: int
    records: int
    failures: dict[str, int]     # failed requests by Capture code label, e.g. "361 unique_violation"
    error_rate: float
    requests_per_s: float
    records_per_s: float
    dropped: int
    late: int
    latency: Latencies

    def to_json(self) -> dict[str, object]:
        return {"requests": self.requests, "failed": self.failed, "records": self.records,
                "failures": dict(self.failures), "error_rate": self.error_rate,
                "requests_per_s": self.requests_per_s, "records_per_s": self.records_per_s,
                "dropped": self.dropped, "late": self.late, "latency": self.latency.to_json()}

    @classmethod
    def from_json(cls, data: object, where: str) -> Totals:
        return cls(**_totals(Fields(data, where)))


def _totals(o: Fields) -> dict[str, Any]:
    """The fields every entry shares with ``summary`` (an endpoint entry adds its own to them)."""
    return {"requests": o.get("requests", as_int), "failed": o.get("failed", as_int),
            "records": o.get("records", as_int), "failures": o.get("failures", dict_of(as_int)),
            "error_rate": o.get("error_rate", as_num), "requests_per_s": o.get("requests_per_s", as_num),
            "records_per_s": o.get("records_per_s", as_num), "dropped": o.get("dropped", as_int),
            "late": o.get("late", as_int), "latency": o.get("latency", Latencies.from_json)}


#: An endpoint entry's keys in the order report.json has always written them (old files rewrite byte for byte).
_ENDPOINT_KEYS = ("requests", "ok", "failed", "records", "failures", "error_rate", "requests_per_s", "records_per_s",
                  "target_requests_per_s", "target_records_per_s", "achieved_ratio", "dropped", "late", "latency",
                  "histograms", "clamped")


@dataclass(frozen=True, slots=True)
class EndpointStats(Totals):
    """One entry of ``endpoints``: the totals of one endpoint plus its targets and histograms."""

    ok: int
    target_requests_per_s: float | None
    target_records_per_s: float | None
    # successful work / what the staged schedule asked for: the lower of successful requests against the
    # requests asked for and records created against the records asked for; None without a target
    achieved_ratio: float | None
    histograms: Histograms
    clamped: int                    # latencies above one hour recorded as one hour

    def to_json(self) -> dict[str, object]:
        own = {"ok": self.ok, "target_requests_per_s": self.target_requests_per_s,
               "target_records_per_s": self.target_records_per_s, "achieved_ratio": self.achieved_ratio,
               "histograms": self.histograms.to_json(), "clamped": self.clamped}
        both = {**Totals.to_json(self), **own}
        return {key: both[key] for key in _ENDPOINT_KEYS}

    @classmethod
    def from_json(cls, data: object, where: str) -> EndpointStats:
        o = Fields(data, where)
        return cls(**_totals(o), ok=o.get("ok", as_int),
                   target_requests_per_s=o.get("target_requests_per_s", _opt_num),
                   target_records_per_s=o.get("target_records_per_s", _opt_num),
                   achieved_ratio=o.get("achieved_ratio", _opt_num),
                   histograms=o.get("histograms", Histograms.from_json), clamped=o.get("clamped", as_int))


@dataclass(frozen=True, slots=True)
class WindowedLatency:
    """``series.endpoints.<name>.windowed``: latencies (ms) over consecutive ``window_s``-second windows.

    The window is the narrowest that typically holds enough requests for a percentile
    (:data:`loadgen.report.model.MIN_SAMPLES`); a window holding fewer is None, not a point made of
    one or two requests. Value ``i`` covers seconds ``i * window_s`` to ``(i + 1) * window_s`` of the run.
    """

    window_s: int
    mean: tuple[float | None, ...]
    p50: tuple[float | None, ...]
    p90: tuple[float | None, ...]
    p95: tuple[float | None, ...]
    p99: tuple[float | None, ...]
    ip99: tuple[float | None, ...]

    def latency(self, key: str) -> tuple[float | None, ...]:
        """A latency series by its key of :data:`SERIES_LATENCY_KEYS`."""
        return dict(zip(SERIES_LATENCY_KEYS, (self.mean, self.p50, self.p90, self.p95, self.p99, self.ip99),
                        strict=True))[key]

    def to_json(self) -> dict[str, object]:
        return {"window_s": self.window_s, **{key: self.latency(key) for key in SERIES_LATENCY_KEYS}}

    @classmethod
    def from_json(cls, data: object, where: str) -> WindowedLatency:
        o = Fields(data, where)
        window = o.get("window_s", as_int)
        if window < 1:
            raise ReportFormatError(f"field '{where}.window_s' must be at least 1, got {window}")
        values = tuple_of(_opt_num)
        found = cls(window, *(o.get(key, values) for key in SERIES_LATENCY_KEYS))
        sizes = {len(found.latency(key)) for key in SERIES_LATENCY_KEYS}
        if len(sizes) > 1:
            raise ReportFormatError(f"field '{where}': its series differ in length ({sorted(sizes)})")
        return found


@dataclass(frozen=True, slots=True)
class EndpointSeries:
    """``series.endpoints.<name>``: one value per second of the run for each of these.

    Latencies (ms) come from a 1%-accurate sketch; None means no request completed that second.
    ``windowed``: the same latencies over windows wide enough for a percentile (the charts draw
    these); None in a report written before it existed (and then not written).
    """

    requests: tuple[int, ...]
    records: tuple[int, ...]
    dropped: tuple[int, ...]
    late: tuple[int, ...]
    failures: dict[str, tuple[int, ...]]
    mean: tuple[float | None, ...]
    target: tuple[float | None, ...]     # requests/s the schedule asked for
    p50: tuple[float | None, ...]
    p90: tuple[float | None, ...]
    p95: tuple[float | None, ...]
    p99: tuple[float | None, ...]
    ip99: tuple[float | None, ...]
    windowed: WindowedLatency | None = None

    def latency(self, key: str) -> tuple[float | None, ...]:
        """A latency series by its key of :data:`SERIES_LATENCY_KEYS`."""
        return dict(zip(SERIES_LATENCY_KEYS, (self.mean, self.p50, self.p90, self.p95, self.p99, self.ip99),
                        strict=True))[key]

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "requests": self.requests, "records": self.records, "dropped": self.dropped, "late": self.late,
            "failures": dict(self.failures), "mean": self.mean, "target": self.target, "p50": self.p50,
            "p90": self.p90, "p95": self.p95, "p99": self.p99, "ip99": self.ip99}
        if self.windowed is not None:
            data["windowed"] = self.windowed.to_json()
        return data

    @classmethod
    def from_json(cls, data: object, where: str) -> EndpointSeries:
        o = Fields(data, where)
        counts, values = tuple_of(as_int), tuple_of(_opt_num)
        return cls(requests=o.get("requests", counts), records=o.get("records", counts),
                   dropped=o.get("dropped", counts), late=o.get("late", counts),
                   failures=o.get("failures", dict_of(counts)), mean=o.get("mean", values),
                   target=o.get("target", values), p50=o.get("p50", values), p90=o.get("p90", values),
                   p95=o.get("p95", values), p99=o.get("p99", values), ip99=o.get("ip99", values),
                   windowed=o.get("windowed", WindowedLatency.from_json) if "windowed" in o.data else None)

    def lengths(self) -> dict[str, int]:
        """Length of every series by its key (all equal ``series.length`` in a sound report)."""
        found = {"requests": len(self.requests), "records": len(self.records), "dropped": len(self.dropped),
                 "late": len(self.late), "target": len(self.target)}
        found.update({f"failures.{label}": len(v) for label, v in self.failures.items()})
        found.update({key: len(self.latency(key)) for key in SERIES_LATENCY_KEYS})
        return found


@dataclass(frozen=True, slots=True)
class PerSecond:
    """``series``: per-second series of every endpoint, index 0 being epoch second ``t0``.

    ``in_flight``: the peak number of requests in flight in each second, all workers added up; empty
    in a report written before it was recorded (and then not written).
    """

    t0: int
    length: int
    endpoints: dict[str, EndpointSeries]
    in_flight: tuple[int, ...] = ()

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"t0": self.t0, "length": self.length,
                                   "endpoints": {name: s.to_json() for name, s in self.endpoints.items()}}
        if self.in_flight:
            data["in_flight"] = self.in_flight
        return data

    @classmethod
    def from_json(cls, data: object, where: str) -> PerSecond:
        o = Fields(data, where)
        found = cls(o.get("t0", as_int), o.get("length", as_int), o.get("endpoints", dict_of(EndpointSeries.from_json)),
                    o.get("in_flight", tuple_of(as_int)) if "in_flight" in o.data else ())
        if found.in_flight and len(found.in_flight) != found.length:
            raise ReportFormatError(f"field '{where}.in_flight' has {len(found.in_flight)} values, "
                                    f"not series.length {found.length}")
        for name, series in found.endpoints.items():
            for key, size in series.lengths().items():
                if size != found.length:
                    raise ReportFormatError(f"field '{where}.endpoints.{name}.{key}' has {size} values, "
                                            f"not series.length {found.length}")
        return found


@dataclass(frozen=True, slots=True)
class RunInfo:
    """``run``: what was run. ``host`` never carries credentials, a query or a fragment.

    ``users``: the run's Locust users (``--users``, ``-u``), the cap on requests in flight; written when known.
    """

    run_id: str
    scenario: str
    host: str
    profile: str | None
    seed: int | None
    schema_fingerprint: str | None
    targets: dict[str, Target]
    stages: tuple[Stage, ...]
    duration_s: float | None     # planned
    elapsed_s: float             # measured by the recorder
    started_at: str
    ended_at: str
    users: int | None = None          # the run's --users (Locust's -u), when known
    warmup_s: float = 0.0             # the first seconds: in ``series`` (shaded), not in the summary or gates
    store_records: int | None = None  # records of the type stored when the measured phase began (None: unknown)

    def to_json(self) -> dict[str, object]:
        return {"run_id": self.run_id, "scenario": self.scenario, "host": self.host, "profile": self.profile,
                "seed": self.seed, "schema_fingerprint": self.schema_fingerprint, "targets": dict(self.targets),
                "stages": [s.to_json() for s in self.stages], "duration_s": self.duration_s,
                "elapsed_s": self.elapsed_s, "started_at": self.started_at, "ended_at": self.ended_at,
                **_unless_default(users=self.users, warmup_s=self.warmup_s, store_records=self.store_records)}

    @classmethod
    def from_json(cls, data: object, where: str) -> RunInfo:
        o = Fields(data, where, defaults={"users": None, "warmup_s": 0.0, "store_records": None})
        opt_str = or_null(as_str)
        return cls(run_id=o.get("run_id", as_str), scenario=o.get("scenario", as_str), host=o.get("host", as_str),
                   profile=o.get("profile", opt_str), seed=o.get("seed", or_null(as_int)),
                   schema_fingerprint=o.get("schema_fingerprint", opt_str),
                   targets=o.get("targets", dict_of(as_target)), stages=o.get("stages", tuple_of(Stage.from_json)),
                   duration_s=o.get("duration_s", _opt_num), elapsed_s=o.get("elapsed_s", as_num),
                   started_at=o.get("started_at", as_str), ended_at=o.get("ended_at", as_str),
                   users=o.get("users", or_null(as_int)), warmup_s=o.get("warmup_s", as_num),
                   store_records=o.get("store_records", or_null(as_int)))


@dataclass(frozen=True, slots=True)
class Environment:
    """``environment``: versions (tool, python, locust, hdrhistogram, ...) and the machine that ran the load."""

    versions: dict[str, str | None]
    platform: str
    machine: str
    workers: int | None

    def to_json(self) -> dict[str, object]:
        return {"versions": dict(self.versions), "platform": self.platform, "machine": self.machine,
                "workers": self.workers}

    @classmethod
    def from_json(cls, data: object, where: str) -> Environment:
        o = Fields(data, where)
        return cls(o.get("versions", dict_of(or_null(as_str))), o.get("platform", as_str), o.get("machine", as_str),
                   o.get("workers", or_null(as_int)))


@dataclass(frozen=True, slots=True)
class LoadGenerator:
    """``load_generator``: CPU percent per worker; a worker above 90% makes the results suspect."""

    workers_cpu: dict[str, float]
    max_cpu: float | None
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"workers_cpu": dict(self.workers_cpu), "max_cpu": self.max_cpu, "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: object, where: str) -> LoadGenerator:
        o = Fields(data, where)
        return cls(o.get("workers_cpu", dict_of(as_num)), o.get("max_cpu", _opt_num),
                   o.get("warnings", tuple_of(as_str)))


@dataclass(frozen=True, slots=True)
class Verdict:
    """One entry of ``thresholds``: a threshold judged on a report; ``actual`` None (no data) fails."""

    expression: str
    scope: str            # an endpoint name, or "all"
    metric: str           # canonical: "p95", "intended_p99", "error_rate", ...
    op: str
    limit: float          # in report units
    actual: float | None
    ok: bool
    window_s: float | None = None   # a windowed gate ("create.p99[30s]<300ms"): judged in every window
    at_s: float | None = None       # the first failing window's end, seconds after the measured start
    #: set when the measured period was shorter than the window: its whole seconds (the gate failed unjudged)
    measured_s: float | None = None
    #: a windowed latency: the requests of the window ``actual`` is of (few make a p99 their maximum)
    window_requests: int | None = None

    def to_json(self) -> dict[str, object]:
        window = {} if self.window_s is None else {"window_s": self.window_s, "at_s": self.at_s}
        short = {} if self.measured_s is None else {"measured_s": self.measured_s}
        count = {} if self.window_requests is None else {"window_requests": self.window_requests}
        return {"expression": self.expression, "scope": self.scope, "metric": self.metric, "op": self.op,
                "limit": self.limit, "actual": self.actual, "ok": self.ok, **window, **short, **count}

    @classmethod
    def from_json(cls, data: object, where: str) -> Verdict:
        o = Fields(data, where, defaults={"window_s": None, "at_s": None, "measured_s": None, "window_requests": None})
        requests = o.get("window_requests", _opt_num)
        return cls(o.get("expression", as_str), o.get("scope", as_str), o.get("metric", as_str), o.get("op", as_str),
                   o.get("limit", as_num), o.get("actual", _opt_num), o.get("ok", as_bool),
                   o.get("window_s", _opt_num), o.get("at_s", _opt_num), o.get("measured_s", _opt_num),
                   None if requests is None else int(requests))


def _unless_default(*, users: int | None, warmup_s: float, store_records: int | None) -> dict[str, float | None]:
    """Fields added since schema version 1, written only when set: an older report rewrites byte for byte."""
    return {**({"users": users} if users is not None else {}),
            **({"warmup_s": warmup_s} if warmup_s else {}),
            **({"store_records": store_records} if store_records is not None else {})}


def _verdict_of(thresholds: tuple[Verdict, ...]) -> str:
    return "none" if not thresholds else ("pass" if all(v.ok for v in thresholds) else "fail")


@dataclass(frozen=True, slots=True)
class Report:
    """The whole ``report.json`` document (``schema_version`` :data:`SCHEMA_VERSION`, ``kind`` :data:`KIND`)."""

    generated_at: str
    run: RunInfo
    environment: Environment
    load_generator: LoadGenerator
    summary: Totals
    endpoints: dict[str, EndpointStats]   # create, bulkCreate, malformed always, then any other recorded one
    series: PerSecond
    thresholds: tuple[Verdict, ...]
    warnings: tuple[str, ...]

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` (a threshold breached: ``loadgen run`` exits 3) or ``none`` (no thresholds)."""
        return _verdict_of(self.thresholds)

    @property
    def breaches(self) -> list[Verdict]:
        return [v for v in self.thresholds if not v.ok]

    @property
    def achieved_ratio(self) -> float | None:
        """The run's achieved ratio: its lowest endpoint's (each judged on successful work); None without targets."""
        return min((e.achieved_ratio for e in self.endpoints.values() if e.achieved_ratio is not None), default=None)

    def to_json(self) -> dict[str, object]:
        return {"schema_version": SCHEMA_VERSION, "kind": KIND, "generated_at": self.generated_at,
                "run": self.run.to_json(), "environment": self.environment.to_json(),
                "load_generator": self.load_generator.to_json(), "summary": self.summary.to_json(),
                "endpoints": {name: e.to_json() for name, e in self.endpoints.items()},
                "series": self.series.to_json(), "thresholds": [v.to_json() for v in self.thresholds],
                "verdict": self.verdict, "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: object, source: str = "report.json") -> Report:
        """Check and read a loaded report.json; anything off is one :class:`ReportFormatError` line."""
        if not isinstance(data, Mapping) or data.get("kind") != KIND:
            raise ReportFormatError(f"{source}: not a capture-loadgen report (no 'kind': {KIND!r})")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            age = "a newer" if isinstance(version, int) and version > SCHEMA_VERSION else "another"
            raise ReportFormatError(f"{source}: report schema_version {version!r} is not supported (this tool "
                                    f"reads {SCHEMA_VERSION}; the file comes from {age} capture-loadgen): rebuild "
                                    "it with `loadgen report RUN_DIR --from-recorder`")
        try:
            o = Fields(data, "")
            report = cls(generated_at=o.get("generated_at", as_str), run=o.get("run", RunInfo.from_json),
                         environment=o.get("environment", Environment.from_json),
                         load_generator=o.get("load_generator", LoadGenerator.from_json),
                         summary=o.get("summary", Totals.from_json),
                         endpoints=o.get("endpoints", dict_of(EndpointStats.from_json)),
                         series=o.get("series", PerSecond.from_json),
                         thresholds=o.get("thresholds", tuple_of(Verdict.from_json)),
                         warnings=o.get("warnings", tuple_of(as_str)))
            if o.get("verdict", as_str) != report.verdict:
                raise ReportFormatError(f"field 'verdict' is {data.get('verdict')!r} but its thresholds say "
                                        f"{report.verdict!r}")
        except FieldError as exc:
            raise ReportFormatError(f"{source}: {exc}") from None
        return report

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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from loadgen.errors import UsageError

SCHEMA_VERSION = 1
KIND = "capture-loadgen.report"
#: The keys of a latency block after ``count``, in file order ("p99.9" is attribute ``p99_9``).
LATENCY_KEYS = ("p50", "p90", "p95", "p99", "p99.9", "max", "min", "mean")
#: Per-second latency series: service-time percentiles, their mean, and ``ip99`` (p99 from the intended start).
SERIES_LATENCY_KEYS = ("mean", "p50", "p90", "p95", "p99", "ip99")

T = TypeVar("T")
Check = Callable[[object, str], T]


class ReportFormatError(UsageError):
    """A report.json this tool cannot read; the message names the file and the field."""


def _fail(where: str, expected: str, value: object) -> NoReturn:
    shown = repr(value)
    raise ReportFormatError(f"field {where!r} must be {expected}, got {shown[:40]}{'...' if len(shown) > 40 else ''}")


def _int(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    _fail(where, "an integer", value)


def _num(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    _fail(where, "a number", value)


def _str(value: object, where: str) -> str:
    if isinstance(value, str):
        return value
    _fail(where, "a string", value)


def _bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    _fail(where, "true or false", value)


def _or_null(check: Check[T]) -> Check[T | None]:
    return lambda value, where: None if value is None else check(value, where)


def _tuple_of(check: Check[T]) -> Check[tuple[T, ...]]:
    def read(value: object, where: str) -> tuple[T, ...]:
        if not isinstance(value, list):
            _fail(where, "a list", value)
        return tuple(check(item, f"{where}[{i}]") for i, item in enumerate(value))
    return read


def _dict_of(check: Check[T]) -> Check[dict[str, T]]:
    def read(value: object, where: str) -> dict[str, T]:
        if not isinstance(value, dict):
            _fail(where, "an object", value)
        return {str(key): check(item, f"{where}.{key}") for key, item in value.items()}
    return read


class _Object:
    """One JSON object being read: each field is checked, and an error names its dotted path."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            _fail(where or "(top level)", "an object", data)
        self.data: dict[str, object] = data
        self.where = where

    def get(self, key: str, check: Check[T]) -> T:
        where = f"{self.where}.{key}" if self.where else key
        if key not in self.data:
            raise ReportFormatError(f"field {where!r} is missing")
        return check(self.data[key], where)


_opt_num = _or_null(_num)


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
        o = _Object(data, where)
        return cls(o.get("count", _int), *(o.get(key, _opt_num) for key in LATENCY_KEYS))


@dataclass(frozen=True, slots=True)
class Latencies:
    """``latency``: the server's time and the time from the intended start (coordinated omission)."""

    service: LatencyStats
    intended: LatencyStats

    def to_json(self) -> dict[str, object]:
        return {"service": self.service.to_json(), "intended": self.intended.to_json()}

    @classmethod
    def from_json(cls, data: object, where: str) -> Latencies:
        o = _Object(data, where)
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
        o = _Object(data, where)
        return cls(o.get("service", _str), o.get("intended", _str))


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
        o = _Object(data, where)
        return cls(requests=o.get("requests", _int), failed=o.get("failed", _int), records=o.get("records", _int),
                   failures=o.get("failures", _dict_of(_int)), error_rate=o.get("error_rate", _num),
                   requests_per_s=o.get("requests_per_s", _num), records_per_s=o.get("records_per_s", _num),
                   dropped=o.get("dropped", _int), late=o.get("late", _int),
                   latency=o.get("latency", Latencies.from_json))


@dataclass(frozen=True, slots=True)
class EndpointStats(Totals):
    """One entry of ``endpoints``: the totals of one endpoint plus its targets and histograms."""

    ok: int
    target_requests_per_s: float | None
    target_records_per_s: float | None
    achieved_ratio: float | None    # requests / what the staged schedule asked for; None without a target
    histograms: Histograms
    clamped: int                    # latencies above one hour recorded as one hour

    def to_json(self) -> dict[str, object]:
        return {"requests": self.requests, "ok": self.ok, "failed": self.failed, "records": self.records,
                "failures": dict(self.failures), "error_rate": self.error_rate,
                "requests_per_s": self.requests_per_s, "records_per_s": self.records_per_s,
                "target_requests_per_s": self.target_requests_per_s,
                "target_records_per_s": self.target_records_per_s, "achieved_ratio": self.achieved_ratio,
                "dropped": self.dropped, "late": self.late, "latency": self.latency.to_json(),
                "histograms": self.histograms.to_json(), "clamped": self.clamped}

    @classmethod
    def from_json(cls, data: object, where: str) -> EndpointStats:
        o = _Object(data, where)
        return cls(requests=o.get("requests", _int), failed=o.get("failed", _int), records=o.get("records", _int),
                   failures=o.get("failures", _dict_of(_int)), error_rate=o.get("error_rate", _num),
                   requests_per_s=o.get("requests_per_s", _num), records_per_s=o.get("records_per_s", _num),
                   dropped=o.get("dropped", _int), late=o.get("late", _int),
                   latency=o.get("latency", Latencies.from_json), ok=o.get("ok", _int),
                   target_requests_per_s=o.get("target_requests_per_s", _opt_num),
                   target_records_per_s=o.get("target_records_per_s", _opt_num),
                   achieved_ratio=o.get("achieved_ratio", _opt_num),
                   histograms=o.get("histograms", Histograms.from_json), clamped=o.get("clamped", _int))


@dataclass(frozen=True, slots=True)
class EndpointSeries:
    """``series.endpoints.<name>``: one value per second of the run for each of these.

    Latencies (ms) come from a 1%-accurate sketch; None means no request completed that second.
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

    def latency(self, key: str) -> tuple[float | None, ...]:
        """A latency series by its key of :data:`SERIES_LATENCY_KEYS`."""
        return dict(zip(SERIES_LATENCY_KEYS, (self.mean, self.p50, self.p90, self.p95, self.p99, self.ip99),
                        strict=True))[key]

    def to_json(self) -> dict[str, object]:
        return {"requests": self.requests, "records": self.records, "dropped": self.dropped, "late": self.late,
                "failures": dict(self.failures), "mean": self.mean, "target": self.target, "p50": self.p50,
                "p90": self.p90, "p95": self.p95, "p99": self.p99, "ip99": self.ip99}

    @classmethod
    def from_json(cls, data: object, where: str) -> EndpointSeries:
        o = _Object(data, where)
        counts, values = _tuple_of(_int), _tuple_of(_opt_num)
        return cls(requests=o.get("requests", counts), records=o.get("records", counts),
                   dropped=o.get("dropped", counts), late=o.get("late", counts),
                   failures=o.get("failures", _dict_of(counts)), mean=o.get("mean", values),
                   target=o.get("target", values), p50=o.get("p50", values), p90=o.get("p90", values),
                   p95=o.get("p95", values), p99=o.get("p99", values), ip99=o.get("ip99", values))

    def lengths(self) -> dict[str, int]:
        """Length of every series by its key (all equal ``series.length`` in a sound report)."""
        found = {"requests": len(self.requests), "records": len(self.records), "dropped": len(self.dropped),
                 "late": len(self.late), "target": len(self.target)}
        found.update({f"failures.{label}": len(v) for label, v in self.failures.items()})
        found.update({key: len(self.latency(key)) for key in SERIES_LATENCY_KEYS})
        return found


@dataclass(frozen=True, slots=True)
class PerSecond:
    """``series``: per-second series of every endpoint, index 0 being epoch second ``t0``."""

    t0: int
    length: int
    endpoints: dict[str, EndpointSeries]

    def to_json(self) -> dict[str, object]:
        return {"t0": self.t0, "length": self.length,
                "endpoints": {name: s.to_json() for name, s in self.endpoints.items()}}

    @classmethod
    def from_json(cls, data: object, where: str) -> PerSecond:
        o = _Object(data, where)
        found = cls(o.get("t0", _int), o.get("length", _int), o.get("endpoints", _dict_of(EndpointSeries.from_json)))
        for name, series in found.endpoints.items():
            for key, size in series.lengths().items():
                if size != found.length:
                    raise ReportFormatError(f"field '{where}.endpoints.{name}.{key}' has {size} values, "
                                            f"not series.length {found.length}")
        return found


@dataclass(frozen=True, slots=True)
class Stage:
    """A stage of ``loadgen run --stages``: ramp linearly to ``rate`` (main endpoint, per s) over ``duration_s``."""

    duration_s: float
    rate: float

    def to_json(self) -> dict[str, object]:
        return {"duration_s": self.duration_s, "rate": self.rate}

    @classmethod
    def from_json(cls, data: object, where: str) -> Stage:
        o = _Object(data, where)
        return cls(o.get("duration_s", _num), o.get("rate", _num))


#: ``run.targets`` values: requests/s, or ``{"requests_per_s": r, "records_per_s": n}``.
Target = float | dict[str, float]


def _target(value: object, where: str) -> Target:
    return _dict_of(_num)(value, where) if isinstance(value, dict) else _num(value, where)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """``run``: what was run. ``host`` never carries credentials, a query or a fragment."""

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

    def to_json(self) -> dict[str, object]:
        return {"run_id": self.run_id, "scenario": self.scenario, "host": self.host, "profile": self.profile,
                "seed": self.seed, "schema_fingerprint": self.schema_fingerprint, "targets": dict(self.targets),
                "stages": [s.to_json() for s in self.stages], "duration_s": self.duration_s,
                "elapsed_s": self.elapsed_s, "started_at": self.started_at, "ended_at": self.ended_at}

    @classmethod
    def from_json(cls, data: object, where: str) -> RunInfo:
        o = _Object(data, where)
        opt_str = _or_null(_str)
        return cls(run_id=o.get("run_id", _str), scenario=o.get("scenario", _str), host=o.get("host", _str),
                   profile=o.get("profile", opt_str), seed=o.get("seed", _or_null(_int)),
                   schema_fingerprint=o.get("schema_fingerprint", opt_str),
                   targets=o.get("targets", _dict_of(_target)), stages=o.get("stages", _tuple_of(Stage.from_json)),
                   duration_s=o.get("duration_s", _opt_num), elapsed_s=o.get("elapsed_s", _num),
                   started_at=o.get("started_at", _str), ended_at=o.get("ended_at", _str))


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
        o = _Object(data, where)
        return cls(o.get("versions", _dict_of(_or_null(_str))), o.get("platform", _str), o.get("machine", _str),
                   o.get("workers", _or_null(_int)))


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
        o = _Object(data, where)
        return cls(o.get("workers_cpu", _dict_of(_num)), o.get("max_cpu", _opt_num),
                   o.get("warnings", _tuple_of(_str)))


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

    def to_json(self) -> dict[str, object]:
        return {"expression": self.expression, "scope": self.scope, "metric": self.metric, "op": self.op,
                "limit": self.limit, "actual": self.actual, "ok": self.ok}

    @classmethod
    def from_json(cls, data: object, where: str) -> Verdict:
        o = _Object(data, where)
        return cls(o.get("expression", _str), o.get("scope", _str), o.get("metric", _str), o.get("op", _str),
                   o.get("limit", _num), o.get("actual", _opt_num), o.get("ok", _bool))


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
            o = _Object(data, "")
            report = cls(generated_at=o.get("generated_at", _str), run=o.get("run", RunInfo.from_json),
                         environment=o.get("environment", Environment.from_json),
                         load_generator=o.get("load_generator", LoadGenerator.from_json),
                         summary=o.get("summary", Totals.from_json),
                         endpoints=o.get("endpoints", _dict_of(EndpointStats.from_json)),
                         series=o.get("series", PerSecond.from_json),
                         thresholds=o.get("thresholds", _tuple_of(Verdict.from_json)),
                         warnings=o.get("warnings", _tuple_of(_str)))
            if o.get("verdict", _str) != report.verdict:
                raise ReportFormatError(f"field 'verdict' is {data.get('verdict')!r} but its thresholds say "
                                        f"{report.verdict!r}")
        except ReportFormatError as exc:
            raise ReportFormatError(f"{source}: {exc}") from None
        return report

"""Build ``report.json`` from a Recorder: the one document every output (HTML, Markdown, compare) is drawn from.

The writers never look at a Recorder; they read the :class:`~loadgen.report.document.Report` made
here, so ``loadgen report`` can rebuild them on any machine and a baseline is just a saved
``report.json``. The document's shape lives in :mod:`loadgen.report.document`; this module only
computes its values (percentiles, rates, targets, warnings) from the recorded data and meta.json.
"""

from __future__ import annotations

import math
import platform
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from urllib.parse import urlsplit, urlunsplit

from hdrh.histogram import HdrHistogram

from loadgen.ramp import Schedule, Stage, endpoint_schedule
from loadgen.report.causes import CPU_WARNING_PCT, drop_warning
from loadgen.report.document import (
    LATENCY_KEYS,
    SERIES_LATENCY_KEYS,
    EndpointSeries,
    EndpointStats,
    Environment,
    Histograms,
    Latencies,
    LatencyStats,
    LoadGenerator,
    PerSecond,
    Report,
    RunInfo,
    Totals,
    WindowedLatency,
)
from loadgen.report.recorder import (
    NS_PER_MS,
    EndpointData,
    Latency,
    Recorder,
    Second,
    new_histogram,
    sketch_quantile,
)
from loadgen.runfolder import ABORT_PREFIX, Meta
from loadgen.scenarios import CREATE, ENDPOINT_NAMES

#: Percentiles every latency block carries, keyed as in report.json ("p99.9").
PERCENTILES: tuple[tuple[str, float], ...] = tuple(zip(LATENCY_KEYS, (50.0, 90.0, 95.0, 99.0, 99.9), strict=False))
#: Per-second latency series (service time); "ip99" is p99 from the intended start.
SERIES_QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))
#: Fewest requests a per-second latency point is computed from. With 20 samples p90 and p95 are still the
#: 18th and 19th of them, real observations of the window, and the chart is not one outlier wide; below
#: that p90, p95 and p99 all collapse onto the window's maximum (at 2 bulk requests/s they were one
#: sample each, drawn as invisible specks). p99 needs 100 to be more than the maximum: the whole-run
#: HDR percentiles, not this chart, are the numbers to judge a tail by.
MIN_SAMPLES = 20
#: Windows (seconds) the latency series widen to, in order, until most windows hold MIN_SAMPLES.
LATENCY_WINDOWS = (1, 2, 5, 10, 15, 30, 60)


def safe_host(url: object) -> str:
    """The target URL without user, password, query or fragment: reports never carry credentials."""
    if not url:
        return ""
    parts = urlsplit(str(url))
    if not parts.scheme:
        return str(url).split("@")[-1].split("?")[0]
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal keeps its brackets, or the port could not be told apart
        netloc = f"[{netloc}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def latency_block(lat: Latency) -> LatencyStats:
    """Percentiles (HDR, 3 significant figures) plus the exact count, mean, min and max, in ms."""
    return histogram_block(lat.hist, mean_ms=lat.total_ms / max(lat.hist.get_total_count(), 1),
                           min_ms=lat.min_ms, max_ms=lat.max_ms)


def histogram_block(hist: HdrHistogram, *, mean_ms: float | None = None, min_ms: float | None = None,
                    max_ms: float | None = None) -> LatencyStats:
    count = hist.get_total_count()
    if count == 0:
        return LatencyStats(0, None, None, None, None, None, None, None, None)
    values = hist.get_percentile_to_value_dict([p for _, p in PERCENTILES])
    top = max_ms if max_ms is not None else hist.get_max_value() / NS_PER_MS
    bottom = min_ms if min_ms is not None and math.isfinite(min_ms) else hist.get_min_value() / NS_PER_MS
    # HDR answers with the top of a bucket; never report a percentile outside the exact range.
    pct = {key: min(max(values[p] / NS_PER_MS, bottom), top) for key, p in PERCENTILES}
    return LatencyStats(count, pct["p50"], pct["p90"], pct["p95"], pct["p99"], pct["p99.9"], max=top, min=bottom,
                        mean=mean_ms if mean_ms is not None else hist.get_mean_value() / NS_PER_MS)


def _versions(given: Mapping[str, str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for key, dist in (("tool", "capture-loadgen"), ("locust", "locust"), ("hdrhistogram", "hdrhistogram")):
        try:
            found[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[key] = None
    found.update(given)
    return found


def iso_utc(epoch: float | None = None) -> str:
    """``2026-11-25T18:43:49Z``: how reports write a moment (now when ``epoch`` is None)."""
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def target_rates(meta: Meta, endpoint: str) -> tuple[float | None, float | None]:
    """(requests/s, records/s) targets of an endpoint; ``targets`` values are a number or a dict."""
    raw = meta.targets.get(endpoint)
    if isinstance(raw, Mapping):
        req, rec = raw.get("requests_per_s"), raw.get("records_per_s")
        return (float(req) if req is not None else None, float(rec) if rec is not None else None)
    if isinstance(raw, int | float):
        return float(raw), (float(raw) if endpoint == CREATE.name else None)
    return None, None


def target_schedule(meta: Meta, endpoint: str) -> Schedule | None:
    """The arrival schedule an endpoint's pacer followed (None: the run has no target for it).

    Without ``stages`` the rate is constant for the run's ``duration_s`` (warm-up included, as ``loadgen run``
    gives it to Locust: no arrival after it), endless when a plain Locust run states none. With them,
    ``stages`` give the shape (in the main endpoint's units) and each endpoint follows it scaled so its mean
    is its ``targets`` rate (:func:`loadgen.ramp.endpoint_schedule`, with the shape's mean as main rate).
    """
    rate, _ = target_rates(meta, endpoint)
    if rate is None:
        return None
    stages = meta.stages or ((Stage(0.0, rate), Stage(meta.duration_s, rate)) if meta.duration_s else ())
    return endpoint_schedule(rate, stages, Schedule(0.0, stages).mean_rate)


def target_curve(meta: Meta, endpoint: str, seconds: int) -> list[float | None]:
    """Target requests/s of an endpoint at the middle of each second of the run (None after the last stage)."""
    schedule = target_schedule(meta, endpoint)
    if schedule is None:
        return [None] * seconds
    return [schedule.rate_at(i + 0.5) if i + 0.5 < schedule.duration else None for i in range(seconds)]


@dataclass(frozen=True, slots=True)
class Period:
    """The measured period, ``start`` to ``end`` (epoch), and where the arrival schedule began (``origin``)."""

    start: float
    end: float
    origin: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)


def measured_period(recorder: Recorder, meta: Meta) -> Period:
    """From the end of the warm-up (else the start of the schedule) to the last recorded moment, or to the
    moment the run stopped taking arrivals when it stopped early (``Recorder.stop_from``).

    A run stopped early (``--max-records``, Ctrl-C, a gate, a short ramp) measured only that long, to the
    fraction of a second: every rate and target of the report is over this period, never over a rounded or
    planned one. A recorder.json of an earlier version has no schedule start: the warm-up's end less its
    length stands for it, else the recorder's start.
    """
    origin = recorder.schedule_from
    if origin is None:
        origin = recorder.start if recorder.measure_from is None else recorder.measure_from - meta.warmup_s
    start = origin if recorder.measure_from is None else recorder.measure_from
    end = recorder.end if recorder.stop_from is None else min(recorder.end, recorder.stop_from)
    return Period(start, max(end, start), origin)


def _achieved(data: EndpointData, schedule: Schedule | None, period: Period, per_request: float | None
              ) -> float | None:
    """Successful work against the work the schedule offered in the measured period (None: it offered none).

    Offered: the arrivals due in the period, whole ones (a fraction of an arrival is never sent); a run stopped
    early offered those due until its last answer came, a few it did not send any more. Successful:
    the requests answered ok and the records created, as the recorder counted them (those due in the warm-up
    left out). Neither can exceed the offered work but by an arrival at the period's edge: the pacer keeps its
    schedule on the monotonic clock and sends an arrival a moment (``EARLY_S``) before it is due, the recorder
    dates it by the wall clock, so one answered arrival may be counted in and not yet due. Such an arrival is
    credited no more than the schedule offered: the ratio stops at 1.
    """
    if schedule is None:
        return None
    offered = (schedule.arrivals_by(period.end - period.origin)
               - schedule.arrivals_by(period.start - period.origin))
    if offered <= 0:
        return None
    ratios = [min(data.ok, offered) / offered]
    if per_request:
        ratios.append(min(data.records, offered * per_request) / (offered * per_request))
    return min(ratios)


def _endpoint_entry(name: str, data: EndpointData, period: Period, meta: Meta) -> EndpointStats:
    req_target, rec_target = target_rates(meta, name)
    schedule = target_schedule(meta, name)
    elapsed = period.seconds
    failed = data.requests - data.ok
    per_request = rec_target / req_target if req_target and rec_target is not None else None
    # the target over the measured period (a ramp cut short is judged on the part of it that ran), up to the
    # schedule's end: the last answers coming in after it would dilute the rate asked for (29.5 for 30/s)
    target = None
    if schedule is not None:
        t0, t1 = period.start - period.origin, min(period.end - period.origin, schedule.duration)
        target = (schedule.count(t1) - schedule.count(t0)) / (t1 - t0) if t1 > t0 else None
    return EndpointStats(
        requests=data.requests, ok=data.ok, failed=failed, records=data.records,
        failures=dict(sorted(data.failures.items())),
        error_rate=failed / data.requests if data.requests else 0.0,
        requests_per_s=data.requests / elapsed, records_per_s=data.records / elapsed,
        target_requests_per_s=target,
        target_records_per_s=None if target is None or per_request is None else target * per_request,
        # judged on successful work: failed requests and records never created did not serve the target
        achieved_ratio=_achieved(data, schedule, period, per_request),
        dropped=data.dropped, late=data.late,
        latency=Latencies(latency_block(data.service), latency_block(data.intended)),
        histograms=Histograms(data.service.to_json()["hdr"], data.intended.to_json()["hdr"]),
        clamped=data.service.clamped + data.intended.clamped,
    )


def latency_window(requests: Sequence[int]) -> int:
    """The narrowest of :data:`LATENCY_WINDOWS` in which at least half the windows that saw requests hold
    :data:`MIN_SAMPLES` of them (the chart is then mostly points, not gaps); the widest when none does."""
    for window in LATENCY_WINDOWS:
        sums = [sum(requests[i:i + window]) for i in range(0, len(requests), window)]
        active = [n for n in sums if n]
        if active and sum(n >= MIN_SAMPLES for n in active) * 2 >= len(active):
            return window
    return LATENCY_WINDOWS[-1]


def _windowed(secs: Sequence[Second | None], window: int) -> WindowedLatency:
    """Latency series over ``window``-second windows; a window with fewer than MIN_SAMPLES requests is None
    (a gap, not a point made of one or two requests)."""
    out: dict[str, list[float | None]] = {key: [] for key in SERIES_LATENCY_KEYS}
    for start in range(0, len(secs), window):
        chunk = [s for s in secs[start:start + window] if s is not None]
        count = sum(s.requests for s in chunk)
        service: Counter[int] = Counter()
        intended: Counter[int] = Counter()
        for sec in chunk:
            service.update(sec.service)
            intended.update(sec.intended)
        enough = count >= MIN_SAMPLES
        values = {key: sketch_quantile(service, q) if enough else None for key, q in SERIES_QUANTILES}
        values["mean"] = sum(s.sum_ms for s in chunk) / count if enough else None
        values["ip99"] = sketch_quantile(intended, 0.99) if enough else None
        for key, value in values.items():
            out[key].append(value)
    return WindowedLatency(window, *(tuple(out[key]) for key in SERIES_LATENCY_KEYS))


def _series(recorder: Recorder, datas: Mapping[str, EndpointData], meta: Meta) -> PerSecond:
    keys = [s for data in datas.values() for s in data.seconds]
    t0 = min(keys) if keys else math.floor(recorder.start)
    n = (max(keys) - t0 + 1) if keys else 0
    endpoints = {}
    for name, data in datas.items():
        secs = [data.seconds.get(t0 + i) for i in range(n)]
        labels = sorted({label for s in secs if s for label in s.failures})
        service = {key: tuple(sketch_quantile(s.service, q) if s else None for s in secs)
                   for key, q in SERIES_QUANTILES}
        endpoints[name] = EndpointSeries(
            requests=tuple(s.requests if s else 0 for s in secs),
            records=tuple(s.records if s else 0 for s in secs),
            dropped=tuple(s.dropped if s else 0 for s in secs),
            late=tuple(s.late if s else 0 for s in secs),
            failures={label: tuple(s.failures.get(label, 0) if s else 0 for s in secs) for label in labels},
            mean=tuple(s.sum_ms / s.requests if s and s.requests else None for s in secs),
            target=tuple(target_curve(meta, name, n)),
            p50=service["p50"], p90=service["p90"], p95=service["p95"], p99=service["p99"],
            ip99=tuple(sketch_quantile(s.intended, 0.99) if s else None for s in secs),
            windowed=_windowed(secs, latency_window([s.requests if s else 0 for s in secs])),
        )
    return PerSecond(t0, n, endpoints, recorder.busy_series(t0, n) if recorder.busy else ())


def _summary(endpoints: Mapping[str, EndpointStats], datas: Mapping[str, EndpointData], elapsed: float) -> Totals:
    requests = sum(e.requests for e in endpoints.values())
    failed = sum(e.failed for e in endpoints.values())
    records = sum(e.records for e in endpoints.values())
    failures: dict[str, int] = {}
    for entry in endpoints.values():
        for label, count in entry.failures.items():
            failures[label] = failures.get(label, 0) + count
    service, intended = new_histogram(), new_histogram()
    for data in datas.values():
        service.add(data.service.hist)
        intended.add(data.intended.hist)
    total_ms = sum(d.service.total_ms for d in datas.values())
    return Totals(
        requests=requests, failed=failed, records=records,
        failures=dict(sorted(failures.items())), error_rate=failed / requests if requests else 0.0,
        requests_per_s=requests / elapsed, records_per_s=records / elapsed,
        dropped=sum(e.dropped for e in endpoints.values()), late=sum(e.late for e in endpoints.values()),
        latency=Latencies(
            histogram_block(service, mean_ms=total_ms / requests if requests else None,
                            max_ms=max((d.service.max_ms for d in datas.values()), default=None)),
            histogram_block(intended)),
    )


def _load_generator(meta: Meta) -> LoadGenerator:
    cpu = dict(meta.workers_cpu)
    hot = sorted(k for k, v in cpu.items() if v > CPU_WARNING_PCT)
    warnings = tuple(f"load generator worker {k} used {cpu[k]:.0f}% CPU (above {CPU_WARNING_PCT:.0f}%): "
                     "latencies and rates are suspect, add workers or lower the rate" for k in hot)
    return LoadGenerator(cpu, max(cpu.values(), default=None), warnings)


def make_report(recorder: Recorder, meta: Meta) -> Report:
    """The report.json document (without threshold verdicts, which :mod:`thresholds` adds)."""
    names = [*ENDPOINT_NAMES, *sorted(set(recorder.endpoints) - set(ENDPOINT_NAMES))]
    datas = {name: recorder.endpoints.get(name) or EndpointData() for name in names}
    # the measured period: a warm-up's seconds are in the series only (the recorder kept them out of the rest)
    period = measured_period(recorder, meta)
    elapsed = period.seconds
    endpoints = {name: _endpoint_entry(name, data, period, meta) for name, data in datas.items()}
    load_gen = _load_generator(meta)
    warnings = [*meta.warnings, *load_gen.warnings]
    warnings += [f"stopped early by --abort-on-fail: {r}" for r in meta.stop_reasons if r.startswith(ABORT_PREFIX)]
    clamped = sum(e.clamped for e in endpoints.values())
    if clamped:
        warnings.append(f"{clamped} latencies above one hour were clamped to one hour")
    if not any(e.requests for e in endpoints.values()):
        warmed = sum(sec.requests for data in datas.values() for sec in data.seconds.values())
        if warmed and recorder.measure_from is not None:
            warnings.append(f"the run ended in its warm-up: nothing was measured ({warmed} requests of the warm-up "
                            "are in the per-second charts only)")
        elif meta.interrupted:
            warnings.append("no requests were recorded: the run was stopped (Ctrl-C) before its first")
        else:
            warnings.append("no requests were recorded: check the target URL and the run's log")
    series = _series(recorder, datas, meta)
    behind = drop_warning(endpoints, series, meta.users, load_gen.max_cpu)
    if behind:
        warnings.append(behind)
    run = RunInfo(
        run_id=meta.run_id, scenario=meta.scenario, host=safe_host(meta.host), profile=meta.profile,
        seed=meta.seed, schema_fingerprint=meta.schema_fingerprint, targets=dict(meta.targets),
        stages=meta.stages, duration_s=meta.duration_s, elapsed_s=elapsed,
        started_at=iso_utc(recorder.start if meta.started_at is None else meta.started_at),
        ended_at=iso_utc(recorder.end if meta.ended_at is None else meta.ended_at), users=meta.users,
        warmup_s=meta.warmup_s, store_records=meta.store_records,
    )
    environment = Environment(versions=_versions(meta.versions), platform=platform.platform(),
                              machine=platform.machine(), workers=len(load_gen.workers_cpu) or None)
    return Report(generated_at=iso_utc(), run=run, environment=environment, load_generator=load_gen,
                  summary=_summary({n: e for n, e in endpoints.items() if not datas[n].measure},
                                   {n: d for n, d in datas.items() if not d.measure}, elapsed),
                  endpoints=endpoints,
                  series=series, thresholds=(), warnings=tuple(warnings))

"""``report.json``: the one document every output (HTML, Markdown, compare) is drawn from.

The writers never look at a Recorder; they read this dict, so ``loadgen report`` can rebuild them on
any machine and a baseline is just a saved ``report.json``. The layout is versioned by
``schema_version`` and documented field by field in ``docs/report-schema.md``. Latencies are in
milliseconds, rates per second, times as ISO 8601 UTC text or epoch seconds (``series.t0``).
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hdrh.histogram import HdrHistogram

from loadgen.errors import UsageError
from loadgen.report.recorder import (
    ENDPOINTS,
    NS_PER_MS,
    EndpointData,
    Latency,
    Recorder,
    new_histogram,
    sketch_quantile,
)

SCHEMA_VERSION = 1
KIND = "capture-loadgen.report"
#: Percentiles every latency block carries, keyed as in report.json ("p99.9").
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9))
#: Per-second latency series (service time); "ip99" is p99 from the intended start.
SERIES_QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))
CPU_WARNING_PCT = 90.0


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


def latency_block(lat: Latency) -> dict[str, Any]:
    """Percentiles (HDR, 3 significant figures) plus the exact count, mean, min and max, in ms."""
    return histogram_block(lat.hist, mean_ms=lat.total_ms / max(lat.hist.get_total_count(), 1),
                           min_ms=lat.min_ms, max_ms=lat.max_ms)


def histogram_block(hist: HdrHistogram, *, mean_ms: float | None = None, min_ms: float | None = None,
                    max_ms: float | None = None) -> dict[str, Any]:
    count = hist.get_total_count()
    if count == 0:
        return {"count": 0, **{key: None for key, _ in PERCENTILES}, "max": None, "min": None, "mean": None}
    values = hist.get_percentile_to_value_dict([p for _, p in PERCENTILES])
    block: dict[str, Any] = {"count": count}
    top = max_ms if max_ms is not None else hist.get_max_value() / NS_PER_MS
    bottom = min_ms if min_ms is not None and math.isfinite(min_ms) else hist.get_min_value() / NS_PER_MS
    # HDR answers with the top of a bucket; never report a percentile outside the exact range.
    block.update({key: min(max(values[p] / NS_PER_MS, bottom), top) for key, p in PERCENTILES})
    block["max"], block["min"] = top, bottom
    block["mean"] = mean_ms if mean_ms is not None else hist.get_mean_value() / NS_PER_MS
    return block


def _versions(given: Mapping[str, Any]) -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for key, dist in (("tool", "capture-loadgen"), ("locust", "locust"), ("hdrhistogram", "hdrhistogram")):
        try:
            found[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[key] = None
    found.update({str(k): (None if v is None else str(v)) for k, v in given.items()})
    return found


def iso_utc(epoch: float | None = None) -> str:
    """``2026-11-25T18:43:49Z``: how reports write a moment (now when ``epoch`` is None)."""
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _iso(moment: object, fallback: float) -> str:
    if isinstance(moment, str) and moment:
        return moment
    return iso_utc(float(moment) if isinstance(moment, int | float) else fallback)


def target_rates(meta: Mapping[str, Any], endpoint: str) -> tuple[float | None, float | None]:
    """(requests/s, records/s) targets of an endpoint; ``targets`` values are a number or a dict."""
    raw = (meta.get("targets") or {}).get(endpoint)
    if isinstance(raw, Mapping):
        req, rec = raw.get("requests_per_s"), raw.get("records_per_s")
        return (float(req) if req is not None else None, float(rec) if rec is not None else None)
    if isinstance(raw, int | float):
        return float(raw), (float(raw) if endpoint == "create" else None)
    return None, None


def stage_shape(stages: Sequence[Mapping[str, Any]], seconds: int) -> list[float | None]:
    """Requests/s at the middle of each second of k6-style ramping stages (None after the last).

    A stage ``{"duration_s": 30, "rate": 50}`` ramps linearly from the previous stage's rate (0 at
    the start) to 50/s over 30 s; a stage of duration 0 is a step. This is ``loadgen run --stages``.
    """
    spans: list[tuple[float, float, float, float]] = []  # start, end, from, to
    start, previous = 0.0, 0.0
    for stage in stages:
        length = float(stage.get("duration_s", stage.get("duration", 0)) or 0)
        rate = float(stage.get("rate", 0) or 0)
        if length > 0:
            spans.append((start, start + length, previous, rate))
        start, previous = start + length, rate
    curve: list[float | None] = []
    for i in range(seconds):
        t = i + 0.5
        span = next((sp for sp in spans if sp[0] <= t < sp[1]), None)
        curve.append(None if span is None else span[2] + (span[3] - span[2]) * (t - span[0]) / (span[1] - span[0]))
    return curve


def target_curve(meta: Mapping[str, Any], endpoint: str, seconds: int) -> list[float | None]:
    """Target requests/s of an endpoint for each second of the run.

    Without ``stages`` the target is constant. With them, ``stages`` give the shape (in the main
    endpoint's units) and each endpoint follows it scaled so its mean is its ``targets`` rate, as
    the pacers of ``loadgen run`` do.
    """
    rate, _ = target_rates(meta, endpoint)
    stages = meta.get("stages") or []
    if rate is None or not isinstance(stages, Sequence) or not all(isinstance(s, Mapping) for s in stages) \
            or not stages:
        return [rate] * seconds
    full = stage_shape(stages, math.ceil(sum(float(s.get("duration_s", s.get("duration", 0)) or 0)
                                             for s in stages)))
    values = [v for v in full if v is not None]
    mean = sum(values) / len(values) if values else 0.0
    factor = rate / mean if mean else 0.0
    shape = stage_shape(stages, seconds)
    return [None if v is None else v * factor for v in shape]


def _endpoint_entry(name: str, data: EndpointData, elapsed: float, meta: Mapping[str, Any]) -> dict[str, Any]:
    req_target, rec_target = target_rates(meta, name)
    failed = data.requests - data.ok
    achieved = data.requests / elapsed
    planned = sum(r for r in target_curve(meta, name, max(1, round(elapsed))) if r is not None)
    return {
        "requests": data.requests, "ok": data.ok, "failed": failed, "records": data.records,
        "failures": dict(sorted(data.failures.items())),
        "error_rate": failed / data.requests if data.requests else 0.0,
        "requests_per_s": achieved, "records_per_s": data.records / elapsed,
        "target_requests_per_s": req_target, "target_records_per_s": rec_target,
        "achieved_ratio": (data.requests + 0.0) / planned if planned else None,
        "dropped": data.dropped, "late": data.late,
        "latency": {"service": latency_block(data.service), "intended": latency_block(data.intended)},
        "histograms": {"service": data.service.to_json()["hdr"], "intended": data.intended.to_json()["hdr"]},
        "clamped": data.service.clamped + data.intended.clamped,
    }


def _series(recorder: Recorder, datas: Mapping[str, EndpointData], meta: Mapping[str, Any]) -> dict[str, Any]:
    keys = [s for data in datas.values() for s in data.seconds]
    t0 = min(keys) if keys else math.floor(recorder.start)
    n = (max(keys) - t0 + 1) if keys else 0
    out: dict[str, Any] = {"t0": t0, "length": n, "endpoints": {}}
    for name, data in datas.items():
        secs = [data.seconds.get(t0 + i) for i in range(n)]
        labels = sorted({label for s in secs if s for label in s.failures})
        entry: dict[str, Any] = {
            "requests": [s.requests if s else 0 for s in secs],
            "records": [s.records if s else 0 for s in secs],
            "dropped": [s.dropped if s else 0 for s in secs],
            "late": [s.late if s else 0 for s in secs],
            "failures": {label: [s.failures.get(label, 0) if s else 0 for s in secs] for label in labels},
            "mean": [s.sum_ms / s.requests if s and s.requests else None for s in secs],
            "target": target_curve(meta, name, n),
        }
        for key, q in SERIES_QUANTILES:
            entry[key] = [sketch_quantile(s.service, q) if s else None for s in secs]
        entry["ip99"] = [sketch_quantile(s.intended, 0.99) if s else None for s in secs]
        out["endpoints"][name] = entry
    return out


def _summary(endpoints: Mapping[str, dict[str, Any]], datas: Mapping[str, EndpointData],
             elapsed: float) -> dict[str, Any]:
    requests = sum(e["requests"] for e in endpoints.values())
    failed = sum(e["failed"] for e in endpoints.values())
    failures: dict[str, int] = {}
    for entry in endpoints.values():
        for label, count in entry["failures"].items():
            failures[label] = failures.get(label, 0) + count
    service, intended = new_histogram(), new_histogram()
    for data in datas.values():
        service.add(data.service.hist)
        intended.add(data.intended.hist)
    total_ms = sum(d.service.total_ms for d in datas.values())
    return {
        "requests": requests, "failed": failed, "records": sum(e["records"] for e in endpoints.values()),
        "failures": dict(sorted(failures.items())), "error_rate": failed / requests if requests else 0.0,
        "requests_per_s": requests / elapsed,
        "records_per_s": sum(e["records"] for e in endpoints.values()) / elapsed,
        "dropped": sum(e["dropped"] for e in endpoints.values()),
        "late": sum(e["late"] for e in endpoints.values()),
        "latency": {
            "service": histogram_block(service, mean_ms=total_ms / requests if requests else None,
                                       max_ms=max((d.service.max_ms for d in datas.values()),
                                                  default=None)),
            "intended": histogram_block(intended),
        },
    }


def _load_generator(meta: Mapping[str, Any]) -> dict[str, Any]:
    cpu = {str(k): float(v) for k, v in (meta.get("workers_cpu") or {}).items() if isinstance(v, int | float)}
    hot = sorted(k for k, v in cpu.items() if v > CPU_WARNING_PCT)
    warnings = [f"load generator worker {k} used {cpu[k]:.0f}% CPU (above {CPU_WARNING_PCT:.0f}%): "
                "latencies and rates are suspect, add workers or lower the rate" for k in hot]
    return {"workers_cpu": cpu, "max_cpu": max(cpu.values(), default=None), "warnings": warnings}


def make_report(recorder: Recorder, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The report.json document (without threshold verdicts, which :mod:`thresholds` adds)."""
    names = [*ENDPOINTS, *sorted(set(recorder.endpoints) - set(ENDPOINTS))]
    datas = {name: recorder.endpoints.get(name) or EndpointData() for name in names}
    elapsed = max(recorder.end - recorder.start, 1e-9)
    endpoints = {name: _endpoint_entry(name, data, elapsed, meta) for name, data in datas.items()}
    load_gen = _load_generator(meta)
    warnings = [*(str(w) for w in meta.get("warnings") or ()), *load_gen["warnings"]]
    clamped = sum(e["clamped"] for e in endpoints.values())
    if clamped:
        warnings.append(f"{clamped} latencies above one hour were clamped to one hour")
    if not any(e["requests"] for e in endpoints.values()):
        warnings.append("no requests were recorded: check the target URL and the run's log")
    late = sum(e["late"] + e["dropped"] for e in endpoints.values())
    if late:
        warnings.append(f"{late} arrivals were late or dropped: the generator fell behind its schedule")
    run = {
        "run_id": str(meta.get("run_id", "")), "scenario": str(meta.get("scenario", "")),
        "host": safe_host(meta.get("host")), "profile": meta.get("profile"), "seed": meta.get("seed"),
        "schema_fingerprint": meta.get("schema_fingerprint"), "targets": dict(meta.get("targets") or {}),
        "stages": list(meta.get("stages") or []), "duration_s": meta.get("duration_s"),
        "elapsed_s": elapsed,
        "started_at": _iso(meta.get("started_at"), recorder.start),
        "ended_at": _iso(meta.get("ended_at"), recorder.end),
    }
    environment = {"versions": _versions(meta.get("versions") or {}), "platform": platform.platform(),
                   "machine": platform.machine(), "workers": len(load_gen["workers_cpu"]) or None}
    return {
        "schema_version": SCHEMA_VERSION, "kind": KIND,
        "generated_at": iso_utc(),
        "run": run, "environment": environment, "load_generator": load_gen,
        "summary": _summary(endpoints, datas, elapsed), "endpoints": endpoints,
        "series": _series(recorder, datas, meta), "thresholds": [], "verdict": "none",
        "warnings": warnings,
    }


def check_report(doc: object, source: str = "report.json") -> dict[str, Any]:
    """Validate the envelope of a loaded report; a wrong kind or version is a one-line UsageError."""
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise UsageError(f"{source}: not a capture-loadgen report")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UsageError(f"{source}: report schema_version {version!r} is not supported "
                         f"(this tool reads {SCHEMA_VERSION}); rebuild it with `loadgen report`")
    for key in ("run", "summary", "endpoints", "series"):
        if not isinstance(doc.get(key), dict):
            raise UsageError(f"{source}: missing or malformed {key!r} section")
    return doc

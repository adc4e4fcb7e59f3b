"""Baseline comparison: a per-endpoint table of metrics, deltas and noise-aware verdicts.

A gate fails only when the change is both *larger than allowed* (``--max-regression p95=10%``) and
*consistently beyond the allowance across the run's seconds*: a one-sided Mann-Whitney U test of the
run's per-second values against the baseline's shifted by the allowance, p < 0.01. A big change
that the seconds do not support is reported as noise; too few seconds is reported as thin evidence
(a skipped test in JUnit), never silently passed or failed.

Exit codes: 0 pass, 3 regression, 2 incompatible runs (different scenario, rates, stages, schema or
target) unless forced.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from loadgen.errors import ExitCode, UsageError
from loadgen.report.build import load_report
from loadgen.report.document import SERIES_LATENCY_KEYS, Report
from loadgen.report.stats import MIN_SAMPLES, bootstrap_interval, mann_whitney_greater, median
from loadgen.report.thresholds import format_metric
from loadgen.scenarios import request_scope

ALPHA = 0.01
#: metric -> allowed worsening (relative; for error_rate, absolute fraction). Overridable per endpoint.
DEFAULT_LIMITS: dict[str, float] = {"p50": 0.10, "p95": 0.10, "p99": 0.20, "mean": 0.10,
                                    "records_per_s": 0.10, "error_rate": 0.01}
_LATENCY = ("p50", "p90", "p95", "p99", "mean")
_HIGHER_IS_BETTER = ("requests_per_s", "records_per_s")
_METRICS = (*_LATENCY, *_HIGHER_IS_BETTER, "error_rate")
_LIMIT = re.compile(r"^\s*(?:(?P<scope>\w[\w -]*?)\.)?(?P<metric>[\w]+)\s*=\s*(?P<num>[0-9]+(?:\.[0-9]+)?)\s*%\s*$")
#: run fields that must match for a comparison to mean anything.
_COMPAT = ("scenario", "targets", "stages", "schema_fingerprint", "host")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Gate:
    """One metric of one endpoint, compared."""

    endpoint: str
    metric: str
    baseline: float | None
    run: float | None
    change: float | None        # relative (latency, rates) or absolute (error_rate); + means worse
    limit: float
    p_value: float | None
    #: the per-second median's relative change, and its bootstrap 95% interval: the statistic the rank test
    #: looks at, which is not the whole-run figure of ``change`` (a p95 over all requests), so it comes with
    #: its own point estimate rather than as an interval around ``change``
    seconds_change: float | None
    interval: tuple[float, float] | None
    seconds: tuple[int, int]
    verdict: str                # pass | improved | noise | thin | absent | regression

    @property
    def failed(self) -> bool:
        """A regression, or a metric the baseline has and the run has not (its endpoint went silent)."""
        return self.verdict in ("regression", "absent")


@dataclass
class Comparison:
    baseline_id: str
    run_id: str
    gates: list[Gate] = field(default_factory=list)
    incompatible: list[str] = field(default_factory=list)
    forced: bool = False

    @property
    def exit_code(self) -> int:
        if self.incompatible and not self.forced:
            return ExitCode.USAGE
        return ExitCode.THRESHOLD if any(g.failed for g in self.gates) else ExitCode.OK


def parse_limits(items: Iterable[str]) -> dict[tuple[str, str], float]:
    """``["p95=10%", "create.error_rate=0.5%"]`` -> {("all","p95"): 0.1, ("create","error_rate"): 0.005}."""
    limits: dict[tuple[str, str], float] = {}
    for item in items:
        match = _LIMIT.match(item)
        if not match or match["metric"] not in _METRICS:
            raise UsageError(f"--max-regression {item!r}: expected [endpoint.]metric=N% with metric one of "
                             f"{', '.join(_METRICS)}")
        try:
            scope = request_scope(match["scope"] or "all")
        except ValueError as exc:
            raise UsageError(f"--max-regression {item!r}: {exc}") from None
        limits[(scope, match["metric"])] = float(match["num"]) / 100
    return limits


def _target(host: object) -> str:
    """The comparable part of a target URL: an embedded sandbox listens on a new port every run."""
    parts = urlsplit(str(host or ""))
    if parts.hostname in _LOOPBACK:
        return "loopback"
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}" if parts.scheme else str(host or "")


def incompatibilities(base: Report, run: Report) -> list[str]:
    """Why two reports should not be compared (empty when they may be), one readable line per field.

    ``targets differ: create.requests_per_s: baseline 50, run 80``: the fields as report.json names
    them, each differing value shown plainly, never a Python dict.
    """
    reasons = []
    fields_a, fields_b = base.run.to_json(), run.run.to_json()   # as written in report.json, for the message
    for key in _COMPAT:
        a, b = fields_a[key], fields_b[key]
        if key == "host" and _target(a) == _target(b):
            continue
        if a != b:
            reasons.append(_difference(key, a, b))
    return reasons + store_size_difference(base, run)


#: Runs whose store sizes (records stored when the measured phase began) differ by more than this
#: factor are not compared without --force: a unique index and an identity store slow down as they fill.
STORE_FACTOR = 2.0
#: Stores below this many records count as this many: so small an index fits in memory either way, and two
#: runs against one sandbox (the second finding the first's records) stay comparable.
STORE_FLOOR = 10_000


def store_size_difference(base: Report, run: Report) -> list[str]:
    """One line when both store sizes are known and further apart than :data:`STORE_FACTOR`, else none."""
    a, b = base.run.store_records, run.run.store_records
    if a is None or b is None or max(a, b) <= STORE_FACTOR * max(min(a, b), STORE_FLOOR):
        return []
    return [f"store sizes differ by more than {STORE_FACTOR:g}x: baseline {a:,} records stored, run {b:,} "
            "(latency grows with the store: prefill one to match, or --force)"]


def _difference(key: str, a: object, b: object) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        flat_a, flat_b = _flat(a), _flat(b)
        parts = [f"{name}: baseline {_shown(flat_a.get(name))}, run {_shown(flat_b.get(name))}"
                 for name in sorted(flat_a.keys() | flat_b.keys()) if flat_a.get(name) != flat_b.get(name)]
        return f"{key} differ: {'; '.join(parts)}"
    verb = "differ" if key.endswith("s") else "differs"
    return f"{key} {verb}: baseline {_shown(a)}, run {_shown(b)}"


def _flat(value: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """``{"create": {"requests_per_s": 50}}`` -> ``{"create.requests_per_s": 50}``."""
    flat: dict[str, object] = {}
    for name, item in value.items():
        if isinstance(item, Mapping):
            flat.update(_flat(item, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = item
    return flat


def _shown(value: object) -> str:
    """A value of report.json's ``run`` as a person reads it: ``50``, ``0s:50/s 60s:50/s``, ``none``."""
    if value is None or value == [] or value == "":
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):   # stages
        return " ".join(f"{_shown(s.get('duration_s'))}s:{_shown(s.get('rate'))}/s" if isinstance(s, dict)
                        else _shown(s) for s in value)
    return str(value)


def _trim(values: Sequence[T]) -> list[T]:
    """Drop the first and last second (partial) of a series."""
    return list(values[1:-1]) if len(values) > 2 else []


def _per_second(report: Report, endpoint: str, metric: str) -> list[float]:
    series = report.series.endpoints.get(endpoint)
    if series is None:
        return []
    skip = math.ceil(report.run.warmup_s)   # the warm-up's seconds are drawn, never compared
    if metric == "error_rate":
        requests = series.requests
        failed = [sum(col) for col in zip(*series.failures.values(), strict=True)] or [0] * len(requests)
        pairs = _trim(list(zip(failed, requests, strict=True))[skip:])
        return [f / n for f, n in pairs if n]
    if metric in _HIGHER_IS_BETTER:
        return [float(v) for v in _trim((series.requests if metric == "requests_per_s" else series.records)[skip:])]
    return [float(v) for v in _trim(series.latency(metric)[skip:]) if v is not None]


def _value(report: Report, endpoint: str, metric: str) -> float | None:
    entry = report.endpoints.get(endpoint)
    if entry is None:
        return None
    if metric in _LATENCY:
        return entry.latency.service.value(metric)
    return {"requests_per_s": entry.requests_per_s, "records_per_s": entry.records_per_s,
            "error_rate": entry.error_rate}[metric]


def _change(metric: str, base: float, run: float) -> float:
    """Worsening as a signed number: relative for most metrics, absolute for error_rate."""
    if metric == "error_rate":
        return run - base
    if base == 0:
        return 0.0 if run == 0 else (-math.inf if metric in _HIGHER_IS_BETTER else math.inf)
    rel = run / base - 1
    return -rel if metric in _HIGHER_IS_BETTER else rel


def _allowed(metric: str, base: list[float], run: list[float], limit: float) -> tuple[list[float], list[float]]:
    """Samples oriented so "run > base" means "worse than the baseline by more than the limit".

    Shifting the baseline's seconds by the allowed change makes the rank test ask the question the
    gate needs (is the run consistently worse *beyond the allowance*?), not merely "is it different".
    """
    if metric == "error_rate":
        return [v + limit for v in base], run
    if metric in _HIGHER_IS_BETTER:
        return [-v * (1 - limit) for v in base], [-v for v in run]
    return [v * (1 + limit) for v in base], run


def _gate(base: Report, run: Report, endpoint: str, metric: str, limit: float) -> Gate:
    b, r = _value(base, endpoint, metric), _value(run, endpoint, metric)
    sa, sb = _per_second(base, endpoint, metric), _per_second(run, endpoint, metric)
    seconds = (len(sa), len(sb))
    if b is None or r is None:
        verdict = "absent" if r is None and b is not None else "thin"   # the baseline had it: the run lost it
        return Gate(endpoint, metric, b, r, None, limit, None, None, None, seconds, verdict)
    change = _change(metric, b, r)
    p_value = interval = seconds_change = None
    thin = min(seconds) < MIN_SAMPLES
    if not thin:
        if metric != "error_rate" and median(sa) > 0:
            seconds_change = median(sb) / median(sa) - 1
            interval = bootstrap_interval(sa, sb, median, rounds=400)
        p_value = mann_whitney_greater(*_allowed(metric, sa, sb, limit)).p_value
    if change <= limit:
        verdict = "pass"
        if -change > limit and not thin:
            sign = -1.0 if metric in _HIGHER_IS_BETTER else 1.0
            better = mann_whitney_greater([sign * v for v in sb], [sign * v for v in sa]).p_value < ALPHA
            verdict = "improved" if better else "pass"
    elif thin:
        verdict = "thin"
    else:
        verdict = "regression" if p_value is not None and p_value < ALPHA else "noise"
    return Gate(endpoint, metric, b, r, change, limit, p_value, seconds_change, interval, seconds, verdict)


def compare_reports(base: Report, run: Report, *,
                    limits: Mapping[tuple[str, str], float] | None = None, force: bool = False) -> Comparison:
    """Compare two report.json documents gate by gate (endpoints with traffic in both runs)."""
    limits = dict(limits or {})
    result = Comparison(base.run.run_id, run.run.run_id,
                        incompatible=incompatibilities(base, run), forced=force)
    if result.incompatible and not force:
        return result
    metrics = list(dict.fromkeys([*DEFAULT_LIMITS, *(m for _, m in limits)]))
    for endpoint, entry in base.endpoints.items():
        if not entry.requests:
            continue
        for metric in metrics:
            limit = limits.get((endpoint, metric), limits.get(("all", metric), DEFAULT_LIMITS.get(metric)))
            if metric == "records_per_s" and not entry.records:
                continue
            if limit is not None:
                result.gates.append(_gate(base, run, endpoint, metric, limit))
    return result


def _pct(value: float | None, absolute: bool = False) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    shown = round(value * 100, 2 if absolute else 1) or 0.0  # no "-0.0%"
    return f"{shown:+.2f} pp" if absolute else f"{shown:+.1f}%"


_NOTES = {"pass": "ok", "improved": "improved", "noise": "ok (within noise)",
          "thin": "inconclusive: too few seconds", "regression": "REGRESSION",
          "absent": "NO DATA in the run (the baseline has it)"}


def table_rows(result: Comparison) -> list[list[str]]:
    """Rows of the side-by-side table (header first), shared by the console and Markdown output."""
    rows = [["endpoint", "metric", "baseline", "run", "change", "allowed", "per-second median (95% CI)", "p",
             "seconds", "verdict"]]
    for g in result.gates:
        absolute = g.metric == "error_rate"
        worse = g.change
        shown = None if worse is None else (-worse if g.metric in _HIGHER_IS_BETTER else worse)
        ci = ("–" if g.interval is None or g.seconds_change is None else
              f"{_pct(g.seconds_change)} ({_pct(g.interval[0])}..{_pct(g.interval[1])})")
        rows.append([
            g.endpoint, g.metric,
            "–" if g.baseline is None else format_metric(g.metric, g.baseline),
            "–" if g.run is None else format_metric(g.metric, g.run),
            _pct(shown, absolute), f"{g.limit * 100:.1f}{' pp' if absolute else '%'}", ci,
            "–" if g.p_value is None else ("<0.001" if g.p_value < 0.001 else f"{g.p_value:.3f}"),
            f"{g.seconds[0]}/{g.seconds[1]}",
            _NOTES[g.verdict]])
    return rows


def format_table(result: Comparison) -> str:
    """Plain-text table plus a one-line conclusion."""
    lines = [f"baseline {result.baseline_id or '?'}  vs  run {result.run_id or '?'}"]
    lines += [f"incompatible: {reason}" for reason in result.incompatible]
    if result.incompatible and not result.forced:
        lines.append("runs are incompatible: not compared (use --force to compare anyway)")
        return "\n".join(lines)
    rows = table_rows(result)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    regressions = [f"{g.endpoint}.{g.metric}" for g in result.gates if g.failed]
    thin = sum(g.verdict == "thin" for g in result.gates)
    verdict = f"REGRESSION in {', '.join(regressions)}" if regressions else "PASS: no regression beyond noise"
    if thin:
        verdict += f" ({thin} gate(s) inconclusive: run longer for more per-second samples)"
    lines.append(verdict)
    return "\n".join(lines)


def junit_xml(result: Comparison) -> str:
    """JUnit XML: one testcase per gate (failure = regression, skipped = thin evidence)."""
    suite = ET.Element("testsuite", name="loadgen.compare", tests=str(len(result.gates) + 1),
                       failures=str(sum(g.failed for g in result.gates)),
                       skipped=str(sum(g.verdict == "thin" for g in result.gates)), errors="0")
    compat = ET.SubElement(suite, "testcase", classname="loadgen.compare", name="compatibility")
    if result.incompatible:
        tag = "skipped" if result.forced else "failure"
        ET.SubElement(compat, tag, message="; ".join(result.incompatible))
        if not result.forced:
            suite.set("failures", str(int(suite.get("failures", "0")) + 1))
    rows = table_rows(result)[1:]
    for gate, row in zip(result.gates, rows, strict=True):
        case = ET.SubElement(suite, "testcase", classname=f"loadgen.compare.{gate.endpoint}", name=gate.metric)
        detail = (f"baseline {row[2]}, run {row[3]}, change {row[4]} (allowed {row[5]}), "
                  f"per-second median {row[6]}, p={row[7]}, seconds {row[8]}")
        if gate.verdict == "absent":
            ET.SubElement(case, "failure", message=f"{gate.endpoint}.{gate.metric}: no data in the run").text = detail
        elif gate.failed:
            ET.SubElement(case, "failure", message=f"{gate.endpoint}.{gate.metric} regressed: {row[4]}").text = detail
        elif gate.verdict == "thin":
            ET.SubElement(case, "skipped", message="evidence too thin").text = detail
        ET.SubElement(case, "system-out").text = f"{_NOTES[gate.verdict]}: {detail}"
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def compare_runs(baseline: str | os.PathLike[str] | Report, run: str | os.PathLike[str], *,
                 max_regression: Iterable[str] = (), force: bool = False,
                 junit: str | os.PathLike[str] | None = None) -> Comparison:
    """Compare two run folders (or report.json files; the baseline also as a kept report); write JUnit XML when asked.

    The entry point for ``loadgen compare`` and for end-to-end tests: ``result.exit_code`` is what
    the command exits with and ``format_table(result)`` what it prints.
    """
    base = baseline if isinstance(baseline, Report) else load_report(baseline)
    result = compare_reports(base, load_report(run), limits=parse_limits(max_regression),
                             force=force)
    if junit is not None:
        Path(junit).write_text(junit_xml(result), encoding="utf-8")
    return result


def beyond_limit(report: Report, endpoint: str, metric: str, limit: float, *, higher_is_worse: bool) -> float | None:
    """The p-value that ``endpoint``'s seconds are consistently beyond ``limit``: the one-sided rank
    test of the gates above, against a fixed limit rather than a baseline's seconds (None: fewer than
    ``MIN_SAMPLES`` seconds, or a metric without a per-second series). ``loadgen capacity`` judges each
    step's SLO breaches with it, so a step fails on what its seconds support, not on one bad second."""
    key = "ip99" if metric == "intended_p99" else metric
    if key not in (*SERIES_LATENCY_KEYS, *_HIGHER_IS_BETTER, "error_rate"):
        return None   # no per-second series of it (p99.9, max, counts)
    seconds = _per_second(report, endpoint, key)
    if len(seconds) < MIN_SAMPLES:
        return None
    sign = 1.0 if higher_is_worse else -1.0
    return mann_whitney_greater([sign * limit] * len(seconds), [sign * v for v in seconds]).p_value

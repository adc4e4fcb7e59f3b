"""Change points in a history: when a metric moved, by how much, and how sure, by Apache Otava.

Each metric of each endpoint (p50/p95/p99 service time, intended p99, achieved ratio, records/s,
error rate) is one number per run; Otava's ``compute_change_points`` (E-divisive means over sliding
windows, each candidate kept only when a two-sided t-test of the runs before against the runs after
gives p < ``max_pvalue``; Fleming et al., "Hunter", ICPE 2023) finds where its level shifts. The
detector is Otava's, not ours: this module only feeds it series and reads its answers.

A change is a *regression* when it makes the metric worse, starts within the newest ``recent`` runs
and at least :data:`CONFIRM` runs sit on the new level: that is what ``loadgen history check`` exits 3
for. One run alone is *pending* (shown, not failed): Otava's t-test against a one-run segment flags
a single slow run, and one noisy run failing the gate is what a history is meant to avoid. An older
worsening stays on the page and in the table, but is taken as the series' new normal.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from loadgen.errors import ExitCode, UsageError
from loadgen.report.document import Report
from loadgen.report.history import Series, StoredRun
from loadgen.report.thresholds import metric_value

#: Significance of Otava's t-test (its split step takes candidates at ten times this). Half Otava's default
#: 0.001: over 1000 series of 30 runs (``bench/history.py``'s noise) 0.001 alarmed on 2.1% of stationary
#: series, 0.0005 on 1.0%, both finding 97.2% of 10% steps.
MAX_PVALUE = 0.0005
#: A worsening that starts within this many newest runs fails ``history check``.
RECENT = 5
#: Runs on a new level before a worsening fails the gate (fewer: pending).
CONFIRM = 2
#: Fewer runs than this carry no change point worth a verdict.
MIN_RUNS = 6
#: Otava's sliding window (runs); a series shorter than it is analysed in one piece.
WINDOW = 50


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of one endpoint as a series; ``name`` is how tables and JUnit call it (``create.p95``)."""

    endpoint: str
    key: str              # p50, p95, p99, intended_p99, achieved_ratio, records_per_s, error_rate
    unit: str             # "ms", "/s", "%" (shown as percent of a fraction)
    higher_is_worse: bool

    @property
    def name(self) -> str:
        return f"{self.endpoint}.{self.key}"

    @property
    def absolute(self) -> bool:
        """Its change is told in points, not relative (an error rate from 0 has no relative change)."""
        return self.key == "error_rate"


_KEYS = (("p50", "ms", True), ("p95", "ms", True), ("p99", "ms", True), ("intended_p99", "ms", True),
         ("achieved_ratio", "%", False), ("records_per_s", "/s", False), ("error_rate", "%", True))


def _value(report: Report, endpoint: str, key: str) -> float | None:
    """The metric as the thresholds read it (:func:`~loadgen.report.thresholds.metric_value`); None for an
    endpoint without requests, and records/s of one that creates none (not a metric of it, not a zero)."""
    entry = report.endpoints.get(endpoint)
    if entry is None or not entry.requests or (key == "records_per_s" and not entry.records):
        return None
    return metric_value(report, endpoint, key)


@dataclass(frozen=True, slots=True)
class MetricSeries:
    metric: Metric
    values: tuple[float | None, ...]     # one per run of the series; None: not measured in that run


def metric_series(reports: Sequence[Report]) -> list[MetricSeries]:
    """Every metric measured in at least one run, endpoints in report order."""
    endpoints = list(dict.fromkeys(name for r in reports for name in r.endpoints))
    found = []
    for endpoint in endpoints:
        for key, unit, worse_up in _KEYS:
            values = tuple(_value(r, endpoint, key) for r in reports)
            if any(v is not None for v in values):
                found.append(MetricSeries(Metric(endpoint, key, unit, worse_up), values))
    return found


@dataclass(frozen=True, slots=True)
class Change:
    """A level shift found by Otava: the runs from ``index`` on differ from those before it."""

    metric: Metric
    index: int            # position in the series of the first run on the new level
    run: StoredRun
    before: float         # mean of the segment before
    after: float          # mean of the segment after
    p_value: float        # Otava's t-test of the two segments
    recent: bool          # starts within the newest runs
    pending: bool         # fewer than CONFIRM runs on the new level so far

    @property
    def change(self) -> float:
        """Relative change (``+0.10`` = 10% higher), or the difference itself for an absolute metric."""
        if self.metric.absolute:
            return self.after - self.before
        return self.after / self.before - 1 if self.before else 0.0

    @property
    def worse(self) -> bool:
        return (self.after > self.before) == self.metric.higher_is_worse and self.after != self.before

    @property
    def regression(self) -> bool:
        return self.worse and self.recent and not self.pending

    @property
    def verdict(self) -> str:
        if self.regression:
            return "REGRESSION"
        if self.worse:
            return "pending" if self.pending else "worse (older)"
        return "better"


@dataclass(frozen=True, slots=True)
class Analysis:
    series: Series
    metrics: tuple[MetricSeries, ...]
    changes: tuple[Change, ...]      # by run, then metric
    recent: int
    max_pvalue: float

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    @property
    def exit_code(self) -> int:
        return ExitCode.THRESHOLD if self.regressions else ExitCode.OK


def change_points(values: Sequence[float], *, max_pvalue: float = MAX_PVALUE,
                  min_change: float = 0.0) -> list[tuple[int, float, float, float]]:
    """Otava's change points of one series: (index, p-value, mean before, mean after) each, by index.

    Otava's t-test divides by the segments' spread: a flat stretch makes numpy warn of a zero
    division it already handles (p = nan, dropped by its merge step), so those warnings are muted here.
    """
    try:
        from otava.analysis import compute_change_points
    except ImportError:
        raise UsageError("change-point detection needs Apache Otava: pip install 'capture-loadgen[history]'") from None
    if len(values) < MIN_RUNS or max(values) == min(values):
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        points, _ = compute_change_points(list(values), window_len=WINDOW, max_pvalue=max_pvalue,
                                          min_magnitude=min_change)
    return [(int(p.index), float(p.stats.pvalue), float(p.stats.mean_1), float(p.stats.mean_2)) for p in points]


def analyse(series: Series, reports: Sequence[Report], *, max_pvalue: float = MAX_PVALUE, min_change: float = 0.0,
            recent: int = RECENT) -> Analysis:
    """Every metric's change points over the series' runs (``reports`` in the same order)."""
    metrics = metric_series(reports)
    changes = []
    for ms in metrics:
        where = [i for i, v in enumerate(ms.values) if v is not None]   # runs that measured it
        present = [v for v in ms.values if v is not None]
        for index, p_value, before, after in change_points(present, max_pvalue=max_pvalue, min_change=min_change):
            at = where[index]
            runs = len(series.runs)
            changes.append(Change(ms.metric, at, series.runs[at], before, after, p_value,
                                  recent=at >= runs - recent, pending=at > runs - CONFIRM))
    changes.sort(key=lambda c: (c.index, c.metric.name))
    return Analysis(series, tuple(metrics), tuple(changes), recent, max_pvalue)


def format_change(change: Change) -> str:
    """``+10.2% (4.10 ms -> 4.52 ms)`` or, for an absolute metric, ``+0.40 pp (0.10% -> 0.50%)``."""
    unit = change.metric.unit
    delta = f"{change.change * 100:+.2f} pp" if change.metric.absolute else f"{change.change * 100:+.1f}%"
    return f"{delta} ({format_value(change.before, unit)} -> {format_value(change.after, unit)})"


def format_value(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.2f}%"
    return f"{value:,.3g} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def confidence(p_value: float) -> str:
    """How sure, as people read it: ``p=0.0004`` -> ``99.96% (p=0.0004)``; tiny p-values say ``>99.99%``."""
    sure = ">99.99%" if p_value < 1e-4 else f"{(1 - p_value) * 100:.2f}%"
    return f"{sure} (p={p_value:.2g})"

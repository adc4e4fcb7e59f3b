"""k6-style pass/fail thresholds over a report: ``create.p95<300ms``, ``error_rate<1%``.

An expression is ``[endpoint.]metric op value[unit]``. Without an endpoint it applies to the whole
run (all endpoints together); the endpoint may be a request name of one's own locustfile
(``find.p95<200ms``, ``time_to_visible.p99<60s``, ``entity by uuid.p95<1s``), judged "no data" (failed)
when the run has none. Metrics:

- latency (unit ms by default, or ``us``/``s``): ``p50 p90 p95 p99 p99.9 max min mean``, also as
  ``intended_p99`` (latency from the intended start) and in k6 spelling ``p(95)``, ``avg``, ``med``;
- rates: ``requests_per_s`` (``rps``), ``records_per_s``, ``achieved_ratio`` (achieved/target rate);
- ``error_rate`` (``1%`` or ``0.01``); counts: ``requests records failed dropped late``.

A metric may carry a window, ``create.p99[30s]<300ms``: the gate then holds only if it holds in every
30-second window of the measured period (after the warm-up), judged on the per-second data
(:mod:`loadgen.report.windows`), so a bad half-minute cannot hide in a good whole-run average.

Parsing is strict so a typo never becomes a silently passing gate. A threshold file holds one
expression per line (``#`` comments), or, for ``.toml``, ``thresholds = ["...", ...]``.
"""

from __future__ import annotations

import math
import operator
import os
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from loadgen.errors import ExitCode, UsageError
from loadgen.report.document import EndpointStats, Report, Totals, Verdict
from loadgen.report.recorder import Recorder
from loadgen.report.windows import (
    holds_a_window,
    is_latency,
    measured_seconds,
    quantile_is_maximum,
    window_requests,
    window_values,
)
from loadgen.scenarios import request_scope

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    ">": operator.gt}
_EXPR = re.compile(r"^\s*(?P<lhs>[A-Za-z_][\w.() -]*?)\s*(?:\[\s*(?P<win>[0-9]+(?:\.[0-9]+)?)\s*(?P<wunit>s|m)\s*\])?"
                   r"\s*(?P<op><=|>=|==|!=|<|>)\s*"
                   r"(?P<num>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>ms|us|µs|s|%|/s)?\s*$")
_LATENCY = ("p50", "p90", "p95", "p99", "p99.9", "max", "min", "mean")
_ALIASES = {"avg": "mean", "med": "p50", "rps": "requests_per_s", "reqs_per_s": "requests_per_s",
            "p(50)": "p50", "p(90)": "p90", "p(95)": "p95", "p(99)": "p99", "p(99.9)": "p99.9"}
_RATES = ("requests_per_s", "records_per_s", "achieved_ratio")
_COUNTS = ("requests", "records", "failed", "dropped", "late")
_LATENCY_UNITS = {None: 1.0, "ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1000.0}


@dataclass(frozen=True, slots=True)
class Threshold:
    """A parsed expression. ``limit`` is in report units (ms, fraction, per second, count)."""

    expression: str
    scope: str            # an endpoint name, or "all"
    metric: str           # canonical: "p95", "intended_p99", "error_rate", "records_per_s", ...
    op: str
    limit: float
    window_s: float | None = None   # judged in every window of this many seconds; None: on the whole run


def _canonical(metric: str) -> str:
    intended = metric.startswith("intended_")
    base = _ALIASES.get(metric.removeprefix("intended_"), metric.removeprefix("intended_"))
    if base in _LATENCY:
        return f"intended_{base}" if intended else base
    if intended:
        return ""
    return base if base in (*_RATES, *_COUNTS, "error_rate") else ""


def parse_threshold(expression: str) -> Threshold:
    """Parse one expression; anything off raises UsageError quoting it."""
    match = _EXPR.match(expression)
    if not match:
        raise UsageError(f"threshold {expression!r}: expected [endpoint.]metric<op>value, e.g. 'create.p95<300ms'")
    lhs, unit = match["lhs"], match["unit"]
    scope, metric = "all", lhs
    head, _, rest = lhs.partition(".")
    if rest and not _canonical(lhs):  # else the dot is p99.9's, intended_p99.9's or p(99.9)'s
        try:
            scope, metric = request_scope(head), rest
        except ValueError as exc:
            raise UsageError(f"threshold {expression!r}: {exc}") from None
    name = _canonical(metric)
    if not name:
        raise UsageError(f"threshold {expression!r}: unknown metric {metric!r}")
    value = float(match["num"])
    if name.removeprefix("intended_") in _LATENCY:
        if unit not in _LATENCY_UNITS:
            raise UsageError(f"threshold {expression!r}: a latency takes ms, us or s, not {unit!r}")
        value *= _LATENCY_UNITS[unit]
    elif name == "error_rate":
        if unit not in (None, "%"):
            raise UsageError(f"threshold {expression!r}: error_rate takes a fraction or a percentage")
        if unit is None and value >= 1:  # 'error_rate<1' means 1% far more often than 100%
            raise UsageError(f"threshold {expression!r}: a bare error_rate is a fraction below 1; "
                             "write '1%' or '0.01'")
        value = value / 100 if unit == "%" else value
        if value > 1:
            raise UsageError(f"threshold {expression!r}: error_rate above 100% (write '1%' or '0.01')")
    elif unit not in (None, "/s"):
        raise UsageError(f"threshold {expression!r}: {name} takes no unit {unit!r}")
    return Threshold(expression.strip(), scope, name, match["op"], value, _window(expression, match))


def _window(expression: str, match: re.Match[str]) -> float | None:
    """The ``[30s]`` of a windowed gate in seconds (whole seconds: the data is per second), or None."""
    if match["win"] is None:
        return None
    seconds = float(match["win"]) * (60 if match["wunit"] == "m" else 1)
    if seconds < 1 or seconds != int(seconds):
        raise UsageError(f"threshold {expression!r}: a window is a whole number of seconds, at least 1s")
    if match["lhs"].endswith("achieved_ratio"):
        raise UsageError(f"threshold {expression!r}: achieved_ratio is judged on the whole run only")
    return seconds


def parse_thresholds(expressions: Iterable[str]) -> list[Threshold]:
    return [parse_threshold(e) for e in expressions]


def load_threshold_file(path: str | os.PathLike[str]) -> list[str]:
    """Expressions from a file (one per line, or TOML ``thresholds = [...]``), each checked now."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{file}: cannot read threshold file ({exc.strerror})") from exc
    if file.suffix == ".toml":
        try:
            items = tomllib.loads(text).get("thresholds", [])
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{file}: not valid TOML ({exc})") from exc
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise UsageError(f"{file}: 'thresholds' must be a list of strings")
        expressions = list(items)
    else:
        expressions = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        expressions = [e for e in expressions if e]
    for number, expression in enumerate(expressions, 1):
        try:
            parse_threshold(expression)
        except UsageError as exc:
            raise UsageError(f"{file}: entry {number}: {exc}") from None
    return expressions


#: Rates and counts every block (summary or endpoint) carries, by canonical metric name.
_PLAIN: dict[str, Callable[[Totals], float]] = {
    "requests": lambda b: b.requests, "records": lambda b: b.records, "failed": lambda b: b.failed,
    "dropped": lambda b: b.dropped, "late": lambda b: b.late, "error_rate": lambda b: b.error_rate,
    "requests_per_s": lambda b: b.requests_per_s, "records_per_s": lambda b: b.records_per_s}


def metric_value(report: Report, scope: str, metric: str) -> float | None:
    """Read a canonical metric of an endpoint (or of ``all``) from a report."""
    block: Totals | None = report.summary if scope == "all" else report.endpoints.get(scope)
    if block is None or (metric == "error_rate" and not block.requests):
        return None  # no requests: no error rate, as no latency (its rates and drops are real zeros and counts)
    value: float | None
    if metric.removeprefix("intended_") in _LATENCY:
        latency = block.latency.intended if metric.startswith("intended_") else block.latency.service
        value = latency.value(metric.removeprefix("intended_"))
    elif metric == "achieved_ratio":
        value = block.achieved_ratio if isinstance(block, EndpointStats) else report.achieved_ratio
    else:
        value = _PLAIN[metric](block)
    return None if value is None else float(value)


def evaluate(report: Report, thresholds: Iterable[Threshold], recorder: Recorder | None = None) -> list[Verdict]:
    """One verdict per threshold. A metric with no data fails: a gate must see what it guards.

    A windowed gate is judged on ``recorder``'s per-second data (no recorder: no data).
    """
    verdicts = []
    for t in thresholds:
        if t.window_s is not None:
            verdicts.append(judge_windows(recorder, t) if recorder is not None else
                            Verdict(t.expression, t.scope, t.metric, t.op, t.limit, None, False, t.window_s))
            continue
        actual = metric_value(report, t.scope, t.metric)
        ok = actual is not None and _OPS[t.op](actual, t.limit)
        verdicts.append(Verdict(t.expression, t.scope, t.metric, t.op, t.limit, actual, ok))
    return verdicts


def judge_windows(recorder: Recorder, t: Threshold, *, after: int | None = None,
                  until: int | None = None) -> Verdict:
    """A windowed gate: ``actual`` is the first failing window's value (else the worst one's), ``at_s``
    the end of that failing window in seconds after the measured start (after the warm-up).

    A measured period shorter than the window holds no window to judge: the gate fails, with
    ``measured_s`` saying how many whole seconds there were (a gate must see what it guards).
    """
    width = int(t.window_s or 1)
    first, end = measured_seconds(recorder)
    if after is None and until is None and not holds_a_window(first, end, width):
        return Verdict(t.expression, t.scope, t.metric, t.op, t.limit, None, False, t.window_s,
                       measured_s=float(end - first))
    values = [(end, v) for end, v in window_values(recorder, t.scope, t.metric, width, after=after, until=until)
              if v is not None]
    failing = [(end, v) for end, v in values if not _OPS[t.op](v, t.limit)]

    def requests(stop: int) -> int | None:
        return window_requests(recorder, t.scope, max(first, stop - width), stop) if is_latency(t.metric) else None

    if failing:
        stop, actual = failing[0]
        return Verdict(t.expression, t.scope, t.metric, t.op, t.limit, actual, False, t.window_s, float(stop - first),
                       window_requests=requests(stop))
    pick = min if t.op in (">", ">=") else max
    worst = pick(values, key=lambda value: value[1], default=None)
    if worst is None:
        return Verdict(t.expression, t.scope, t.metric, t.op, t.limit, None, False, t.window_s)
    return Verdict(t.expression, t.scope, t.metric, t.op, t.limit, worst[1], True, t.window_s,
                   window_requests=requests(worst[0]))


def apply_thresholds(report: Report, expressions: Iterable[str], recorder: Recorder | None = None) -> Report:
    """The report judged by these expressions (its ``thresholds`` replaced, so its ``verdict`` too)."""
    return replace(report, thresholds=tuple(evaluate(report, parse_thresholds(expressions), recorder)))


def exit_code(report: Report) -> int:
    """3 when any stored threshold failed, else 0 (what ``loadgen run`` exits with)."""
    return ExitCode.THRESHOLD if report.breaches else ExitCode.OK


#: How an achieved ratio is graded wherever it is shown (report, run summary): green from 95%, amber from 80%.
ACHIEVED_GREEN = 0.95
ACHIEVED_AMBER = 0.80


def achieved_grade(ratio: float | None) -> str:
    """``ok`` (green), ``amber`` or ``bad`` (red) for an achieved ratio; ``""`` without a target."""
    if ratio is None:
        return ""
    return "ok" if ratio >= ACHIEVED_GREEN else "amber" if ratio >= ACHIEVED_AMBER else "bad"


def format_achieved(ratio: float | None) -> str:
    """An achieved ratio as every output writes it (``72.0%``), ``–`` without a target."""
    return "–" if ratio is None else format_metric("achieved_ratio", ratio)


def describe(verdict: Verdict) -> str:
    """``create.p95<300ms: 312 ms`` style text of the actual value, in the threshold's units."""
    if verdict.measured_s is not None and verdict.window_s is not None:
        return (f"no full {verdict.window_s:g}s window: the measured period held {verdict.measured_s:g} whole "
                "seconds")
    if verdict.actual is None:
        return "no data"
    value = format_metric(verdict.metric, verdict.actual)
    if verdict.window_s is None:
        return value
    n = verdict.window_requests
    count = "" if n is None else f"{n:,} request{'' if n == 1 else 's'}"
    if n is not None and quantile_is_maximum(verdict.metric, n):
        count += f", so their {verdict.metric.removeprefix('intended_')} is their maximum"
    if verdict.at_s is None:
        return f"worst {verdict.window_s:g}s window: {value}" + (f" ({count})" if count else "")
    return (f"{value} in the {verdict.window_s:g}s window ending at {verdict.at_s:g}s (after the warm-up"
            + (f"; {count})" if count else ")"))


def format_metric(metric: str, value: float) -> str:
    """A metric value with its unit, as people read it."""
    if metric.removeprefix("intended_") in _LATENCY:
        return format_ms(value)
    if metric == "error_rate":
        return f"{value * 100:.2f}%"
    if metric == "achieved_ratio":
        return f"{value * 100:.1f}%"
    if metric in _RATES:
        return f"{value:,.1f}/s"
    return f"{value:,.0f}"


def format_ms(value: float | None) -> str:
    """Latency with 3 significant figures: ``0.412 ms``, ``12.3 ms``, ``1.25 s``."""
    if value is None:
        return "–"
    if value < 1:
        return f"{value:.3f} ms"
    rounded = float(f"{value:.3g}")
    return f"{_sig3(rounded / 1000)} s" if rounded >= 1000 else f"{_sig3(rounded)} ms"


def _sig3(value: float) -> str:
    """Three significant figures, trailing zeros kept (46.0, 5.83, 527)."""
    return f"{value:.{max(0, 2 - math.floor(math.log10(value)))}f}"

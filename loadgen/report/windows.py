"""Sliding windows over a recorder's per-second data: the values a ``create.p99[30s]<300ms`` gate judges.

A whole-run p99 can pass while one half-minute of the run was unbearable (a compaction, a failover,
a stalled index): the users who came then are not averaged away by the quiet minutes around them. The
recorder keeps, per endpoint and wall-clock second, exact counts and a latency sketch (1% relative
accuracy) that merge exactly, so any window's value is the merge of its seconds. The report judges
every window once the run is over; with ``--abort-on-fail`` the master judges each new window while
the run goes on (:mod:`loadgen.locust.gates`): both call :func:`window_values`.

Only the measured period counts: seconds that hold warm-up traffic (before ``Recorder.measure_from``)
are left out, and so is a run's last second, which is cut short by the stop.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from loadgen.report.recorder import EndpointData, Recorder, Second, sketch_quantile, sketch_value

#: Latency metric -> quantile of the sketch (``max``/``min``/``mean`` are read otherwise).
_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}


def measured_seconds(recorder: Recorder) -> tuple[int, int]:
    """The measured period as epoch seconds ``[first, end)``: after the warm-up, up to the last whole second."""
    keys = [s for data in recorder.endpoints.values() for s in data.seconds]
    if not keys:
        return 0, 0
    first = min(keys) if recorder.measure_from is None else max(min(keys), math.ceil(recorder.measure_from))
    end = max(keys)   # the last second is partial (the stop cut it short)
    return first, max(first, end if end > first else end + 1)


def _scope(recorder: Recorder, scope: str) -> list[EndpointData]:
    if scope == "all":
        return [d for d in recorder.endpoints.values() if not d.measure]
    data = recorder.endpoints.get(scope)
    return [] if data is None else [data]


def _merged(datas: Iterable[EndpointData], seconds: range) -> Second:
    total = Second()
    for data in datas:
        for key in seconds:
            sec = data.seconds.get(key)
            if sec is not None:
                total.add(sec)
    return total


def _latency(sketch: Counter[int], key: str, sec: Second, intended: bool) -> float | None:
    if not sketch:
        return None
    if key in _QUANTILES:
        return sketch_quantile(sketch, _QUANTILES[key])
    if key == "max":
        return sketch_value(max(sketch))
    if key == "min":
        return sketch_value(min(sketch))
    if not intended:   # mean: exact for the service time, from the sketch for the intended one
        return sec.sum_ms / sec.requests
    return sum(sketch_value(i) * n for i, n in sketch.items()) / sum(sketch.values())


def window_value(sec: Second, metric: str, width: int) -> float | None:
    """One window's value of a canonical metric (None: no request in it, for latencies and error_rate)."""
    intended = metric.startswith("intended_")
    key = metric.removeprefix("intended_")
    if is_latency(metric):
        return _latency(sec.intended if intended else sec.service, key, sec, intended)
    failed = sum(sec.failures.values())
    if metric == "error_rate":
        return failed / sec.requests if sec.requests else None
    counts = {"requests": sec.requests, "records": sec.records, "failed": failed, "dropped": sec.dropped,
              "late": sec.late, "requests_per_s": sec.requests / width, "records_per_s": sec.records / width}
    return float(counts[metric])


def window_values(recorder: Recorder, scope: str, metric: str, width: int, *, after: int | None = None,
                  until: int | None = None) -> list[tuple[int, float | None]]:
    """(end epoch second, value) of each full ``width``-second window of the measured period.

    ``after``/``until`` keep the windows ending in ``(after, until]`` (the master judges only the new,
    complete ones). Once the run is over, a measured period of ``width - 1`` whole seconds is one window of
    what it holds: a run as long as its window loses a partial second at each end to the whole-second count
    (``--duration 30s`` with a ``[30s]`` gate holds 29). A shorter one has none: judged as if it were the
    window it would pass a gate on data it never asked about (``judge_windows`` fails such a gate).
    """
    first, end = measured_seconds(recorder)
    if until is not None:
        end = min(end, until)
    datas = _scope(recorder, scope)
    if until is None and holds_a_window(first, end, width) and end - first < width:   # the run's end only
        spans = [(first, end)] if after is None or end > after else []
    else:
        spans = [(start, start + width) for start in range(first, end - width + 1)
                 if after is None or start + width > after]
    return [(stop, window_value(_merged(datas, range(start, stop)), metric, stop - start)) for start, stop in spans]


def window_requests(recorder: Recorder, scope: str, start: int, stop: int) -> int:
    """The requests of whole seconds ``[start, stop)`` (what a window's latency is made of)."""
    return _merged(_scope(recorder, scope), range(start, stop)).requests


def is_latency(metric: str) -> bool:
    return metric.removeprefix("intended_") in (*_QUANTILES, "max", "min", "mean")


def quantile_is_maximum(metric: str, requests: int) -> bool:
    """Whether a quantile of ``requests`` latencies is their maximum, by nearest rank (the p99 of fewer
    than 100: a window's p99 above the whole run's reads as a contradiction, and is only few samples)."""
    q = _QUANTILES.get(metric.removeprefix("intended_"))
    return q is not None and requests > 0 and math.ceil(q * requests) >= requests


def holds_a_window(first: int, end: int, width: int) -> bool:
    """Whether whole seconds ``[first, end)`` hold a ``width``-second window (or all but a second of one)."""
    return end - first >= max(width - 1, 1)

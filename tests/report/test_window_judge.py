"""The master's judge of windowed gates (--abort-on-fail): every window is judged once, none skipped."""

from __future__ import annotations

from loadgen.report.recorder import Recorder
from loadgen.report.window_judge import WindowJudge

T0 = 1000


def _second(rec: Recorder, at: int, ms: float) -> None:
    for i in range(20):
        rec.record("create", service_ms=ms, intended_ms=ms, ok=True, failure=None, records=1, at=at + i / 20)


def test_windows_past_the_recorded_seconds_are_judged_when_their_data_comes() -> None:
    """A worker report that lags behind the master's clock (or a stalled target) must not mark the windows it
    has not delivered yet as judged: the spike in them still breaks the gate at the next look."""
    rec = Recorder(start=T0)
    for at in range(T0, T0 + 10):
        _second(rec, at, 5.0)
    judge = WindowJudge(("create.p99[3s]<100ms",), delay_s=0)
    assert judge.breach(rec, until=T0 + 15) is None        # data up to 1010 only: nothing broke so far
    for at in range(T0 + 10, T0 + 12):
        _second(rec, at, 500.0)                          # the late seconds arrive, with a spike
    for at in range(T0 + 12, T0 + 18):
        _second(rec, at, 5.0)
    broke = judge.breach(rec, until=T0 + 18)
    assert broke is not None and "create.p99[3s]<100ms broke at" in broke, broke


def test_a_breach_during_the_abort_delay_is_the_one_named_once_the_delay_is_over() -> None:
    """The report judges every window from the measured start: the stop reason must name the same breach (one
    window, one value), not the first window the judge looked at after --abort-delay (``broke at 7s: 6.11 ms``
    beside the report's ``5.31 ms in the 5s window ending at 5s``)."""
    from loadgen.report.thresholds import describe, format_metric, judge_windows, parse_threshold

    rec = Recorder(start=T0)
    for at in range(T0, T0 + 12):
        _second(rec, at, 80.0 if T0 + 2 <= at < T0 + 4 else 5.0 if at < T0 + 6 else 60.0)
    gate = "create.p99[3s]<50ms"
    judge = WindowJudge((gate,), delay_s=6)
    assert judge.breach(rec, until=T0 + 5) is None           # broken already, but the delay is not over
    broke = judge.breach(rec, until=T0 + 9)
    report = judge_windows(rec, parse_threshold(gate))      # what the report says of the same seconds
    assert report.at_s == 3 and report.actual is not None
    value = format_metric("p99", report.actual)
    assert broke == f"gate {gate} broke at 3s: {value}", broke
    n = report.window_requests
    assert describe(report) == (f"{value} in the 3s window ending at 3s (after the warm-up; {n} requests, so their "
                                "p99 is their maximum)")

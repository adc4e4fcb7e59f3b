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

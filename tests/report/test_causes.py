"""The late/dropped warning names its likeliest cause from the run's own data, and the data it reads."""

from __future__ import annotations

from loadgen.report.model import make_report
from loadgen.report.recorder import Recorder
from loadgen.runfolder import Meta

T0 = 1_764_000_000.0


def _recorder(*, service_ms: float, busy: int, seconds: int = 10) -> Recorder:
    """10 creates a second, a drop in each of the last three seconds, ``busy`` requests in flight throughout."""
    rec = Recorder(start=T0)
    for second in range(seconds):
        rec.in_flight(busy, at=T0 + second + 0.01)
        for i in range(10):
            rec.record("create", service_ms=service_ms, records=1, at=T0 + second + i / 10 + 0.05)
        if second >= seconds - 3:
            rec.record_dropped("create", 2, at=T0 + second + 0.5)
    rec.end = T0 + seconds
    return rec


def _warning(rec: Recorder, meta: Meta) -> str:
    [found] = [w for w in make_report(rec, meta).warnings if "late or dropped" in w]
    return found


def test_every_user_busy_with_a_fast_server_is_the_user_cap() -> None:
    warning = _warning(_recorder(service_ms=5.0, busy=2), Meta("r", "create", targets={"create": 10}, users=2))
    assert warning.startswith("6 arrivals were late or dropped: the --users cap was reached"), warning
    assert "every user (2) was busy in 3 of the 3 seconds" in warning


def test_every_user_busy_with_a_slow_server_is_the_servers_latency() -> None:
    warning = _warning(_recorder(service_ms=400.0, busy=2), Meta("r", "create", targets={"create": 10}, users=2))
    # Little's law: 10/s x 0.4 s keeps 4 requests in flight, twice what 2 users hold
    assert "server latency" in warning and "400 ms keeps 4.0 requests in flight" in warning, warning


def test_free_users_and_a_hot_generator_is_the_generators_cpu() -> None:
    meta = Meta("r", "create", targets={"create": 10}, users=20, workers_cpu={"0": 97.0})
    warning = _warning(_recorder(service_ms=5.0, busy=1), meta)
    assert "short of CPU (97%" in warning and "--users" not in warning, warning


def test_no_evident_cause_says_so_with_the_numbers() -> None:
    meta = Meta("r", "create", targets={"create": 10}, users=20, workers_cpu={"0": 12.0})
    warning = _warning(_recorder(service_ms=5.0, busy=1), meta)
    assert "without an evident cause (peak 1 in flight with --users 20, generator CPU 12%)" in warning, warning


def test_in_flight_merges_by_peak_per_process_and_adds_processes() -> None:
    a, b = Recorder(start=T0, source="0"), Recorder(start=T0, source="1")
    a.in_flight(3, at=T0 + 0.1)
    a.in_flight(1, at=T0 + 0.9)          # second 0: peak 3, left at 1
    first = a.snapshot(reset=True)
    a.in_flight(2, at=T0 + 0.95)         # the same second in the next delta: the peak stays 3
    b.in_flight(4, at=T0 + 2.5)
    merged = Recorder.from_snapshots([first, a.snapshot(), b.snapshot()])
    # second 1 has no change: process 0 is still at 2 there; process 1 joins in second 2
    assert merged.busy_series(int(T0), 3) == (3, 2, 2 + 4)

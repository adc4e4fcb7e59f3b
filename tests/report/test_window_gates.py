"""Windowed gates on a recorder: the grammar, the windows' values, the warm-up left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthetic_run import SyntheticRun, write_synthetic_run

from loadgen.errors import UsageError
from loadgen.report.document import Report
from loadgen.report.recorder import Recorder
from loadgen.report.thresholds import describe, judge_windows, parse_threshold
from loadgen.report.windows import measured_seconds, window_values

T0 = 1_000_000.0


def _steady(recorder: Recorder, seconds: range, ms: float, *, per_second: int = 10, failed: int = 0) -> None:
    for s in seconds:
        for i in range(per_second):
            recorder.record("create", service_ms=ms, records=1, at=T0 + s + (i + 0.5) / per_second,
                            failure="500 unexpected_error" if i < failed else None)


def test_the_window_grammar() -> None:
    t = parse_threshold("create.p99[30s]<300ms")
    assert (t.scope, t.metric, t.limit, t.window_s) == ("create", "p99", 300.0, 30.0)
    assert parse_threshold("error_rate[2m]<1%").window_s == 120.0
    assert parse_threshold("create.p99<300ms").window_s is None
    for bad in ("create.p99[0s]<1ms", "create.p99[1.5s]<1ms", "create.p99[30x]<1ms", "achieved_ratio[10s]>0.9"):
        with pytest.raises(UsageError, match="threshold"):
            parse_threshold(bad)


def test_a_slow_stretch_fails_its_window_while_the_whole_run_passes() -> None:
    recorder = Recorder(T0)
    _steady(recorder, range(0, 40), 5.0)
    _steady(recorder, range(20, 22), 200.0)        # 2 slow seconds of 41
    whole = recorder.endpoints["create"].service.hist.get_value_at_percentile(90) / 1e6
    assert whole < 10
    verdict = judge_windows(recorder, parse_threshold("create.p90[5s]<50ms"))
    assert not verdict.ok and verdict.actual is not None and verdict.actual > 150
    assert verdict.at_s == 21          # the first window holding a slow second (20 s) ends at 21 s
    passing = judge_windows(recorder, parse_threshold("create.p90[5s]<500ms"))
    assert passing.ok and passing.actual is not None and passing.actual > 150   # the worst window's value


def test_a_windows_latency_says_how_many_requests_it_is_of() -> None:
    """A window's p99 of fewer than 100 requests is their maximum (nearest rank): above the whole run's p99,
    it reads as a contradiction unless the report says so."""
    recorder = Recorder(T0)
    _steady(recorder, range(0, 30), 5.0, per_second=6)
    _steady(recorder, range(12, 13), 80.0, per_second=1)    # one slow request
    few = judge_windows(recorder, parse_threshold("create.p99[10s]<50ms"))
    assert not few.ok and few.window_requests == 61
    assert describe(few).endswith("(after the warm-up; 61 requests, so their p99 is their maximum)")
    worst = judge_windows(recorder, parse_threshold("create.p50[10s]<50ms"))
    assert worst.ok and worst.window_requests == 60 and describe(worst) == "worst 10s window: 5.00 ms (60 requests)"
    assert judge_windows(recorder, parse_threshold("create.requests[10s]>1")).window_requests is None


def test_rates_counts_and_error_rate_per_window() -> None:
    recorder = Recorder(T0)
    _steady(recorder, range(0, 10), 5.0, failed=1)
    values = dict(window_values(recorder, "all", "requests_per_s", 3))
    assert set(values.values()) == {10.0}      # requests of the window over its seconds
    rates = [v for _, v in window_values(recorder, "create", "error_rate", 3)]
    assert rates and all(v == pytest.approx(0.1) for v in rates)
    assert len(window_values(recorder, "create", "failed", 3, after=None, until=int(T0) + 5)) == 3


def test_the_warm_up_is_in_the_seconds_not_in_the_totals_nor_the_windows() -> None:
    recorder = Recorder(T0)
    recorder.measure_from = T0 + 5
    _steady(recorder, range(0, 5), 900.0)
    _steady(recorder, range(5, 15), 5.0)
    data = recorder.endpoints["create"]
    assert data.requests == 100 and data.service.max_ms == 5.0       # the measured 10 s only
    assert sum(s.requests for s in data.seconds.values()) == 150     # the warm-up is still drawn
    assert measured_seconds(recorder) == (int(T0) + 5, int(T0) + 14)
    assert judge_windows(recorder, parse_threshold("create.max[3s]<10ms")).ok


def test_compare_refuses_store_sizes_apart_by_more_than_the_factor() -> None:
    from dataclasses import replace

    from loadgen.report.compare import STORE_FACTOR, STORE_FLOOR, compare_reports
    from loadgen.report.model import make_report
    from loadgen.runfolder import Meta

    recorder = Recorder(T0)
    _steady(recorder, range(0, 12), 5.0)
    report = make_report(recorder, Meta(run_id="a", scenario="create"))
    small = replace(report, run=replace(report.run, store_records=STORE_FLOOR))
    big = replace(report, run=replace(report.run, store_records=int(STORE_FLOOR * STORE_FACTOR) + 1))
    refused = compare_reports(small, big)
    assert refused.exit_code == 2 and any("store sizes differ" in r for r in refused.incompatible)
    assert compare_reports(small, big, force=True).gates
    assert not compare_reports(replace(report, run=replace(report.run, store_records=0)), small).incompatible


def test_compare_leaves_the_warm_up_seconds_out_of_its_rank_test() -> None:
    from dataclasses import replace

    from loadgen.report.compare import compare_reports
    from loadgen.report.model import make_report
    from loadgen.runfolder import Meta

    steady = Recorder(T0)
    _steady(steady, range(0, 30), 5.0)
    warmed = Recorder(T0)
    warmed.measure_from = T0 + 15
    _steady(warmed, range(0, 15), 900.0)      # a cold start, drawn but not measured
    _steady(warmed, range(15, 30), 5.0)
    base = make_report(steady, Meta(run_id="a", scenario="create"))
    run = make_report(warmed, Meta(run_id="b", scenario="create", warmup_s=15))
    gate = next(g for g in compare_reports(base, run).gates if g.endpoint == "create" and g.metric == "p50")
    assert gate.verdict == "pass" and gate.p_value is not None and gate.p_value > 0.5, gate
    assert gate.seconds[1] <= 14
    unaware = replace(run, run=replace(run.run, warmup_s=0.0))   # what it would judge without the exclusion
    assert next(g for g in compare_reports(base, unaware).gates if g.metric == "p50").seconds[1] == 28


def test_a_window_longer_than_the_measured_period_fails_saying_so(tmp_path: Path) -> None:
    """A 10 s run holds no 30 s window: judging its 10 s as if they were one passed the gate on data it never
    asked about (``worst 30s window: 6.75 ms``). It fails, as a gate without data does, and says why."""
    from click.testing import CliRunner

    from loadgen.cli import cli
    from loadgen.report.thresholds import describe

    run_dir = tmp_path / "short"
    write_synthetic_run(run_dir, SyntheticRun(duration_s=10, ramp_s=2, stall_at=None))
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--threshold", "create.p99[30s]<200ms",
                                      "--threshold", "create.p99[5s]<200ms"])
    assert result.exit_code == 3, result.output
    verdicts = {v.expression: v for v in Report.from_json(json.loads((run_dir / "report.json").read_text())).thresholds}
    short, held = verdicts["create.p99[30s]<200ms"], verdicts["create.p99[5s]<200ms"]
    assert not short.ok and short.actual is None and short.measured_s is not None and short.measured_s < 30
    assert describe(short) == f"no full 30s window: the measured period held {short.measured_s:g} whole seconds"
    assert held.ok and held.measured_s is None       # a window the run holds is judged as before
    assert "no full 30s window" in (run_dir / "report.md").read_text()


def test_a_window_as_long_as_the_run_is_judged_on_what_the_run_holds(tmp_path: Path) -> None:
    """A 10 s run counts 9 or 10 whole seconds (a partial second at each end): a [10s] gate on it is the run,
    judged as one window, not "no full window" (which failed a healthy `--duration 30s` with a [30s] gate)."""
    from click.testing import CliRunner

    from loadgen.cli import cli

    run_dir = tmp_path / "run"
    write_synthetic_run(run_dir, SyntheticRun(duration_s=10, ramp_s=2, stall_at=None))
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--threshold", "create.p99[10s]<200ms",
                                      "--threshold", "create.p99[12s]<200ms"])
    verdicts = {v.expression: v for v in Report.from_json(json.loads((run_dir / "report.json").read_text())).thresholds}
    assert verdicts["create.p99[10s]<200ms"].ok and verdicts["create.p99[10s]<200ms"].actual is not None
    assert not verdicts["create.p99[12s]<200ms"].ok and verdicts["create.p99[12s]<200ms"].measured_s is not None
    assert result.exit_code == 3, result.output

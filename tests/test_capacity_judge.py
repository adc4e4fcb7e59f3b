"""A capacity step's verdict on synthetic runs: a breach fails the step only when the seconds support it."""

from __future__ import annotations

from synthetic_run import SyntheticRun, synthetic_meta, synthetic_recorders

from loadgen.capacity import judge
from loadgen.report import Recorder, Report
from loadgen.report.model import make_report
from loadgen.report.thresholds import apply_thresholds


def _report(slo: str) -> Report:
    """40 creates/s at about 3 ms and 2 bulkCreates/s at about 48 ms, for 40 s."""
    spec = SyntheticRun(duration_s=40, ramp_s=2, stall_at=None, seed=3)
    master = Recorder.from_snapshots(w.snapshot() for w in synthetic_recorders(spec))
    return apply_thresholds(make_report(master, synthetic_meta(spec, "judge")), [slo], master)


def test_a_whole_run_slo_broken_by_the_bulk_endpoint_fails_the_step() -> None:
    """``p99<20ms`` over all endpoints is broken by the bulkCreates alone: the creates' seconds cannot
    support that breach, the bulkCreates' seconds do, so the step fails (it is no "noise")."""
    verdict, reasons = judge(_report("p99<20ms"))
    assert verdict == "fail", reasons
    assert reasons[0].startswith("p99<20ms")


def test_a_slo_every_endpoint_meets_passes() -> None:
    assert judge(_report("p99<2s")) == ("pass", ())

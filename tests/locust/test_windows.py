"""Warm-up, sliding-window gates, --abort-on-fail and --prefill on real runs against the sandbox (its latency
changed mid-run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from loadgen.errors import ExitCode
from loadgen.ledger import read_ledger
from loadgen.locust.live import LiveSnapshot
from loadgen.phases import Phases
from loadgen.report.build import rebuild
from loadgen.report.thresholds import exit_code, format_metric
from loadgen.runfolder import PREFILL_WORKER
from loadgen.runner import RunOptions, run
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow

WINDOW = "create.p90[4s]<50ms"
WHOLE = "create.p90<50ms"


def _set_latency(sandbox: Sandbox, spec: str) -> None:
    answer = httpx.post(f"{sandbox.url}/_sandbox/latency", params={"latency": spec},
                        auth=(sandbox.client_id, sandbox.client_secret), timeout=10).json()
    assert answer == {"stat": "ok", "latency": spec}


def _script(sandbox: Sandbox, plan: list[tuple[float, str]]) -> Callable[[float, float, LiveSnapshot | None], None]:
    """A progress callback that sets the sandbox's latency at seconds after the arrival schedule began
    (the live view's ``at - elapsed_s``: exact however late the live file is read)."""
    origin: list[float] = []

    def progress(elapsed: float, duration: float, live: LiveSnapshot | None) -> None:
        if not origin and live is not None:
            origin.append(live.at - live.elapsed_s)
        while origin and plan and time.time() - origin[0] >= plan[0][0]:
            _set_latency(sandbox, plan.pop(0)[1])
    return progress


@pytest.fixture
def slow_start(sandbox_factory: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    sandbox = sandbox_factory(faults={"latency": "150"})   # a cold target: slow during the warm-up
    monkeypatch.setenv("CAPTURE_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("CAPTURE_CLIENT_SECRET", sandbox.client_secret)
    return sandbox


def test_warmup_is_drawn_not_counted_and_a_window_gate_catches_a_spike_the_whole_run_hides(
        slow_start: Sandbox, tmp_path: Path) -> None:
    # 2 of the 3 s of warm-up at 150 ms, then 5 ms, a 1 s spike of 150 ms at ~9 s, 5 ms again to the end (20 s
    # measured). The switches come from progress callbacks, late on a busy machine: the whole run's p90 holds
    # until 40 of its 400 calls are slow, so the spike (20) leaves room for a switch a second late; counted,
    # the warm-up's 40 slow calls would break it.
    progress = _script(slow_start, [(2.0, "5"), (12.0, "150"), (13.0, "5")])
    result = run(RunOptions(url=slow_start.url, scenario="create", duration=20, create_rate=20, out=tmp_path,
                            run_id="spike", thresholds=(WHOLE, WINDOW), phases=Phases(warmup=3)), progress=progress)
    report = result.report
    verdicts = {v.expression: v for v in report.thresholds}
    assert verdicts[WHOLE].ok, verdicts[WHOLE]            # the warm-up's and the spike's slow calls are too few
    window = verdicts[WINDOW]
    assert not window.ok and window.window_s == 4 and window.actual is not None and window.actual > 100
    assert window.at_s is not None and 6 <= window.at_s <= 16, window    # the spike, after the warm-up
    assert exit_code(report) == ExitCode.THRESHOLD
    # the warm-up is in the series (drawn), not in the summary: 20 s x 20/s measured, of 23 s sent
    assert report.run.warmup_s == 3
    assert "after a 3 s warm-up left out of every figure" in (result.run_dir / "report.md").read_text()
    assert report.endpoints["create"].requests == pytest.approx(400, rel=0.1)
    assert sum(report.series.endpoints["create"].requests) == pytest.approx(460, rel=0.1)
    assert report.run.elapsed_s == pytest.approx(20, abs=1.5)
    # the windows are judged again from recorder.json when the report is rebuilt
    again = {v.expression: v for v in rebuild(result.run_dir).thresholds}
    assert again[WINDOW] == window and again[WHOLE].ok


def test_abort_on_fail_stops_the_run_at_the_broken_window(slow_start: Sandbox, tmp_path: Path) -> None:
    progress = _script(slow_start, [(0.6, "5"), (6.0, "150")])
    started = time.monotonic()
    # two Locust workers: the master judges the merged seconds of both
    result = run(RunOptions(url=slow_start.url, scenario="create", duration=60, create_rate=20, out=tmp_path,
                            run_id="abort", thresholds=(WINDOW,), workers=2,
                            phases=Phases(warmup=1, abort_on_fail=True)), progress=progress)
    assert time.monotonic() - started < 35                 # not the 61 s planned
    reasons = [r for r in result.meta.stop_reasons if r.startswith(f"gate {WINDOW} broke at ")]
    assert reasons, result.meta.stop_reasons
    window = result.report.thresholds[0]
    assert not window.ok and window.at_s is not None and window.at_s < 20 and window.actual is not None
    # one breach, one account: the window and value that stopped the run are the report's (the master judged
    # complete seconds only, from the same measured start)
    assert reasons == [f"gate {WINDOW} broke at {window.at_s:.0f}s: {format_metric(window.metric, window.actual)}"]
    assert exit_code(result.report) == ExitCode.THRESHOLD
    assert not result.interrupted and result.nothing_lost is not False
    assert any(w.startswith(f"stopped early by --abort-on-fail: gate {WINDOW}") for w in result.report.warnings)


def test_prefill_seeds_the_store_ledgered_and_the_report_states_its_size(tmp_path: Path) -> None:
    result = run(RunOptions(scenario="create", duration=3, create_rate=10, out=tmp_path, run_id="filled",
                            phases=Phases(prefill=250, prefill_rate=50, prefill_batch=100)))
    assert result.report.run.store_records == 250 and result.meta.store_records == 250
    ledger = read_ledger(result.run_dir / "ledger.jsonl").entries.values()
    assert sum(e.worker == PREFILL_WORKER for e in ledger) == 250      # cleanup removes them with the rest
    assert result.nothing_lost and result.ledger_count == 250 + result.report.summary.records
    assert "250 records stored when the measured phase began" in (result.run_dir / "report.html").read_text()
    assert "250 records stored at the start" in (result.run_dir / "report.md").read_text()

"""The achieved ratio compares like with like: the successful work of the measured period against the whole
arrivals the schedule offered in that same period, so it never goes above 100% (a run cut short mid-second, a
ramp whose endpoint was due 0.6 arrivals, a warm-up whose last requests were answered after it)."""

from __future__ import annotations

import pytest

from loadgen.ramp import Schedule, Stage, endpoint_schedule
from loadgen.report.model import make_report
from loadgen.report.recorder import Recorder
from loadgen.runfolder import Meta

T0 = 1_764_000_000.0


def _serve(recorder: Recorder, endpoint: str, schedule: Schedule, until: float, *, service_ms: float = 2.0,
           records: int = 1) -> int:
    """Answer, all ok, every arrival of ``schedule`` due before ``until`` s (as the pacer dates them: arrival k
    when the schedule's count reaches k + 0.5), each ``service_ms`` after it was due; how many were served."""
    k = 0
    while (due := schedule.time_of(k + 0.5)) < until:
        recorder.record(endpoint, service_ms=service_ms, records=records, at=T0 + due + service_ms / 1000)
        k += 1
    return k


def _recorder(*, warmup_s: float = 0.0, start: float = T0) -> Recorder:
    recorder = Recorder(start=start)
    recorder.schedule_from = T0
    if warmup_s:
        recorder.measure_from = T0 + warmup_s
    return recorder


def test_a_run_stopped_mid_second_is_judged_on_the_time_it_ran() -> None:
    """Ctrl-C (or --max-records) 10.4 s in: its 520 creates were all it was offered, not 104% of 10 s worth."""
    recorder = _recorder()
    served = _serve(recorder, "create", Schedule(50.0), until=10.4)
    meta = Meta("t", "create", targets={"create": 50.0}, duration_s=30.0)
    create = make_report(recorder, meta).endpoints["create"]
    assert served == 520 and create.ok == 520
    assert create.achieved_ratio == 1.0
    assert create.target_requests_per_s == pytest.approx(50.0)
    assert create.requests_per_s == pytest.approx(50.0, rel=0.01)


def test_a_short_ramp_credits_no_more_than_the_whole_arrivals_it_offered() -> None:
    """--stages 3s:10 gives bulkCreate 0.6 arrivals: one is sent, and one of one is 100%, not 166.7%."""
    stages = (Stage(3.0, 10.0),)
    main = Schedule(0.0, stages).mean_rate
    recorder = _recorder()
    _serve(recorder, "create", endpoint_schedule(5.0, stages, main), until=3.0)
    assert _serve(recorder, "bulkCreate", endpoint_schedule(0.2, stages, main), until=3.0, service_ms=40,
                  records=100) == 1
    meta = Meta("t", "mixed", stages=stages, targets={"create": {"requests_per_s": 5.0, "records_per_s": 5.0},
                                                      "bulkCreate": {"requests_per_s": 0.2, "records_per_s": 20.0}})
    report = make_report(recorder, meta)
    assert report.endpoints["bulkCreate"].achieved_ratio == 1.0
    assert report.endpoints["create"].achieved_ratio == 1.0


def test_the_warm_ups_last_requests_are_not_credited_to_the_measured_period() -> None:
    """Requests due in the warm-up and answered after it are the warm-up's: counted, they made the measured
    period serve more than its schedule offered."""
    recorder = _recorder(warmup_s=2.0)
    _serve(recorder, "create", Schedule(200.0), until=7.0, service_ms=30.0)   # 6 in flight when the warm-up ends
    meta = Meta("t", "create", targets={"create": 200.0}, warmup_s=2.0, duration_s=7.0)
    create = make_report(recorder, meta).endpoints["create"]
    assert create.requests == 1000            # the 5 s after the warm-up, 200/s
    assert create.achieved_ratio == 1.0


def test_failed_work_and_unsent_arrivals_still_count_against_the_target() -> None:
    recorder = _recorder(start=T0 - 0.8)     # made before the users were spawned: the schedule starts later
    _serve(recorder, "create", Schedule(20.0), until=5.0)
    for i in range(10):                       # 10 of the 100 creates failed
        recorder.record("create", service_ms=2.0, failure="361 unique_violation", at=T0 + 5.0 + i / 100)
    recorder.end = T0 + 10.0                  # and nothing was sent in the 5 s after (100 arrivals)
    create = make_report(recorder, Meta("t", "create", targets={"create": 20.0})).endpoints["create"]
    assert create.achieved_ratio == pytest.approx(100 / 200)


def test_a_run_stopped_early_is_judged_until_it_stopped_taking_arrivals_not_until_its_last_answer() -> None:
    """--max-records spent 10 s in: the last answers came 300 ms later, and the 15 arrivals due meanwhile,
    which the run never meant to send, read as missed (create 0.97, and worse for a short run)."""
    recorder = _recorder()
    assert _serve(recorder, "create", Schedule(50.0), until=10.0) == 500
    recorder.record("create", service_ms=300.0, records=1, at=T0 + 10.3)   # the last one, answered late
    meta = Meta("t", "create", targets={"create": 50.0}, duration_s=30.0)
    assert make_report(recorder, meta).endpoints["create"].achieved_ratio == pytest.approx(501 / 515, abs=1e-3)
    recorder.stop_from = T0 + 10.0          # LoadState.stop(): no arrival taken after this moment
    assert make_report(recorder, meta).endpoints["create"].achieved_ratio == 1.0
    merged = Recorder.from_snapshots([recorder.snapshot(), {**recorder.snapshot(), "stop_from": T0 + 9.0}])
    assert merged.stop_from == T0 + 9.0     # --workers 2: one worker's budget share ran out first (it read 92.6%)
    assert make_report(merged, meta).endpoints["create"].achieved_ratio == 1.0


def test_the_target_is_the_rate_asked_for_when_the_last_answers_come_after_the_schedule_ended() -> None:
    """A 10 s run at 30/s whose last answers came 160 ms after the schedule's end showed 29.5 (29.5)."""
    recorder = _recorder()
    _serve(recorder, "create", Schedule(30.0), until=10.0)
    recorder.record("create", service_ms=400.0, records=1, at=T0 + 10.16)
    meta = Meta("t", "create", targets={"create": 30.0}, duration_s=10.0)
    create = make_report(recorder, meta).endpoints["create"]
    assert create.target_requests_per_s == pytest.approx(30.0) and create.achieved_ratio == 1.0

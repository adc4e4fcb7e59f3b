"""Pacing on an injected clock: schedules, interleaved worker shares, drops and the record budget."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import UsageError
from loadgen.locust.load_state import LoadState
from loadgen.locust.options import Settings
from loadgen.locust.pacing import Pace, Pacer, RecordBudget, paced, worker_share
from loadgen.ramp import Schedule, Stage, endpoint_schedule, parse_duration, parse_stages


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def serve_all(pacer: Pacer, clock: FakeClock, until: float) -> list[float]:
    """A user that is always free: claim, sleep until due, send; the send times."""
    sent = []
    while True:
        arrival, _ = pacer.claim()
        if arrival is None or arrival.due > until:
            return sent
        clock.now += pacer.delay(arrival)
        sent.append(pacer.elapsed())
        pacer.started()


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30s", 30), ("2m", 120), ("1h30m", 5400),
                                               ("1m30s", 90), ("250ms", 0.25), ("1.5s", 1.5)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "10x", "-5", "5s10", "inf"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_parse_stages() -> None:
    assert parse_stages("30s:10,60s:50, 30s:50,10s:0") == (
        Stage(30, 10), Stage(60, 50), Stage(30, 50), Stage(10, 0))
    for bad in ("30s", "30s:x", "30s:-1", ",", "zz:5"):
        with pytest.raises(UsageError, match=r"stage|duration|rate"):
            parse_stages(bad)


def test_constant_rate_is_exact() -> None:
    clock = FakeClock()
    pacer = Pacer(Schedule(200.0), clock=clock)
    sent = serve_all(pacer, clock, 20.0)
    assert len(sent) == 4000
    assert sent[0] == pytest.approx(0.0025)
    assert all(b - a == pytest.approx(0.005) for a, b in itertools.pairwise(sent))
    assert pacer.dropped == 0


def test_ramp_follows_k6_stages() -> None:
    schedule = Schedule(0, parse_stages("30s:10,60s:50,30s:50,10s:0"))
    assert schedule.total == pytest.approx(150 + 1800 + 1500 + 250)
    assert schedule.rate_at(15) == pytest.approx(5)
    assert schedule.rate_at(60) == pytest.approx(30)
    assert schedule.rate_at(125) == pytest.approx(25)
    assert schedule.rate_at(131) == 0
    clock = FakeClock()
    pacer = Pacer(schedule, clock=clock)
    sent = serve_all(pacer, clock, math.inf)
    assert len(sent) == 3700
    assert pacer.exhausted
    # arrivals per 10 s window track the integral of the rate
    assert sum(1 for t in sent if 20 <= t < 30) == pytest.approx(schedule.count(30) - schedule.count(20), abs=1)
    assert sum(1 for t in sent if 90 <= t < 120) == 1500


@settings(derandomize=True, max_examples=60)
@given(st.lists(st.tuples(st.floats(0, 50), st.floats(0, 300)), min_size=1, max_size=5),
       st.floats(0.01, 0.99))
def test_time_of_inverts_count(stages: list[tuple[float, float]], q: float) -> None:
    schedule = Schedule(0, [Stage(d, r) for d, r in stages])
    if schedule.total < 1:
        return
    n = q * schedule.total
    t = schedule.time_of(n)
    assert schedule.count(t) == pytest.approx(n, rel=1e-6, abs=1e-6)


def test_step_stage_is_a_constant_rate_for_its_duration() -> None:
    schedule = Schedule(0, parse_stages("0s:200,20s:200"))
    assert schedule.total == pytest.approx(4000)
    assert schedule.rate_at(0) == 200 and schedule.rate_at(19.99) == 200


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_workers_interleave_to_the_exact_total(workers: int) -> None:
    indexes: list[int] = []
    for worker in range(workers):
        clock = FakeClock()
        pacer = Pacer(Schedule(0, parse_stages("0s:90,10s:90")), worker=worker, workers=workers, clock=clock)
        while (arrival := pacer.claim()[0]) is not None:
            indexes.append(arrival.index)
    assert sorted(indexes) == list(range(900))


def test_late_arrivals_are_served_and_old_ones_dropped() -> None:
    clock = FakeClock()
    pacer = Pacer(Schedule(100.0), clock=clock, drop_after=1.0)
    clock.now += 3.0            # every user was busy for 3 s
    arrival, dropped = pacer.claim()
    assert arrival is not None
    # due before 2.0 s: dropped; due in [2.0, 3.0): served late
    assert dropped == 200
    assert pacer.lateness(arrival) == pytest.approx(0.995)
    assert pacer.delay(arrival) == 0.0
    served = 1
    while (nxt := pacer.claim())[0] is not None and nxt[0].due <= 3.0:
        assert nxt[1] == 0
        served += 1
    assert served == 100
    assert pacer.dropped == 200


def test_zero_rate_is_exhausted_at_once() -> None:
    pacer = Pacer(Schedule(0.0), clock=FakeClock())
    assert pacer.claim() == (None, 0)
    assert pacer.exhausted


def test_endpoint_schedule_keeps_the_ratio() -> None:
    stages = parse_stages("10s:50")
    bulk = endpoint_schedule(2.0, stages, 50.0)
    assert bulk.rate_at(5) == pytest.approx(1.0)
    alone = endpoint_schedule(2.0, stages, 0.0)
    assert alone.total == pytest.approx(20.0) and alone.rate_at(9) == 2.0
    assert endpoint_schedule(3.0, (), 50.0).rate_at(1e6) == 3.0


def test_pacer_rejects_bad_worker() -> None:
    with pytest.raises(UsageError):
        Pacer(Schedule(1.0), worker=2, workers=2, clock=FakeClock())


def test_worker_share_splits_evenly() -> None:
    assert [worker_share(10, i, 3) for i in range(3)] == [4, 3, 3]
    assert sum(worker_share(1001, i, 7) for i in range(7)) == 1001


def test_record_budget_never_exceeds_and_returns_failures() -> None:
    budget = RecordBudget(250)
    assert budget.reserve(100) == 100
    assert budget.reserve(100) == 100
    assert budget.reserve(100) == 50          # trimmed: in flight counts
    assert budget.reserve(1) == 0
    budget.settle(100, 97)                    # 3 refused records go back to the pool
    assert budget.reserve(10) == 3
    budget.settle(100, 100)
    budget.settle(50, 50)
    budget.settle(3, 3)
    assert budget.created == 250 and budget.spent
    assert RecordBudget(None).reserve(10**6) == 10**6 and not RecordBudget(None).spent


def test_paced_arrivals_go_before_a_users_own_task_and_are_never_lost(tmp_path: Path) -> None:
    """A user with ordinary tasks claims only what is due before its next one; what nobody claims is dropped."""
    clock = FakeClock()
    settings = Settings(create_rate=10.0, run_dir=str(tmp_path), run_id="t")
    load = LoadState(settings, endpoints=[Pace("create"), Pace("find", rate=2.0)], worker=0, workers=1,
                     clock=clock, env={"CAPTURE_CLIENT_ID": "id", "CAPTURE_CLIENT_SECRET": "secret"})
    assert load.claim(["create"], within=0.01) == ("", None, 0.01)      # first create due at 0.05 s
    endpoint, arrival, delay = load.claim(["create", "find"], within=1.0)
    assert endpoint == "create" and arrival is not None and arrival.index == 0 and delay == pytest.approx(0.05)
    clock.now += 3.0                     # every user busy for 3 s: the arrivals more than 1 s late are dropped
    load.settle_overdue()
    assert load.dropped == {"create": 19, "find": 4}
    assert load.pacers["find"].schedule.rate == 2.0
    load.close()


def test_paced_needs_a_rate() -> None:
    with pytest.raises(UsageError, match="rate_option"):
        paced("find")
    with pytest.raises(UsageError, match="finite"):
        paced("find", rate=-1)
    assert Pace("bulkCreate").option == "bulk_rate" and Pace("find", rate_option="create_rate").option == "create_rate"


def test_a_held_worker_reports_no_schedule_start_until_its_schedule_starts(tmp_path: Path) -> None:
    """A worker's stats report sent while it waits for its users' on_start carried the set-up's time as the
    schedule start (and warm-up end): the master keeps the earliest, so a distributed run's targets and
    achieved ratio were laid from before any arrival was due (0.833 achieved for a flawless run)."""
    settings = Settings(create_rate=10.0, run_dir=str(tmp_path), run_id="t", warmup_s=5.0)
    load = LoadState(settings, endpoints=[Pace("create")], worker=0, workers=2, held=True,
                     env={"CAPTURE_CLIENT_ID": "id", "CAPTURE_CLIENT_SECRET": "secret"})
    early = load.recorder.snapshot(reset=True)            # a stats report while held
    assert early["schedule_from"] is None and early["measure_from"] is None
    load.start_schedule()
    assert load.recorder.schedule_from is not None and load.recorder.measure_from == load.recorder.schedule_from + 5
    load.close()

"""The live snapshot: built from a recorder on fixed times, its compact line, its tab rows, its JSON."""

from __future__ import annotations

from dataclasses import replace

import pytest

from loadgen.locust.live import (
    BUCKETS_MS,
    LiveFormatError,
    LiveSnapshot,
    Target,
    WorkerLive,
    build_snapshot,
    merge_workers,
    table_rows,
)
from loadgen.ramp import Schedule
from loadgen.report.model import latency_block
from loadgen.report.recorder import Recorder

T0 = 1_700_000_000.0


def recorded() -> Recorder:
    """10 s at 20 creates/s (one in ten failing with 361) and 2 bulkCreates of 5 records/s."""
    rec = Recorder(start=T0)
    for second in range(10):
        for i in range(20):
            failure = "361 unique_violation" if i == 0 else None
            rec.record("create", service_ms=2.0 + i, intended_ms=3.0 + i, failure=failure,
                       records=0 if failure else 1, at=T0 + second + i / 20)
        for i in range(2):
            rec.record("bulkCreate", service_ms=10.0, records=5, at=T0 + second + 0.5 + i / 4)
    rec.record_dropped("create", 3, at=T0 + 9.5)
    return rec


TARGETS = {"create": Target(Schedule(20.0), 1), "bulkCreate": Target(Schedule(2.0), 5)}


def snapshot(**overrides: object) -> LiveSnapshot:
    args: dict[str, object] = dict(run_id="r1", state="running", now=T0 + 10.2, started_at=T0, targets=TARGETS,
                                   record_failures={"bulkCreate": {"400 invalid_argument": 2}}, workers=1,
                                   in_flight=4, lag_s=1)
    args.update(overrides)
    return build_snapshot(recorded(), **args)  # type: ignore[arg-type]


def test_counts_and_percentiles_are_the_reports() -> None:
    snap = snapshot()
    rec = recorded()
    create = next(e for e in snap.endpoints if e.name == "create")
    assert (create.requests, create.ok, create.records, create.dropped) == (200, 190, 190, 3)
    assert create.failures == {"361 unique_violation": 10}
    assert create.intended_p99_ms == latency_block(rec.endpoints["create"].intended).p99
    assert create.service_p95_ms == latency_block(rec.endpoints["create"].service).p95
    # the exported histogram counts what the recorder holds at each bound: 2, 3 ... 21 ms, ten times
    services = [2.0 + i for i in range(20)] * 10
    assert create.service.cumulative == tuple(sum(1 for v in services if v <= bound) for bound in BUCKETS_MS)
    assert (create.service.count, create.service.sum_ms) == (200, pytest.approx(sum(services)))
    assert (snap.requests, snap.records, snap.dropped, snap.in_flight) == (220, 290, 3, 4)


def test_rates_cover_the_last_complete_seconds_against_the_same_window_of_the_schedule() -> None:
    snap = snapshot()   # now 10.2 s, one second may be incomplete: seconds 4..8 (5 s)
    create = next(e for e in snap.endpoints if e.name == "create")
    assert create.requests_per_s == 20.0 and create.records_per_s == 19.0
    assert create.target_requests_per_s == pytest.approx(20.0)
    assert snap.records_per_s == 29.0 and snap.target("target_records_per_s") == pytest.approx(30.0)
    # once stopped: the run's means up to the last answer
    final = snapshot(final=True, state="stopped")
    end = recorded().end - T0
    assert final.requests_per_s == pytest.approx(220 / end)
    assert final.target("target_requests_per_s") == pytest.approx(22.0, rel=0.01)   # whole arrivals, up to 9.95 s


def test_the_first_rates_are_of_whole_seconds_after_the_schedules_origin() -> None:
    """The schedule starts mid-second. Counted from the second before it the rates read 16/15.7 req/s and 115/75
    rec/s 2 s in; counted over the fraction of a second after it, one 100-record batch due or not swung rec/s
    by hundreds (49.8/250.0, then 49.4/402.6 at 2 s of make demo). Whole seconds after the origin only."""
    origin = T0 + 0.8
    rec = Recorder(start=origin)
    for i in range(150):                       # 3 s at 50 creates/s, answered 2 ms after they were due
        rec.record("create", service_ms=2.0, records=1, at=origin + (i + 0.5) / 50 + 0.002)
    for i in range(6):                         # and 2 batches of 100 a second, answered 20 ms after
        rec.record("bulkCreate", service_ms=20.0, records=100, at=origin + (i + 0.5) / 2 + 0.02)
    targets = {"create": Target(Schedule(50.0), 1), "bulkCreate": Target(Schedule(2.0), 100)}

    def at(now: float) -> LiveSnapshot:
        return build_snapshot(rec, run_id="r1", state="running", now=now, started_at=origin, targets=targets,
                              record_failures={}, workers=1, in_flight=0, lag_s=1)
    assert at(T0 + 2.0).requests_per_s == 0.0                # no whole second yet: no rate (the line waits)
    snap = at(T0 + 3.0)                                      # second T0+1, the first whole one
    assert snap.target("target_records_per_s") == pytest.approx(250.0) and snap.records_per_s == pytest.approx(250.0)
    assert snap.target("target_requests_per_s") == pytest.approx(52.0) and snap.requests_per_s == pytest.approx(52.0)


def test_the_line_keeps_failures_on_an_80_column_terminal() -> None:
    full = snapshot().line()
    assert "361 unique_violation x10" in full and "dropped 3" in full and "req/s 22.0/22.0" in full
    narrow = snapshot().line(80)
    assert len(narrow) <= 80 and "errors 10" in narrow and "361 x10" in narrow


def test_the_line_says_the_warm_up_is_on_while_its_counts_wait() -> None:
    rec = recorded()
    rec.measure_from = T0 + 30.0
    args = dict(run_id="r1", state="running", started_at=T0, targets=TARGETS, record_failures={}, workers=1,
                in_flight=0, lag_s=1)
    warming = build_snapshot(rec, now=T0 + 10.2, **args)  # type: ignore[arg-type]
    assert warming.line().startswith("  10s  warm-up 20s left  req/s 22.0/22.0")
    assert LiveSnapshot.from_json(warming.to_json()) == warming
    measuring = build_snapshot(rec, now=T0 + 30.5, **args)  # type: ignore[arg-type]
    assert measuring.warmup_left_s == 0 and "warm-up" not in measuring.line()
    assert "warm-up" not in snapshot().line()


def test_tab_rows_and_json_round_trip() -> None:
    snap = snapshot()
    rows = table_rows(snap)
    assert [r["name"] for r in rows][:2] == ["create", "bulkCreate"] and rows[-1]["name"].startswith("Total")
    assert rows[0]["failures"] == "361 unique_violation: 10" and rows[1]["failedrecords"] == "400 invalid_argument: 2"
    assert rows[-1]["requests"] == 220 and rows[-1]["dropped"] == 3
    assert LiveSnapshot.from_json(snap.to_json()) == snap
    with pytest.raises(LiveFormatError, match=r"live\.json: field 'endpoints"):
        LiveSnapshot.from_json({**snap.to_json(), "endpoints": [{"name": 1}]})


def test_workers_parts_add_up() -> None:
    merged = merge_workers([WorkerLive(2, {"bulkCreate": {"x": 1}}, T0 + 1), WorkerLive(3, {"bulkCreate": {"x": 2}},
                                                                                        None)])
    assert merged == WorkerLive(5, {"bulkCreate": {"x": 3}}, T0 + 1)
    assert WorkerLive.from_json(merged.to_json()) == merged


def test_grafana_dashboard_uses_only_exported_metrics() -> None:
    import json
    import re
    from pathlib import Path

    from prometheus_client import CollectorRegistry, generate_latest

    from loadgen.locust.metrics import LiveCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(snapshot))
    exported = set(re.findall(r"^(capture_[a-z_]+)", generate_latest(registry).decode(), re.MULTILINE))
    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana" / "capture-loadgen.json").read_text())
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"capture_[a-z_]+", target["expr"])}
    assert used and used <= exported, used - exported
    assert {"capture_requests_total", "capture_failed_records_total", "capture_in_flight_requests",
            "capture_intended_latency_seconds_bucket"} <= used


def test_unpaced_requests_show_beside_the_target_not_as_an_overshoot() -> None:
    snap = snapshot()
    create = next(e for e in snap.endpoints if e.name == "create")
    find = replace(create, name="find", requests_per_s=4.0, records_per_s=0.0, target_requests_per_s=None,
                   target_records_per_s=None)
    line = replace(snap, endpoints=(*snap.endpoints, find)).line()
    assert "req/s 22.0/22.0 (+4.0 unpaced)" in line and "rec/s 29.0/30.0  " in line

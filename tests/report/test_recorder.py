"""The Recorder: exact enough percentiles after snapshot/merge, per-second series, mergeable deltas."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import RuntimeFailure, UsageError
from loadgen.report import Recorder, build_report, load_report
from loadgen.report.recorder import sketch_index, sketch_quantile, sketch_value
from loadgen.runfolder import Meta

T0 = 1_764_000_000.0


def _exact(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of the raw list (rank rounded half up, as HDR does)."""
    ordered = sorted(values)
    rank = max(1, int(pct * len(ordered) / 100 + 0.5))
    return ordered[rank - 1]


def test_percentiles_survive_snapshot_merge_and_report_within_0_1_percent(tmp_path: Path) -> None:
    rng = random.Random(7)
    raw = [rng.lognormvariate(math.log(4.0), 0.9) for _ in range(19_990)]
    raw += [rng.uniform(800, 5000) for _ in range(10)]  # a tail of stalls, sub-ms values at the bottom
    rng.shuffle(raw)
    workers = [Recorder(start=T0), Recorder(start=T0)]
    for i, ms in enumerate(raw):  # a fake clock: one completion every 3 ms
        workers[i % 2].record("create", service_ms=ms, intended_ms=ms * 1.5, records=1, at=T0 + i * 0.003)
    # the snapshots travel as JSON, as in a Locust worker message
    master = Recorder.from_snapshots(json.loads(json.dumps(w.snapshot())) for w in workers)
    build_report(tmp_path, master, Meta("accuracy", "create", targets={"create": 333}))
    latency = load_report(tmp_path).endpoints["create"].latency

    for key, pct in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p99.9", 99.9)):
        exact = _exact(raw, pct)
        service, intended = latency.service.value(key), latency.intended.value(key)
        assert service is not None and intended is not None
        assert abs(service - exact) / exact <= 0.001, (key, service, exact)
        assert abs(intended - exact * 1.5) / (exact * 1.5) <= 0.001, key
    assert latency.service.max == pytest.approx(max(raw), rel=1e-12)
    assert latency.service.mean == pytest.approx(sum(raw) / len(raw), rel=1e-9)
    assert latency.service.count == len(raw)


def test_per_second_series_add_up_across_workers() -> None:
    a, b = Recorder(start=T0), Recorder(start=T0)
    a.record("create", service_ms=2.0, records=1, at=T0 + 0.5)
    b.record("create", service_ms=4.0, records=1, at=T0 + 0.7)
    b.record("create", service_ms=3.0, failure="361 unique_violation", ok=False, at=T0 + 1.2)
    a.record("bulkCreate", service_ms=40.0, records=98, failure="361 unique_violation", at=T0 + 1.9)
    a.record_dropped("create", 3, at=T0 + 2.1)
    b.record("create", service_ms=5.0, intended_ms=505.0, records=1, at=T0 + 2.5)
    merged = Recorder.from_snapshots([a.snapshot(), b.snapshot()])

    create = merged.endpoints["create"]
    assert [create.seconds[int(T0) + i].requests for i in range(3)] == [2, 1, 1]
    assert create.requests == 4 and create.ok == 3 and create.records == 3
    assert create.failures == {"361 unique_violation": 1}
    assert create.dropped == 3 and create.seconds[int(T0) + 2].dropped == 3
    assert create.late == 1  # started 500 ms after its intended start
    bulk = merged.endpoints["bulkCreate"]
    assert bulk.records == 98 and bulk.failures == {"361 unique_violation": 1} and bulk.ok == 0


def test_reset_snapshots_are_deltas_that_merge_to_the_whole() -> None:
    worker, whole = Recorder(start=T0), Recorder(start=T0)
    master = Recorder(start=T0)
    for i in range(300):
        ms = 1 + (i * 37 % 101) / 7
        worker.record("create", service_ms=ms, records=1, at=T0 + i / 50)
        whole.record("create", service_ms=ms, records=1, at=T0 + i / 50)
        if i % 70 == 69:
            master.merge(worker.snapshot(reset=True))
    master.merge(worker.snapshot(reset=True))
    assert worker.endpoints == {}
    got, want = master.endpoints["create"], whole.endpoints["create"]
    assert got.requests == want.requests == 300
    assert got.service.hist.get_percentile_to_value_dict([50, 99]) == want.service.hist.get_percentile_to_value_dict(
        [50, 99])
    assert {k: v.requests for k, v in got.seconds.items()} == {k: v.requests for k, v in want.seconds.items()}


def test_bad_inputs_are_usage_errors() -> None:
    rec = Recorder(start=T0)
    with pytest.raises(UsageError, match="service_ms"):
        rec.record("create", service_ms=float("nan"))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(UsageError, match="intended_ms"):
            rec.record("create", service_ms=1.0, intended_ms=bad)
    assert rec.endpoints.get("create") is None or rec.endpoints["create"].requests == 0  # nothing half-counted
    with pytest.raises(RuntimeFailure, match="format"):
        rec.merge({"format": "something-else"})
    snap = Recorder(start=T0)
    snap.record("create", service_ms=1.0, at=T0)
    data = snap.snapshot()
    data["endpoints"]["create"]["service"]["hdr"] = "bm90IGEgaGlzdG9ncmFt"
    with pytest.raises(RuntimeFailure, match="corrupt latency histogram"):
        rec.merge(data)


def test_latency_above_an_hour_is_clamped_and_counted() -> None:
    rec = Recorder(start=T0)
    rec.record("create", service_ms=5_000_000.0, at=T0)
    assert rec.endpoints["create"].service.clamped == 1
    assert rec.endpoints["create"].service.max_ms == 5_000_000.0


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=60_000, allow_nan=False), min_size=1, max_size=200),
       st.sampled_from([0.5, 0.9, 0.99]))
def test_sketch_quantiles_are_within_one_percent(values: list[float], q: float) -> None:
    sketch: dict[int, int] = {}
    for v in values:
        sketch[sketch_index(v)] = sketch.get(sketch_index(v), 0) + 1
    ordered = sorted(values)
    exact = ordered[max(1, math.ceil(q * len(values))) - 1]
    got = sketch_quantile(sketch, q)
    assert got is not None
    assert abs(got - exact) / exact <= 0.0101
    assert sketch_value(sketch_index(exact)) == pytest.approx(got, rel=0.0201)

"""k6-style thresholds: strict parsing, files, and verdicts over a real report."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.errors import UsageError
from loadgen.report import (
    Recorder,
    Report,
    apply_thresholds,
    exit_code,
    load_threshold_file,
    make_report,
    parse_threshold,
)
from loadgen.report.thresholds import format_ms
from loadgen.runfolder import Meta

T0 = 1_764_000_000.0


@pytest.mark.parametrize(
    ("expression", "scope", "metric", "op", "limit"),
    [("create.p95<300ms", "create", "p95", "<", 300.0),
     ("bulkCreate.records_per_s>2000", "bulkCreate", "records_per_s", ">", 2000.0),
     ("error_rate<1%", "all", "error_rate", "<", 0.01),
     ("error_rate <= 0.02", "all", "error_rate", "<=", 0.02),
     ("p99.9<2s", "all", "p99.9", "<", 2000.0),
     ("create.p99.9<1500us", "create", "p99.9", "<", 1.5),
     ("intended_p99.9<2s", "all", "intended_p99.9", "<", 2000.0),
     ("p(99.9)<5ms", "all", "p99.9", "<", 5.0),
     ("create.p(95)<300", "create", "p95", "<", 300.0),
     ("create.avg<10ms", "create", "mean", "<", 10.0),
     ("create.intended_p99<1s", "create", "intended_p99", "<", 1000.0),
     ("rps>=100/s", "all", "requests_per_s", ">=", 100.0),
     ("malformed.dropped==0", "malformed", "dropped", "==", 0.0)],
)
def test_valid_expressions_parse_to_report_units(expression: str, scope: str, metric: str, op: str,
                                                 limit: float) -> None:
    t = parse_threshold(expression)
    assert (t.scope, t.metric, t.op) == (scope, metric, op)
    assert t.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [("create.p96<300ms", "unknown metric 'p96'"), ("creat.p95<300ms", "unknown endpoint 'creat'"),
     ("creat.p99.9<300ms", "unknown endpoint 'creat'"), ("finds.p95<1s", "did you mean 'find'?"),
     ("create.p95 300ms", "expected [endpoint.]metric"), ("error_rate<150%", "above 100%"),
     ("create.p95<3%", "takes ms, us or s"), ("records_per_s>5ms", "takes no unit"),
     ("error_rate<1ms", "fraction or a percentage"),
     ("error_rate<1", "a fraction below 1"), ("", "expected"), ("intended_records<1", "unknown metric")],
)
def test_bad_expressions_name_themselves(expression: str, complaint: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_threshold(expression)
    assert repr(expression) in str(info.value)
    assert complaint in str(info.value)


def test_threshold_files_in_both_formats(tmp_path: Path) -> None:
    lines = tmp_path / "gates.txt"
    lines.write_text("# latency\ncreate.p95<300ms\n\nerror_rate<1%  # overall\n", encoding="utf-8")
    assert load_threshold_file(lines) == ["create.p95<300ms", "error_rate<1%"]
    toml = tmp_path / "gates.toml"
    toml.write_text('thresholds = ["bulkCreate.records_per_s>2000"]\n', encoding="utf-8")
    assert load_threshold_file(toml) == ["bulkCreate.records_per_s>2000"]
    lines.write_text("create.p95<300ms\ncreate.p95<<3\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"gates.txt: entry 2: threshold 'create.p95<<3'"):
        load_threshold_file(lines)
    toml.write_text("thresholds = [1]\n", encoding="utf-8")
    with pytest.raises(UsageError, match="list of strings"):
        load_threshold_file(toml)
    with pytest.raises(UsageError, match="cannot read"):
        load_threshold_file(tmp_path / "absent.txt")


@pytest.fixture
def report() -> Report:
    rec = Recorder(start=T0)
    for i in range(100):  # create: 1..100 ms, 4 failures; 10 s long
        rec.record("create", service_ms=float(i + 1), records=0 if i < 4 else 1,
                   failure="361 unique_violation" if i < 4 else None, at=T0 + i / 10)
    rec.end = T0 + 10
    return make_report(rec, Meta("t", "create", targets={"create": 10}))


def test_verdicts_compare_the_reported_values(report: Report) -> None:
    report = apply_thresholds(report, ["create.p95<300ms", "create.p50<=50.1ms", "error_rate<1%",
                                       "create.records_per_s>9", "bulkCreate.p95<1ms", "create.achieved_ratio>0.95"])
    got = {v.expression: (v.ok, v.actual) for v in report.thresholds}
    assert got["create.p95<300ms"] == (True, pytest.approx(95, rel=1e-3))
    # HDR reports the top of the value's 3-significant-figure bucket: 50 ms reads as 50.004 ms
    assert got["create.p50<=50.1ms"] == (True, pytest.approx(50, rel=1e-3))
    assert got["error_rate<1%"] == (False, pytest.approx(0.04))
    assert got["create.records_per_s>9"] == (True, pytest.approx(9.6))
    assert got["bulkCreate.p95<1ms"] == (False, None)  # no data never passes a gate
    # achieved counts successful work only: 96 of the 100 requests asked for succeeded
    assert got["create.achieved_ratio>0.95"] == (True, pytest.approx(0.96))
    assert report.verdict == "fail"
    assert [t.expression for t in report.thresholds if not t.ok] == ["error_rate<1%", "bulkCreate.p95<1ms"]
    assert exit_code(report) == 3


def test_an_endpoint_that_sent_nothing_has_no_error_rate_and_no_latency() -> None:
    """A targeted endpoint with zero requests: its error rate is no data, as its latency, not a passing 0%."""
    rec = Recorder(start=T0)
    rec.record("create", service_ms=1.0, records=1, failure=None, at=T0 + 0.5)
    rec.end = T0 + 10
    report = make_report(rec, Meta("t", "mixed", targets={"create": {"requests_per_s": 10},
                                                           "bulkCreate": {"requests_per_s": 1}}))
    assert report.endpoints["bulkCreate"].requests == 0
    verdicts = apply_thresholds(report, ["bulkCreate.error_rate<1%", "bulkCreate.p95<1s", "create.error_rate<1%",
                                         "bulkCreate.requests_per_s>0.5"]).thresholds
    assert [(v.ok, v.actual) for v in verdicts] == [(False, None), (False, None), (True, 0.0), (False, 0.0)]


def test_a_request_name_of_ones_own_scenario_is_gated_like_an_endpoint() -> None:
    """Own rows (``time_to_visible``, ``find``, a name with spaces) are judged; a name the run lacks is no data."""
    rec = Recorder(start=T0)
    for i in range(50):
        rec.record("time_to_visible", service_ms=1000.0 + 100 * i, records=0, failure=None, at=T0 + i / 5)
        rec.record("find", service_ms=5.0, records=0, failure="500 server_error" if i < 5 else None, at=T0 + i / 5)
        rec.record("find until visible", service_ms=7.0, records=0, failure=None, at=T0 + i / 5)
    rec.end = T0 + 10
    report = make_report(rec, Meta("t", "create", targets={}))
    verdicts = apply_thresholds(report, ["time_to_visible.p99<6s", "find.error_rate<5%",
                                         "find_until_visible.p95<1s", "find until visible.p95 < 10ms"]).thresholds
    assert [(v.scope, v.ok) for v in verdicts] == [("time_to_visible", True), ("find", False),
                                                   ("find_until_visible", False), ("find until visible", True)]
    assert verdicts[0].actual == pytest.approx(5900, rel=1e-3)
    assert verdicts[1].actual == pytest.approx(0.1)
    assert verdicts[2].actual is None


def test_all_passing_thresholds_exit_0(report: Report) -> None:
    report = apply_thresholds(report, ["create.p99<1s"])
    assert report.verdict == "pass" and exit_code(report) == 0
    report = apply_thresholds(report, [])
    assert report.verdict == "none" and exit_code(report) == 0


@pytest.mark.parametrize(("ms", "text"), [(0.4123, "0.412 ms"), (46.0, "46.0 ms"), (5.834, "5.83 ms"),
                                          (527.3, "527 ms"), (999.7, "1.00 s"), (1234.0, "1.23 s"), (None, "–")])
def test_latencies_print_with_three_significant_figures(ms: float | None, text: str) -> None:
    assert format_ms(ms) == text

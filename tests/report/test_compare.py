"""Baseline comparison: noise passes, a real regression fails, thin evidence says so; baselines by name."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic_run import SyntheticRun, synthetic_meta, synthetic_recorders, write_synthetic_run

from loadgen.cli import cli
from loadgen.errors import UsageError
from loadgen.report import (
    Recorder,
    Report,
    compare_reports,
    compare_runs,
    junit_xml,
    list_baselines,
    make_report,
    save_baseline,
)
from loadgen.report.compare import format_table, parse_limits, table_rows
from loadgen.report.stats import bootstrap_interval, mann_whitney_greater, median

SPEC = SyntheticRun(duration_s=30, stall_at=None)


def _report(spec: SyntheticRun) -> Report:
    master = Recorder.from_snapshots(w.snapshot() for w in synthetic_recorders(spec))
    return make_report(master, synthetic_meta(spec, f"seed{spec.seed}-x{spec.latency_factor}"))


@pytest.fixture(scope="module")
def clean_runs() -> list[Report]:
    return [_report(replace(SPEC, seed=seed)) for seed in range(1, 7)]


def test_mann_whitney_matches_known_values() -> None:
    low, high = [1.0, 2, 3, 4, 5, 6, 7, 8], [9.0, 10, 11, 12, 13, 14, 15, 16]
    separated = mann_whitney_greater(low, high)
    assert separated.u == 64 and separated.effect == 1.0
    assert separated.p_value == pytest.approx(0.00052, abs=0.0002)  # exact one-sided: 1/12870
    assert mann_whitney_greater(high, low).p_value > 0.99
    same = mann_whitney_greater([5.0] * 10, [5.0] * 10)
    assert same.p_value == 1.0 and same.effect == 0.5


@settings(derandomize=True, max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=30), st.lists(st.floats(0, 100), min_size=1, max_size=30))
def test_rank_test_is_antisymmetric(a: list[float], b: list[float]) -> None:
    assert mann_whitney_greater(a, b).effect + mann_whitney_greater(b, a).effect == pytest.approx(1.0)


def test_bootstrap_interval_covers_the_true_change() -> None:
    base = [10.0 + (i * 0.37) % 3 for i in range(60)]
    slower = [v * 1.3 for v in base]
    low, high = bootstrap_interval(base, slower, median)
    assert low <= 0.3 <= high and high - low < 0.2


def test_runs_differing_only_by_noise_pass(clean_runs: list[Report]) -> None:
    for base, run in itertools.pairwise(clean_runs):
        result = compare_reports(base, run)
        assert result.exit_code == 0, [(g.endpoint, g.metric, g.change, g.p_value) for g in result.gates if g.failed]
        assert not any(g.verdict == "thin" for g in result.gates)


def test_injected_latency_is_a_regression(clean_runs: list[Report]) -> None:
    slow = _report(replace(SPEC, seed=42, latency_factor=1.4))
    result = compare_reports(clean_runs[0], slow)
    assert result.exit_code == 3
    failed = {(g.endpoint, g.metric) for g in result.gates if g.failed}
    assert {("create", "p50"), ("create", "p95"), ("create", "mean")} <= failed
    create_p95 = next(g for g in result.gates if (g.endpoint, g.metric) == ("create", "p95"))
    assert create_p95.change is not None and create_p95.change > 0.2
    assert create_p95.p_value is not None and create_p95.p_value < 0.01


def test_every_interval_comes_with_the_estimate_it_surrounds(clean_runs: list[Report]) -> None:
    """The table's interval is the per-second median's, shown beside its own point estimate, which it contains;
    a tail-only slowdown (stall) moves the whole-run p99 and leaves the per-second median, so the two differ."""
    stalled = _report(replace(SPEC, seed=9, stall_at=12.0, stall_s=2.0, latency_factor=1.3))
    gates = [g for g in compare_reports(clean_runs[0], stalled).gates if g.interval is not None]
    assert gates
    for g in gates:
        assert g.seconds_change is not None and g.interval[0] <= g.seconds_change <= g.interval[1], g
    rows = table_rows(compare_reports(clean_runs[0], stalled))
    assert rows[0][6] == "per-second median (95% CI)"
    assert all(re.fullmatch(r"[+-]\d+\.\d% \([+-]\d+\.\d%\.\.[+-]\d+\.\d%\)|–", row[6]) for row in rows[1:])


def test_an_endpoint_silent_in_the_run_fails_as_no_data(clean_runs: list[Report]) -> None:
    """Same scenario and targets, but the run sent no bulkCreate: not "too few seconds", a failure."""
    silent = replace(SPEC, seed=11, bulk_rate=0.0)
    master = Recorder.from_snapshots(w.snapshot() for w in synthetic_recorders(silent))
    run = make_report(master, synthetic_meta(SPEC, "no-bulk"))
    result = compare_reports(clean_runs[0], run)
    absent = {(g.endpoint, g.metric) for g in result.gates if g.verdict == "absent"}
    assert ("bulkCreate", "p95") in absent and all(e == "bulkCreate" for e, _ in absent)
    assert result.exit_code == 3
    assert "NO DATA in the run" in format_table(result) and "no data in the run" in junit_xml(result)


def test_a_change_within_the_allowance_passes(clean_runs: list[Report]) -> None:
    slow = _report(replace(SPEC, seed=42, latency_factor=1.4))
    generous = compare_reports(clean_runs[0], slow, limits=parse_limits(["p50=80%", "p95=80%", "p99=80%",
                                                                          "mean=80%"]))
    assert generous.exit_code == 0


def test_lost_throughput_and_errors_are_regressions(clean_runs: list[Report]) -> None:
    base = clean_runs[0]
    slow = _report(replace(SPEC, seed=9))
    series, entry = slow.series.endpoints["create"], slow.endpoints["create"]
    halved = replace(series, records=tuple(v // 2 for v in series.records),
                     requests=tuple(v // 2 for v in series.requests))
    slow = replace(slow, series=replace(slow.series, endpoints={**slow.series.endpoints, "create": halved}),
                   endpoints={**slow.endpoints, "create": replace(entry, records_per_s=entry.records_per_s / 2)})
    result = compare_reports(base, slow)
    assert ("create", "records_per_s") in {(g.endpoint, g.metric) for g in result.gates if g.failed}


def test_short_runs_are_inconclusive_not_passed_or_failed(tmp_path: Path) -> None:
    short = replace(SPEC, duration_s=6, ramp_s=2)
    result = compare_reports(_report(short), _report(replace(short, seed=3, latency_factor=2.0)))
    thin = [g for g in result.gates if g.verdict == "thin"]
    assert thin and result.exit_code == 0
    suite = ET.fromstring(junit_xml(result))
    skipped = suite.findall("testcase/skipped")
    assert len(skipped) == len(thin) and all(s.get("message") == "evidence too thin" for s in skipped)


def test_incompatible_runs_exit_2_unless_forced(clean_runs: list[Report]) -> None:
    other = _report(replace(SPEC, seed=2, create_rate=80.0))
    other = replace(other, run=replace(other.run, scenario="create-only"))
    result = compare_reports(clean_runs[0], other)
    assert result.exit_code == 2 and not result.gates
    assert any("scenario differs" in r for r in result.incompatible)
    assert any("targets differ" in r or "targets differs" in r for r in result.incompatible)
    moved = _report(replace(SPEC, seed=2))
    moved = replace(moved, run=replace(moved.run, host="http://127.0.0.1:40123/"))  # the sandbox on another port
    assert compare_reports(clean_runs[0], moved).incompatible == []
    moved = replace(moved, run=replace(moved.run, host="https://acme.us.janraincapture.com"))
    assert compare_reports(clean_runs[0], moved).exit_code == 2
    forced = compare_reports(clean_runs[0], other, force=True)
    assert forced.gates and forced.exit_code in (0, 3)


def test_junit_has_one_testcase_per_gate(clean_runs: list[Report]) -> None:
    slow = _report(replace(SPEC, seed=42, latency_factor=1.4))
    result = compare_reports(clean_runs[0], slow)
    suite = ET.fromstring(junit_xml(result))
    cases = suite.findall("testcase")
    assert len(cases) == len(result.gates) + 1  # + the compatibility check
    assert int(suite.get("failures", "0")) == sum(g.failed for g in result.gates) == len(suite.findall(
        "testcase/failure"))
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert ("loadgen.compare.create", "p95") in names


@pytest.mark.parametrize("bad", ["p95=10", "p97=10%", "p95:10%", "create.p95=ten%", "crate.p95=10%"])
def test_bad_limits_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="--max-regression"):
        parse_limits([bad])


def test_cli_compare_and_named_baselines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_synthetic_run(tmp_path / "runs" / "base", SPEC)
    write_synthetic_run(tmp_path / "runs" / "same", replace(SPEC, seed=5))
    write_synthetic_run(tmp_path / "runs" / "slow", replace(SPEC, seed=6, latency_factor=1.5))
    runner = CliRunner()

    saved = runner.invoke(cli, ["baseline", "save", "runs/base", "main"])
    assert saved.exit_code == 0, saved.output
    assert list_baselines() == ["main"] and (tmp_path / "baselines" / "history.db").is_file()
    again = runner.invoke(cli, ["baseline", "save", "runs/base", "main"])
    assert again.exit_code == 2 and "already exists" in again.output
    # a baselines folder named by --baselines-dir is the tool's to make, as ./baselines is (a --db file's is not)
    other = runner.invoke(cli, ["baseline", "save", "runs/base", "main", "--baselines-dir", "team/bl"])
    assert other.exit_code == 0 and (tmp_path / "team" / "bl" / "history.db").is_file(), other.output

    ok = runner.invoke(cli, ["compare", "--baseline", "main", "runs/same", "--junit", "ok.xml"])
    assert ok.exit_code == 0, ok.output
    assert "PASS: no regression beyond noise" in ok.output
    assert ET.parse(tmp_path / "ok.xml").getroot().get("failures") == "0"

    bad = runner.invoke(cli, ["compare", "runs/base", "runs/slow", "--max-regression", "p95=10%"])
    assert bad.exit_code == 3
    assert "REGRESSION in create.p50" in bad.output
    lines = [ln for ln in bad.output.splitlines() if ln.startswith("create") and " p95 " in ln]
    assert lines and lines[0].rstrip().endswith("REGRESSION")

    unknown = runner.invoke(cli, ["compare", "--baseline", "nope", "runs/same"])
    assert unknown.exit_code == 2 and "known: main" in unknown.output
    usage = runner.invoke(cli, ["compare", "runs/same"])
    assert usage.exit_code == 2 and "BASELINE_DIR RUN_DIR" in usage.output


def test_compare_runs_reads_folders_and_writes_junit(tmp_path: Path) -> None:
    write_synthetic_run(tmp_path / "a", SPEC)
    write_synthetic_run(tmp_path / "b", replace(SPEC, seed=8))
    result = compare_runs(tmp_path / "a", tmp_path / "b", junit=tmp_path / "out.xml")
    assert result.exit_code == 0
    assert ET.parse(tmp_path / "out.xml").getroot().tag == "testsuite"
    with pytest.raises(UsageError, match="baseline name"):
        save_baseline(tmp_path / "a", "../escape", root=tmp_path / "bl")

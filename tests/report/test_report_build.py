"""report.json, report.html and report.md of a run folder, and `loadgen report` rebuilding them."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_run import SyntheticRun, write_synthetic_run

from loadgen.cli import cli
from loadgen.errors import UsageError
from loadgen.ramp import Stage
from loadgen.report import SCHEMA_VERSION, Recorder, Report, build_report, load_report, rebuild
from loadgen.report.compare import incompatibilities
from loadgen.report.model import safe_host, target_curve
from loadgen.runfolder import Meta

SPEC = SyntheticRun(duration_s=30, stall_at=20.0)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs") / "run-a"
    write_synthetic_run(folder, SPEC, thresholds=["create.p95<300ms", "error_rate<5%"])
    return folder


@pytest.fixture(scope="module")
def report(run_dir: Path) -> Report:
    return load_report(run_dir)


def test_run_folder_holds_all_three_outputs(run_dir: Path, report: Report) -> None:
    assert {p.name for p in run_dir.iterdir()} >= {"report.json", "report.html", "report.md", "recorder.json"}
    assert json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["schema_version"] == SCHEMA_VERSION
    assert report.verdict == "pass"


def test_endpoint_entries_carry_counts_rates_and_latency(report: Report) -> None:
    create = report.endpoints["create"]
    assert set(report.endpoints) == {"create", "bulkCreate", "malformed"}
    assert create.requests == create.ok + create.failed
    assert sum(create.failures.values()) == create.failed
    assert all(re.fullmatch(r"\d{3} \w+", label) for label in create.failures)
    assert create.records == create.ok
    assert set(create.latency.service.to_json()) >= {"p50", "p90", "p95", "p99", "p99.9", "max", "mean"}
    assert create.histograms.service and create.histograms.intended
    # targets are the run's mean rates; achieved is judged against the staged (ramping) schedule
    mean = SPEC.create_rate * (SPEC.duration_s - SPEC.ramp_s / 2) / SPEC.duration_s
    assert create.target_requests_per_s == pytest.approx(mean)
    assert create.achieved_ratio is not None and 0.95 < create.achieved_ratio <= 1
    assert create.dropped > 0 and create.late > 0
    bulk = report.endpoints["bulkCreate"]
    assert bulk.target_requests_per_s is not None
    assert bulk.target_records_per_s == pytest.approx(bulk.target_requests_per_s * SPEC.bulk_size)
    assert report.summary.records == sum(e.records for e in report.endpoints.values())


def test_series_cover_the_run_second_by_second(report: Report) -> None:
    series = report.series
    create = series.endpoints["create"]
    assert series.length >= SPEC.duration_s
    assert sum(create.requests) == report.endpoints["create"].requests
    assert sum(create.records) == report.endpoints["create"].records
    # the k6-style ramp from 0 to 40/s over 10 s, sampled mid-second, then steady
    assert create.target[0] == pytest.approx(SPEC.create_rate * 0.5 / SPEC.ramp_s)
    assert create.target[20] == pytest.approx(SPEC.create_rate)
    assert create.target[-1] is None or create.target[-1] == pytest.approx(SPEC.create_rate)
    assert set(create.lengths().values()) == {series.length}


def test_environment_is_complete_and_has_no_credentials(run_dir: Path, report: Report) -> None:
    run = report.run.to_json()
    assert run["host"] == "http://127.0.0.1:8765/"
    for key in ("run_id", "scenario", "profile", "seed", "schema_fingerprint", "stages", "duration_s",
                "started_at", "ended_at", "targets"):
        assert run[key] not in (None, "", []), key
    assert {"tool", "python", "locust"} <= set(report.environment.versions)
    for name in ("report.json", "report.html", "report.md"):
        text = (run_dir / name).read_text(encoding="utf-8")
        assert "s3cret" not in text and "token=" not in text, name


def test_generator_cpu_above_90_percent_warns(tmp_path: Path) -> None:
    hot = write_synthetic_run(tmp_path / "hot", replace(SPEC, duration_s=12, cpu=(97.0, 40.0)))
    assert hot.load_generator.max_cpu == 97.0
    assert any("worker 0 used 97% CPU" in w for w in hot.warnings)
    assert "worker 0 used 97% CPU" in (tmp_path / "hot" / "report.html").read_text(encoding="utf-8")


def test_html_is_self_contained_with_charts(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    # requests per endpoint (3), records per endpoint (2), 3 latency, distribution, 2 errors, load, cpu
    assert page.count("<svg") >= 13
    for title in ("create: requests per second", "bulkCreate: requests per second", "malformed: requests per second",
                  "bulkCreate: records created per second", "Latency distribution", "Errors per second",
                  "Errors in total", "Requests in flight and late or dropped arrivals", "Environment",
                  "Summary by endpoint"):
        assert title in page, title
    assert 'class="banner pass"' in page


def test_markdown_summary_lists_endpoints_and_verdicts(run_dir: Path) -> None:
    text = (run_dir / "report.md").read_text(encoding="utf-8")
    assert text.startswith("### Load test `run-a`: ✅ PASS")
    assert "| create |" in text and "`create.p95<300ms`" in text


def test_rebuild_judges_the_runs_own_thresholds_plus_the_given_ones(tmp_path: Path) -> None:
    folder = tmp_path / "run-b"
    write_synthetic_run(folder, replace(SPEC, duration_s=12), thresholds=["error_rate<1%"])
    before = load_report(folder)
    again = rebuild(folder, ["create.p50<0.001ms"])
    assert [t.expression for t in again.thresholds] == ["error_rate<1%", "create.p50<0.001ms"]
    assert again.verdict == "fail"
    # an earlier rebuild's extra gate is replaced, not piled up: the run's own one stays
    assert [t.expression for t in rebuild(folder).thresholds] == ["error_rate<1%"]
    assert load_report(folder).verdict == "pass"
    again = rebuild(folder, ["create.p50<0.001ms"])
    assert again.endpoints == before.endpoints
    (folder / "report.json").unlink()
    from_recorder = rebuild(folder)
    assert from_recorder.endpoints["create"].requests == before.endpoints["create"].requests


def test_cli_report_prints_paths_and_exits_3_on_a_breach(tmp_path: Path) -> None:
    folder = tmp_path / "run-c"
    write_synthetic_run(folder, replace(SPEC, duration_s=12))
    runner = CliRunner()
    ok = runner.invoke(cli, ["report", str(folder), "--threshold", "error_rate<5%"])
    assert ok.exit_code == 0, ok.output
    assert str(folder / "report.html") in ok.output
    bad = runner.invoke(cli, ["report", str(folder), "--threshold", "create.p99<1us"])
    assert bad.exit_code == 3
    assert "threshold breached: create.p99<1us" in bad.output
    typo = runner.invoke(cli, ["report", str(folder), "--threshold", "create.p96<1ms"])
    assert typo.exit_code == 2 and "create.p96<1ms" in typo.output


def test_unreadable_reports_are_one_line_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(json.dumps({"kind": "capture-loadgen.report", "schema_version": 99}))
    with pytest.raises(UsageError, match="schema_version 99"):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text("{oops")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_report(tmp_path)
    with pytest.raises(UsageError, match="no run folder here"):
        load_report(tmp_path / "missing")
    (tmp_path / "report.json").unlink()
    with pytest.raises(UsageError, match=r"no report here \(`loadgen report .*` builds it"):
        load_report(tmp_path)


def test_an_empty_run_still_renders_and_says_why(tmp_path: Path) -> None:
    empty = build_report(tmp_path, Recorder(start=1_764_000_000.0), Meta(run_id="empty", scenario="create"))
    assert empty.verdict == "none" and empty.series.length == 0
    assert any("no requests were recorded" in w for w in empty.warnings)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "NO THRESHOLDS" in page and "no data" in page


def test_a_run_ended_in_its_warm_up_says_so_not_that_nothing_was_sent(tmp_path: Path) -> None:
    """Ctrl-C 5 s into a 30 s warm-up: 50 requests were sent, none of them measured."""
    rec = Recorder(start=1_764_000_000.0)
    rec.measure_from = 1_764_000_030.0
    for i in range(50):
        rec.record("create", service_ms=3.0, records=1, at=1_764_000_000.0 + i / 10)
    report = build_report(tmp_path, rec, Meta(run_id="warm", scenario="create", warmup_s=30.0))
    assert report.summary.requests == 0
    assert any("ended in its warm-up: nothing was measured (50 requests" in w for w in report.warnings)
    assert not any("no requests were recorded" in w for w in report.warnings)


def test_target_curve_follows_loadgen_run_stages() -> None:
    stages = (Stage(0, 200), Stage(4, 200), Stage(4, 0))
    # the main endpoint's mean over the 8 s is 150/s: its curve is the stages' shape
    main = Meta("r", "create", stages=stages, targets={"create": {"requests_per_s": 150.0, "records_per_s": 150.0}})
    assert target_curve(main, "create", 9) == [pytest.approx(v) if v is not None else None
                                              for v in (200, 200, 200, 200, 175, 125, 75, 25, None)]
    # another endpoint follows the same shape, scaled to its mean rate (150/s main -> 1.5/s bulk)
    meta = Meta("r", "mixed", stages=stages, targets={"bulkCreate": {"requests_per_s": 1.5, "records_per_s": 150}})
    assert target_curve(meta, "bulkCreate", 3) == [pytest.approx(2.0)] * 3
    assert target_curve(Meta("r", "create", targets={"create": 10}), "create", 2) == [10.0, 10.0]


@pytest.mark.parametrize(("url", "shown"), [
    ("http://cid:s3cret@127.0.0.1:8765/?client_secret=x#f", "http://127.0.0.1:8765/"),
    ("http://[::1]:8080/capture", "http://[::1]:8080/capture"),
    ("https://app.us.janraincapture.com", "https://app.us.janraincapture.com"),
])
def test_hosts_lose_credentials_and_ipv6_keeps_its_brackets(url: str, shown: str) -> None:
    assert safe_host(url) == shown


def test_embedded_sandboxes_on_new_ports_stay_comparable(report: Report) -> None:
    def on(host: str) -> Report:
        return replace(report, run=replace(report.run, host=safe_host(host)))

    base = on("http://[::1]:8080/")
    for other in ("http://[::1]:9090/", "http://127.0.0.1:9090/"):
        assert incompatibilities(base, on(other)) == []
    assert incompatibilities(base, on("https://app.us.janraincapture.com"))

"""The history: runs kept in SQLite, Otava's change points on series of real recorder data, the trend report.

Each series is made of synthetic runs (``tests/synthetic_run.py``: real Recorders, real HDR
histograms, real report.json) whose service times carry a per-run "machine" factor of 3% (lognormal),
so the p95 of run to run moves as on a shared machine; a known shift multiplies it from a known run.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_run import SyntheticRun, write_synthetic_run

from loadgen.cli import cli
from loadgen.errors import UsageError
from loadgen.report.changes import Analysis, analyse
from loadgen.report.history import add_run, load_reports, series_of, store_size
from loadgen.report.trend import TREND_HTML, TREND_MD, write_trend

RUNS = 30
NOISE = 0.03
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def make_history(root: Path, shift: Callable[[int], float], *, runs: int = RUNS, seed: int = 7,
                 name: str = "main") -> Path:
    """``runs`` synthetic runs, run i's latencies times a machine factor times ``shift(i)``, added in order."""
    rng = random.Random(seed)
    db = root / "history.db"
    for i in range(runs):
        spec = SyntheticRun(duration_s=30, ramp_s=5, create_rate=20, stall_at=None, seed=seed * 1000 + i,
                            latency_factor=rng.lognormvariate(0, NOISE) * shift(i), start=1_764_000_000.0 + i * 3600)
        write_synthetic_run(root / "runs" / f"r{i:02}", spec)
        add_run(root / "runs" / f"r{i:02}", name, db=db, commit=f"c{i:02}")
    return db


def analysis_of(db: Path, name: str = "main") -> Analysis:
    series = series_of(name, db)[0]
    return analyse(series, load_reports(series.runs, db))


def test_a_10_percent_p95_step_is_found_at_its_run(tmp_path: Path) -> None:
    db = make_history(tmp_path, lambda i: 1.10 if i >= 20 else 1.0)
    found = [c for c in analysis_of(db).changes if c.metric.name == "create.p95"]
    assert len(found) == 1, found
    step = found[0]
    assert abs(step.index - 20) <= 1 and step.worse and 0.05 < step.change < 0.16 and step.p_value < 0.001
    assert step.run.commit == f"c{step.index:02}"


def test_30_stationary_noisy_runs_give_no_change_point(tmp_path: Path) -> None:
    analysis = analysis_of(make_history(tmp_path, lambda i: 1.0))
    assert len(analysis.series.runs) == RUNS and analysis.metrics
    assert analysis.changes == () and analysis.exit_code == 0


def test_a_slip_of_1_percent_per_run_over_20_runs_is_reported(tmp_path: Path) -> None:
    db = make_history(tmp_path, lambda i: 1.0 + 0.01 * max(0, i - 9))
    found = [c for c in analysis_of(db).changes if c.metric.name == "create.p95"]
    assert found and all(c.worse and c.index >= 10 for c in found), found


def test_cli_add_check_report_and_exit_3_on_a_fresh_regression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOADGEN_HISTORY", raising=False)
    monkeypatch.delenv("LOADGEN_BASELINES", raising=False)
    make_history(tmp_path / "store", lambda i: 1.15 if i >= 24 else 1.0, runs=29)
    runs = sorted((tmp_path / "store" / "runs").iterdir())
    runner = CliRunner()
    for run in runs:
        added = runner.invoke(cli, ["history", "add", str(run), "--commit", run.name])
        assert added.exit_code == 0, added.output
    assert (tmp_path / "baselines" / "history.db").is_file()
    check = runner.invoke(cli, ["history", "check", "main", "--junit", "check.xml"])
    assert check.exit_code == 3, check.output
    assert "REGRESSION in" in check.output and "create.p95" in check.output
    junit = ET.parse(tmp_path / "check.xml").getroot()
    assert int(junit.get("failures", "0")) >= 1
    lenient = runner.invoke(cli, ["history", "check", "--recent", "2"])
    assert lenient.exit_code == 0 and "PASS" in lenient.output

    report = runner.invoke(cli, ["history", "report", "--out", "trend", "--junit", "trend.xml"])
    assert report.exit_code == 3, report.output
    page = (tmp_path / "trend" / TREND_HTML).read_text(encoding="utf-8")
    assert page.count("<svg") >= 7 and "../store/runs/r00/report.html" in page and "Apache Otava" in page
    assert "create: service time before and after run 25" in page and "runs 25-29" in page
    assert "<h3>create: from run 25," in page
    summary = (tmp_path / "trend" / TREND_MD).read_text(encoding="utf-8")
    assert "REGRESSION" in summary and len(summary.splitlines()) < 25
    assert ET.parse(tmp_path / "trend.xml").getroot().tag == "testsuite"


def test_incompatible_runs_are_kept_apart(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    for i, rate in enumerate((20, 20, 40)):
        write_synthetic_run(tmp_path / f"r{i}", SyntheticRun(duration_s=20, create_rate=rate, seed=i,
                                                              start=1_764_000_000.0 + i * 60))
        add_run(tmp_path / f"r{i}", db=db)
    add_run(tmp_path / "r0", db=db, note="added twice: replaced, not doubled")
    series = series_of("main", db)
    assert [len(s.runs) for s in series] == [1, 2]
    assert series[0].key.load_plan != series[1].key.load_plan and series[0].key.store_size == "unknown"
    assert series[1].runs[0].note == "added twice: replaced, not doubled"


def test_bad_input_is_one_usage_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no history here"):
        series_of("main", tmp_path / "none.db")
    (tmp_path / "junk.db").write_text("not sqlite at all, " * 100, encoding="utf-8")
    with pytest.raises(UsageError, match="not a loadgen history"):
        series_of("main", tmp_path / "junk.db")
    with pytest.raises(UsageError, match="history name"):
        add_run(tmp_path, "../x", db=tmp_path / "h.db")
    write_synthetic_run(tmp_path / "empty", SyntheticRun(duration_s=5, ramp_s=1, create_rate=0, bulk_rate=0,
                                                         malformed_rate=0))
    with pytest.raises(UsageError, match="measured no request; it is not added"):
        add_run(tmp_path / "empty", db=tmp_path / "h.db")
    assert not (tmp_path / "h.db").exists()
    write_synthetic_run(tmp_path / "r", SyntheticRun(duration_s=10, ramp_s=2))
    add_run(tmp_path / "r", db=tmp_path / "h.db")
    with pytest.raises(UsageError, match=r"known: main"):
        series_of("other", tmp_path / "h.db")
    db = tmp_path / "h.db"
    written = write_trend(analysis_of(db), load_reports(series_of("main", db)[0].runs, db), tmp_path / "out")
    # one run: charts, no change point
    assert "No change point" in written[1].read_text(encoding="utf-8")


def test_a_run_stopped_by_ctrl_c_is_refused_unless_partial_and_compare_says_so(tmp_path: Path) -> None:
    """A run cut short was added without a word, and compare judged it against a whole one in silence."""
    for name in ("whole", "cut"):
        write_synthetic_run(tmp_path / name, SyntheticRun(duration_s=10, ramp_s=2))
    meta = tmp_path / "cut" / "meta.json"
    meta.write_text(meta.read_text(encoding="utf-8").replace('"interrupted": false', '"interrupted": true'),
                    encoding="utf-8")
    db = tmp_path / "h.db"
    with pytest.raises(UsageError, match=r"stopped early by Ctrl-C .*\(--partial adds it anyway\)"):
        add_run(tmp_path / "cut", db=db)
    assert not db.exists()
    assert add_run(tmp_path / "cut", db=db, partial=True).run_id
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "whole"), str(tmp_path / "cut")])
    assert f"note: {tmp_path / 'cut'} was stopped early by Ctrl-C" in result.output, result.output
    assert "whole was stopped" not in result.output


@pytest.mark.slow
def test_run_with_history_adds_the_finished_run(tmp_path: Path) -> None:
    """`loadgen run --history NAME` on the embedded sandbox: the run lands in $LOADGEN_HISTORY."""
    loadgen = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "loadgen"
    env = {**os.environ, "LOADGEN_HISTORY": str(tmp_path / "h.db")}
    proc = subprocess.run([str(loadgen), "run", "--scenario", "create", "--duration", "3s", "--create-rate", "10",
                           "--run-id", "one", "--history", "smoke"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    [series] = series_of("smoke", tmp_path / "h.db")
    assert [r.run_id for r in series.runs] == ["one"] and series.key.target == "loopback"


def test_one_slow_newest_run_is_pending_not_a_regression(tmp_path: Path) -> None:
    db = make_history(tmp_path, lambda i: 1.6 if i == 19 else 1.0, runs=20)
    analysis = analysis_of(db)
    newest = [c for c in analysis.changes if c.metric.name == "create.p95"]
    assert newest and newest[-1].index == 19 and newest[-1].verdict == "pending"
    assert analysis.exit_code == 0


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_trend_page_renders_in_headless_chromium_without_network(tmp_path: Path) -> None:
    db = make_history(tmp_path, lambda i: 1.2 if i >= 8 else 1.0, runs=12)
    [page, _] = write_trend(analysis_of(db), load_reports(series_of("main", db)[0].runs, db), tmp_path / "trend")
    shot = tmp_path / "trend.png"
    assert CHROMIUM is not None
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # any fetch would fail
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1280,1400", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (1280, 1400)
    assert len(data) > 60_000  # charts and tables, not a blank page


def test_store_sizes_key_series_in_bands_compare_accepts(tmp_path: Path) -> None:
    """Runs on stores within 2x of each other (above 10,000 records) share a series; further apart they do not."""
    from dataclasses import replace

    report = write_synthetic_run(tmp_path / "run", SyntheticRun(duration_s=20))
    sized = [store_size(replace(report, run=replace(report.run, store_records=n)))
             for n in (None, 0, 19_999, 20_000, 39_999, 40_000)]
    assert sized == ["unknown", "<20k", "<20k", "20k-40k", "20k-40k", "40k-80k"]


def test_adding_a_pinned_run_again_keeps_its_pin(tmp_path: Path) -> None:
    write_synthetic_run(tmp_path / "run", SyntheticRun(duration_s=20))
    db = tmp_path / "h.db"
    assert add_run(tmp_path / "run", "main", db=db, baseline=True).baseline
    assert add_run(tmp_path / "run", "main", db=db).baseline      # a rebuilt report added again: still the pin

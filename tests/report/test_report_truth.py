"""Real runs on the embedded sandbox, their report.html looked at in headless Chromium.

A clean run, a run with errors and a run with drops: the page Chromium renders must show the numbers
report.json holds (the achieved card and column, the error rate, the drop warning), graded the way
:func:`loadgen.report.thresholds.achieved_grade` says. Skipped where no Chromium is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from loadgen import retry
from loadgen.report.document import Report
from loadgen.report.model import MIN_SAMPLES
from loadgen.report.thresholds import achieved_grade, format_achieved
from loadgen.runner import RunOptions, run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]


def _run(tmp_path: Path, run_id: str, *, users: int | None = None, faults: dict[str, object] | None = None) -> Report:
    """A 3 s mixed run (20 creates/s, a 5-record bulkCreate a second) on the embedded sandbox."""
    result = run(RunOptions(scenario="mixed", duration=3, create_rate=20, bulk_rate=1, bulk_size=5, out=tmp_path,
                            run_id=run_id, users=users, sandbox_options={"faults": faults or {}}))
    return result.report


def _dom(page: Path, tmp_path: Path) -> str:
    """The page as Chromium built it (``--dump-dom``), with every fetch off the machine refused."""
    assert CHROMIUM is not None
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", page.as_uri()],
                          check=True, capture_output=True, text=True, timeout=120)
    assert "<svg" in done.stdout, done.stderr[-2000:]
    return done.stdout


def _kpi(dom: str, key: str) -> tuple[str, str]:
    """(grade class, value) of a key figure of the rendered page."""
    found = re.search(rf'data-kpi="{key}"><div class="l">[^<]*</div><div class="v ?([a-z]*)">([^<]*)</div>', dom)
    assert found is not None, f"no {key} card"
    return found[1], unescape(found[2])


def _achieved_cells(dom: str) -> dict[str, tuple[str, str]]:
    return {name: (grade, unescape(value)) for grade, name, value
            in re.findall(r'<span class="([a-z]*)" data-achieved="([^"]+)">([^<]*)</span>', dom)}


def _check_cards(report: Report, dom: str) -> None:
    """The cards and the table show report.json's numbers, in the grade's colour."""
    ratio = report.achieved_ratio
    assert _kpi(dom, "achieved") == (achieved_grade(ratio), format_achieved(ratio))
    assert _kpi(dom, "error_rate")[1] == f"{report.summary.error_rate * 100:.2f}%"
    assert _kpi(dom, "requests")[1] == f"{report.summary.requests:,}"
    assert _kpi(dom, "records")[1] == f"{report.summary.records:,}"
    shown = {name: (achieved_grade(e.achieved_ratio), format_achieved(e.achieved_ratio))
             for name, e in report.endpoints.items() if e.requests or e.dropped}
    assert _achieved_cells(dom) == shown
    for warning in report.warnings:
        assert warning in unescape(dom)
    # each drawn latency point is made of enough requests: its window holds at least MIN_SAMPLES of them
    for series in report.series.endpoints.values():
        windowed = series.windowed
        assert windowed is not None
        for i, value in enumerate(windowed.p95):
            window = series.requests[i * windowed.window_s:(i + 1) * windowed.window_s]
            assert value is None or sum(window) >= MIN_SAMPLES


def test_a_clean_run_renders_its_numbers(tmp_path: Path) -> None:
    report = _run(tmp_path, "clean")
    dom = _dom(tmp_path / "clean" / "report.html", tmp_path)
    assert report.summary.failed == 0 and report.summary.requests > 0
    _check_cards(report, dom)
    assert "Run <b>clean</b> against http://127.0.0.1:" in dom
    # the throughput charts leave the partial first and last second out: no fake ramp or collapse at the edges
    create = re.search(r'aria-label="create requests per second".*?<polyline points="([^"]+)"[^>]*><title>'
                       r'successful</title>', dom)
    assert create is not None
    assert len(set(create[1].split())) == report.series.length - 2   # one lone point is drawn twice (a dot)


def test_a_run_with_errors_is_judged_on_its_successful_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "TRANSIENT_ATTEMPTS", 12)   # the preflight's two reads must get through 30% errors
    # 30% errors (more would fail the run's preflight now and then: 4 server errors in a row)
    report = _run(tmp_path, "errors", faults={"error_rate": 0.3})
    dom = _dom(tmp_path / "errors" / "report.html", tmp_path)
    create = report.endpoints["create"]
    assert create.failed > 0 and create.achieved_ratio is not None
    # the achieved ratio counts only the successful requests: never more than their share, and not green
    assert create.achieved_ratio <= create.ok / create.requests + 1e-9
    assert report.achieved_ratio is not None and report.achieved_ratio < 0.95
    _check_cards(report, dom)
    assert _kpi(dom, "achieved")[0] in ("amber", "bad") and _kpi(dom, "error_rate")[0] == "bad"


def test_a_run_with_drops_names_the_cause(tmp_path: Path) -> None:
    # one user against a 150 ms server at 20 creates/s: the user cap and the server's latency cause the drops
    report = _run(tmp_path, "drops", users=1, faults={"latency": "150"})
    dom = _dom(tmp_path / "drops" / "report.html", tmp_path)
    assert report.run.users == 1 and max(report.series.in_flight) == 1
    assert report.summary.dropped + report.summary.late > 0
    [warning] = [w for w in report.warnings if "late or dropped" in w]
    assert "server latency" in warning and "every user (1) was busy" in warning, warning
    assert "fell behind" not in warning
    _check_cards(report, dom)
    assert 'aria-label="Load on the generator"' in dom and "peak in flight" in dom

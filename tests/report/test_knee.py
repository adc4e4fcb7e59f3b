"""capacity.json and capacity.html of a search: the outcome lines, the best bulk size, the knee charts."""

from __future__ import annotations

import json
from pathlib import Path

from loadgen.report.knee import CAPACITY_HTML, CAPACITY_JSON, Capacity, Step, write


def _step(rate: float, size: int, verdict: str, errors: float = 0.0) -> Step:
    return Step(rate, size, f"step-{rate:g}-x{size}", verdict, () if verdict == "pass" else ("error_rate<1%: 9%",),
                rate, rate * size * (1 - errors), 5.0, 8.0, 12.0, 14.0, errors, 0, int(rate * size * 10), 0)


def test_a_bulk_sweep_names_the_size_with_the_most_records_per_second(tmp_path: Path) -> None:
    result = Capacity("sweep", ("error_rate<1%",), stopped="max-rate")
    result.steps += [_step(2, 10, "pass"), _step(4, 10, "pass"), _step(2, 100, "pass"), _step(4, 100, "fail", 0.3),
                     _step(4, 100, "noise", 0.02)]
    result.sustainable, result.first_failing = {10: 4.0, 100: 2.0}, {10: None, 100: 4.0}
    assert result.best_bulk_size == 100                      # 200 records/s against 40
    assert result.lines() == ["bulk size 10: sustainable 4 requests/s, first failing -",
                              "bulk size 100: sustainable 2 requests/s, first failing 4 requests/s",
                              "best bulk size: 100 (most records/s within the SLO)",
                              "the search reached --max-rate: the capacity may be higher"]
    page = write(result, tmp_path)
    saved = json.loads((tmp_path / CAPACITY_JSON).read_text(encoding="utf-8"))
    assert saved["best_bulk_size"] == 100 and saved["sustainable"] == {"10": 4.0, "100": 2.0}
    assert [s["verdict"] for s in saved["steps"]] == ["pass", "pass", "pass", "fail", "noise"]
    html = page.read_text(encoding="utf-8")
    assert page.name == CAPACITY_HTML and html.count("<tr>") == 1 + 5 and "FOUND" in html
    assert 'href="step-4-x100/report.html"' in html and "Latency against offered rate" in html
    # one pair of knee charts per size: a step of size 10 and one of size 100 at 4/s are two points
    assert "Achieved against offered rate (bulk size 10)" in html and "(bulk size 100)" in html


def test_no_step_met_the_slo() -> None:
    result = Capacity("none", ("create.p99<1ms",), steps=[_step(10, 1, "fail")], sustainable={1: None},
                      first_failing={1: 10.0})
    assert result.best_bulk_size is None
    assert result.lines() == ["no step met the SLO, first failing 10 requests/s"]

"""`loadgen capacity` against the sandbox with a known capacity: a concurrency limit over a fixed latency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadgen.capacity import CapacityOptions, capacity
from loadgen.cli import cli
from loadgen.errors import UsageError
from loadgen.report.knee import CAPACITY_HTML, CAPACITY_JSON
from loadgen.runner import RunOptions

pytestmark = pytest.mark.slow

LATENCY_MS, LIMIT, MAX_ERRORS = 200, 8, 0.05
#: 8 calls of 200 ms at a time serve 40/s; above, the excess is refused (510), so the error rate reaches 5%
#: at 40 / (1 - 5%) = 42.1/s
BREAKS_AT = LIMIT / (LATENCY_MS / 1000) / (1 - MAX_ERRORS)


def test_capacity_finds_the_rate_where_the_slo_breaks_within_ten_percent(tmp_path: Path) -> None:
    base = RunOptions(scenario="create", out=tmp_path,
                      sandbox_options={"faults": {"latency": str(LATENCY_MS), "concurrency_limit": LIMIT}})
    opts = CapacityOptions(base=base, slos=("error_rate<5%",), start_rate=15, max_rate=200, step_s=10,
                           warmup_s=1, precision=0.2)
    result, folder = capacity(opts, capacity_id="known")
    low, high = result.sustainable[base.bulk_size], result.first_failing[base.bulk_size]
    assert low is not None and high is not None, result.lines()
    assert (low + high) / 2 == pytest.approx(BREAKS_AT, rel=0.10), result.lines()
    assert (high - low) / low <= 0.2 and result.stopped == "done"
    passed = [s for s in result.steps if s.verdict == "pass"]
    assert passed and all(s.error_rate < MAX_ERRORS and not s.dropped for s in passed)
    assert all(s.verdict != "pass" for s in result.steps if s.rate >= high)
    # every step is a run folder with its report; the search's document and page are next to them
    saved = json.loads((folder / CAPACITY_JSON).read_text(encoding="utf-8"))
    assert saved["sustainable"] == {str(base.bulk_size): low} and len(saved["steps"]) == len(result.steps)
    assert all((folder / s.run_id / "report.json").is_file() for s in result.steps)
    page = (folder / CAPACITY_HTML).read_text(encoding="utf-8")
    assert "Achieved against offered rate" in page and f"sustainable {low:g} requests/s" in page


def test_bad_capacity_options_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["capacity", "--slo", "create.p99<<1ms", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "threshold 'create.p99<<1ms'" in result.output
    with pytest.raises(UsageError, match="--step must be at least 10s"):
        capacity(CapacityOptions(base=RunOptions(out=tmp_path), slos=("error_rate<1%",), step_s=5), capacity_id="x")
    assert not list(tmp_path.iterdir())

"""A report built from a plain ``locust`` run folder (no ``loadgen run``, so no meta.json) says what ran."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from locust_support import run_locust

from loadgen.report import rebuild
from loadgen.runfolder import LOCUST_RUN, META, REPORT_HTML
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow


def test_a_plain_locust_folder_reports_its_scenario_host_run_id_and_users(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    proc = run_locust("create.py", sandbox, tmp_path, "--create-rate", "10", "--stages", "0s:10,2s:10", users=3)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (tmp_path / META).exists()
    run_id = json.loads((tmp_path / LOCUST_RUN).read_text(encoding="utf-8"))["run_id"]
    report = rebuild(tmp_path)
    assert (report.run.run_id, report.run.scenario, report.run.host, report.run.users) == (
        run_id, "create", sandbox.url.rstrip("/"), 3)
    assert report.load_generator.workers_cpu   # the generator's CPU came along too
    page = (tmp_path / REPORT_HTML).read_text(encoding="utf-8")
    assert "unknown host" not in page and f"Run <b>{run_id}</b> against {report.run.host}" in page

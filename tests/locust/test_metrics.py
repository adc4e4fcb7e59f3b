"""``--metrics-port``: OpenMetrics scraped during a real 10 s run, its counters checked against report.json."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from locust_support import locust_args, sandbox_env
from prometheus_client.parser import text_string_to_metric_families
from test_live_web import free_port

from loadgen.report import rebuild
from loadgen.runner import RunOptions, locust_command
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_agree_with_the_report(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    sandbox = sandbox_factory(faults={"error_rate": 0.1})
    port, web = free_port(), free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    # the web UI's --autostart/--autoquit keeps the stopped test's process (and its metrics) up a few seconds
    args = [a for a in locust_args("mixed.py", sandbox, tmp_path) if a not in ("--headless", "--only-summary")]
    args[args.index("-t") + 1] = "10s"
    args += ["--autostart", "--autoquit", "6", "--web-host", "127.0.0.1", "--web-port", str(web),
             "--create-rate", "30", "--bulk-rate", "2", "--bulk-size", "5", "--metrics-port", str(port)]
    log = tmp_path / "locust.stderr"
    scrapes: list[Samples] = []
    with log.open("w") as stderr, subprocess.Popen(args, env=sandbox_env(sandbox), stdout=subprocess.DEVNULL,
                                                   stderr=stderr) as proc:
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError):    # not listening yet, or already gone
                    scrapes.append(scrape(url))
                time.sleep(1.0)
        finally:
            proc.wait(timeout=60)
    assert proc.returncode in (0, 1), log.read_text()[-2000:]
    running = [s for s in scrapes if value(s, "capture_requests_total", endpoint="create", code="ok") > 0]
    assert len(running) >= 5, len(running)
    during = running[len(running) // 2]      # mid-run: rates near their targets, in-flight exported
    assert value(during, "capture_target_requests_per_second", endpoint="create") == pytest.approx(30, rel=0.1)
    assert value(during, "capture_achieved_records_per_second", endpoint="bulkCreate") == pytest.approx(10, abs=5)
    assert ("capture_in_flight_requests", ()) in during
    final = running[-1]                       # after the stop: the final numbers
    report = rebuild(tmp_path).to_json()
    for name in ("create", "bulkCreate"):
        entry = report["endpoints"][name]
        assert value(final, "capture_requests_total", endpoint=name, code="ok") == entry["ok"]
        for code, n in entry["failures"].items():
            assert value(final, "capture_requests_total", endpoint=name, code=code) == n
        assert value(final, "capture_records_total", endpoint=name) == entry["records"]
        assert value(final, "capture_dropped_arrivals_total", endpoint=name) == entry["dropped"]
        assert value(final, "capture_late_arrivals_total", endpoint=name) == entry["late"]
        for kind in ("service", "intended"):
            count = value(final, f"capture_{kind}_latency_seconds_count", endpoint=name)
            assert count == entry["requests"] == value(final, f"capture_{kind}_latency_seconds_bucket",
                                                       endpoint=name, le="+Inf")
            # the report's p50 is at most the first bucket bound that holds half the requests
            bounds = {float(dict(labels)["le"]): v for (n, labels), v in final.items()
                      if n == f"capture_{kind}_latency_seconds_bucket" and dict(labels)["endpoint"] == name
                      and dict(labels)["le"] != "+Inf"}
            half = min(bound for bound, v in bounds.items() if v >= count / 2)
            assert entry["latency"][kind]["p50"] / 1000 <= half * 1.001
    assert any(code != "ok" for (n, labels), _ in final.items()
               if n == "capture_requests_total" for k, code in labels if k == "code"), "the 10% errors must show"


def test_loadgen_run_passes_the_metrics_port_and_a_private_master_port(tmp_path: Path) -> None:
    opts = RunOptions(metrics_port=9464, workers=2)
    cmd = locust_command(opts, locustfile=Path("x.py"), url="http://127.0.0.1:1", run_dir=tmp_path, run_id="r",
                         stages=(), duration=1.0, users=1)
    assert cmd[cmd.index("--metrics-port") + 1] == "9464"
    # workers meet their own master, never another run's on Locust's default 5557
    assert cmd[cmd.index("--master-bind-port") + 1] == cmd[cmd.index("--master-port") + 1] != "5557"
    assert "--metrics-port" not in locust_command(RunOptions(), locustfile=Path("x.py"), url="http://127.0.0.1:1",
                                                  run_dir=tmp_path, run_id="r", stages=(), duration=1.0, users=1)

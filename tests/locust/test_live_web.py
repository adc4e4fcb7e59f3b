"""The Capture tab of Locust's web UI, fetched over HTTP during a real run, agrees with the final report."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from locust_support import live, locust_args, sandbox_env

from loadgen.locust.live import LiveSnapshot
from loadgen.report import rebuild
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def poll(url: str, until: Callable[[dict[str, Any]], bool], seconds: float) -> dict[str, Any]:
    """GET ``url`` every 0.2 s until ``until`` holds (bounded); the last answer."""
    deadline, last = time.monotonic() + seconds, {}
    while time.monotonic() < deadline:
        try:
            last = fetch(url)
        except OSError:   # the web UI is not up yet
            last = {}
        if last and until(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"{url} never met the condition; last answer {last}")


def test_capture_tab_is_live_and_agrees_with_the_report(sandbox_factory: Callable[..., Sandbox],
                                                        tmp_path: Path) -> None:
    sandbox = sandbox_factory(faults={"error_rate": 0.1})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [a for a in locust_args("mixed.py", sandbox, tmp_path) if a not in ("--headless", "--only-summary")]
    args[args.index("-t") + 1] = "6s"
    args += ["--autostart", "--autoquit", "6", "--web-host", "127.0.0.1", "--web-port", str(port),
             "--create-rate", "30", "--bulk-rate", "2", "--bulk-size", "5"]
    log = tmp_path / "locust.stderr"
    with log.open("w") as stderr, subprocess.Popen(args, env=sandbox_env(sandbox), stdout=subprocess.DEVNULL,
                                                   stderr=stderr) as proc:
        try:
            # during the run: the tab's JSON counts requests, and its rows ride on Locust's own stats poll
            during = poll(f"{base}/capture/live", lambda d: d["state"] == "running" and d["endpoints"]
                          and sum(e["requests"] for e in d["endpoints"]) > 0, 40)
            stats = fetch(f"{base}/stats/requests")
            tab = next(t for t in stats["extended_stats"] if t["key"] == "capture")
            assert {row["name"] for row in tab["data"]} >= {"create", "bulkCreate"}
            with urllib.request.urlopen(f"{base}/", timeout=5) as response:
                assert '"title": "Capture"' in response.read().decode()
            # Locust's own request stats count requests only: no records or dropped pseudo-rows
            assert {row["name"] for row in stats["stats"]} <= {"create", "bulkCreate", "Aggregated"}
            # once stopped, and the run files written
            poll(f"{base}/capture/live", lambda d: d["state"] == "stopped", 40)
            time.sleep(2.5)
            final = LiveSnapshot.from_json(fetch(f"{base}/capture/live"))
        finally:
            proc.wait(timeout=60)
    assert proc.returncode in (0, 1), log.read_text()[-2000:]
    first = LiveSnapshot.from_json(during)
    assert 0 < first.requests < final.requests and first.records <= final.records
    assert final.failures, "the sandbox's 10% errors must show"
    agrees_with_report(final, tmp_path)
    assert final.records == sandbox.stats()["records"]["user"]


def test_master_serves_the_merged_view(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    """Two worker processes: the master's live.json during the run and at its end, against the report."""
    sandbox = sandbox_factory()
    master_port = str(free_port())   # a port of its own: no other run's workers can join
    args = locust_args("mixed.py", sandbox, tmp_path, "--create-rate", "30", "--bulk-rate", "2", "--bulk-size", "5",
                       "--stages", "0s:30,8s:30", "--processes", "2", "--master-bind-port", master_port,
                       "--master-port", master_port)
    log = tmp_path / "locust.stderr"
    with log.open("w") as stderr, subprocess.Popen(args, env=sandbox_env(sandbox), stdout=subprocess.DEVNULL,
                                                   stderr=stderr) as proc:
        try:
            deadline, during = time.monotonic() + 60, None
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError, ValueError):   # not written yet
                    during = live(tmp_path)
                    if during.state == "running" and during.requests > 0:
                        break
                time.sleep(0.2)
        finally:
            proc.wait(timeout=90)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert during is not None and during.requests > 0 and during.workers == 2
    final = live(tmp_path)
    assert during.requests < final.requests
    agrees_with_report(final, tmp_path)
    assert final.records == sandbox.stats()["records"]["user"]


def agrees_with_report(final: LiveSnapshot, run_dir: Path) -> None:
    """Every count of the live view equals report.json's (built from the run folder as `loadgen report` does)."""
    report = rebuild(run_dir).to_json()
    shown = {e.name for e in final.endpoints}
    assert shown <= set(report["endpoints"])
    assert all(entry["requests"] == 0 for name, entry in report["endpoints"].items() if name not in shown)
    for endpoint in final.endpoints:
        entry = report["endpoints"][endpoint.name]
        assert (endpoint.requests, endpoint.ok, endpoint.records, endpoint.failures, endpoint.dropped,
                endpoint.late) == (entry["requests"], entry["ok"], entry["records"], entry["failures"],
                                   entry["dropped"], entry["late"]), endpoint.name
        assert endpoint.intended_p99_ms == pytest.approx(entry["latency"]["intended"]["p99"], rel=1e-3)
        assert endpoint.service_p95_ms == pytest.approx(entry["latency"]["service"]["p95"], rel=1e-3)
    assert final.records == report["summary"]["records"]

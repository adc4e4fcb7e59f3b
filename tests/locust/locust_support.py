"""Shared helpers of the Locust tests: run real Locust (a child process) against a real sandbox."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from loadgen.locust.live import LiveSnapshot
from loadgen.runfolder import LIVE
from loadgen.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILES = ROOT / "locustfiles"


def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.update(CAPTURE_CLIENT_ID=sandbox.client_id, CAPTURE_CLIENT_SECRET=sandbox.client_secret)
    return env


def locust_args(locustfile: str, sandbox: Sandbox, run_dir: Path, *extra: str, users: int = 10) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / locustfile), "--headless",
            "--host", sandbox.url, "-u", str(users), "-r", str(users), "-t", "60s", "--only-summary",
            "--csv", str(run_dir / "locust"), "--run-dir", str(run_dir), "--loglevel", "WARNING", *extra]


def run_locust(locustfile: str, sandbox: Sandbox, run_dir: Path, *extra: str, users: int = 10,
               timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run one headless Locust to its end (the locustfile's stages end it) and return the process."""
    return subprocess.run(locust_args(locustfile, sandbox, run_dir, *extra, users=users), env=sandbox_env(sandbox),
                          capture_output=True, text=True, timeout=timeout, check=False)


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


def stats_row(run_dir: Path, request_type: str, name: str) -> dict[str, Any]:
    for row in read_csv(run_dir / "locust_stats.csv"):
        if row["Type"] == request_type and row["Name"] == name:
            return row
    raise AssertionError(f"no {request_type} {name} row in {read_csv(run_dir / 'locust_stats.csv')}")


def records(sandbox: Sandbox, type_name: str = "user") -> int:
    """The sandbox's own count of stored records."""
    return int(sandbox.stats()["records"].get(type_name, 0))


def dropped(run_dir: Path, endpoint: str) -> int:
    """Arrivals of ``endpoint`` the run counted as dropped (a loaded test machine can stall > 1 s)."""
    summary = json.loads((run_dir / "locust_run.json").read_text(encoding="utf-8"))
    return int(summary["dropped"].get(endpoint, 0))


def live(run_dir: Path) -> LiveSnapshot:
    """The run's last live view (``live.json``), as the Capture tab and ``loadgen run`` show it."""
    return LiveSnapshot.from_json(json.loads((run_dir / LIVE).read_text(encoding="utf-8")))


def start_web_locust(locustfile: str, sandbox: Sandbox, port: int, *extra: str, cwd: Path | None = None
                     ) -> subprocess.Popen[bytes]:
    """Locust with its web UI on ``port`` (127.0.0.1) against the sandbox, returned once the UI answers."""
    proc = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / locustfile), "--host",
                             sandbox.url, "--web-host", "127.0.0.1", "--web-port", str(port), *extra],
                            cwd=cwd, env=sandbox_env(sandbox), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            return proc
        time.sleep(0.3)
    return proc     # the test's own requests then fail with the reason

"""Run identity under plain Locust: whose run a test is, which folder it writes, and when its clock starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from locust_support import LOCUSTFILES, locust_args, records, run_locust, sandbox_env, start_web_locust

from loadgen.ledger import read_ledger
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _swarm(base: str, host: str, **fields: str) -> dict[str, object]:
    """Start a test from the web UI's form, as the page posts it, run it 2 s once its users run, stop it.

    The 2 s count from the end of spawning, as the arrival schedule does: a test's set-up (its profile
    pools, a second or several on a loaded machine) is not load time.
    """
    form = urllib.parse.urlencode({"user_count": 4, "spawn_rate": 4, "host": host, **fields}).encode()
    answer = json.loads(urllib.request.urlopen(base + "/swarm", data=form, timeout=10).read())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if json.loads(urllib.request.urlopen(base + "/stats/requests", timeout=10).read())["state"] == "running":
            break
        time.sleep(0.1)
    time.sleep(2.0)
    urllib.request.urlopen(base + "/stop", data=b"", timeout=10).read()
    time.sleep(1.0)     # the run files of a stopped test are written at test_stop
    return dict(answer)


def test_each_test_from_the_web_ui_writes_the_run_id_of_its_form(sandbox_factory: Callable[..., Sandbox],
                                                                  tmp_path: Path) -> None:
    """A first test with no id gets a new one; later tests take the id typed in the form, each its own folder."""
    sandbox = sandbox_factory()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_web_locust("create.py", sandbox, port, "--create-rate", "20", cwd=tmp_path)
    try:
        answers = [_swarm(base, sandbox.url), _swarm(base, sandbox.url, run_id="first-named"),
                   _swarm(base, sandbox.url, run_id="second-named")]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert all(answer["success"] for answer in answers), answers
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(folders) == 3 and folders[1:] == ["first-named", "second-named"], folders
    ledgered = 0
    for name in folders:
        run = tmp_path / "runs" / name
        assert json.loads((run / "locust_run.json").read_text())["run_id"] == name
        entries = read_ledger(run / "ledger" / "worker-0.jsonl").entries
        assert len(entries) >= 10, (name, len(entries))    # up to 2 s at 20/s, each test in its own ledger
        ledgered += len(entries)
    assert ledgered == records(sandbox)


@pytest.mark.parametrize("where", [["--run-id", "taken"], ["--run-dir", "runs/taken"]])
def test_plain_locust_refuses_a_folder_that_holds_a_ledger(where: list[str], tmp_path: Path) -> None:
    ledger = tmp_path / "runs" / "taken" / "ledger" / "worker-0.jsonl"
    ledger.parent.mkdir(parents=True)
    line = ('{"v":2,"type":"user","key":"email","uuid":"4f0c9b2e-0000-4000-8000-000000000001","id":1,'
            '"value":"a@example.com","time":1.0,"worker":0,"n":1}\n')
    ledger.write_text(line, encoding="utf-8")
    env = {**sandbox_env_without_sandbox(), "CAPTURE_CLIENT_ID": "qa", "CAPTURE_CLIENT_SECRET": "s3cret"}
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / "create.py"), "--headless",
                           "--host", "http://127.0.0.1:9", "-u", "1", "-r", "1", "-t", "5s", *where],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert errors == ["error: runs/taken/ledger/worker-0.jsonl already holds the ledger of an earlier run: "
                      "pick another --run-id or --run-dir (or clean that run up and remove its folder)"], proc.stderr
    assert ledger.read_text(encoding="utf-8") == line


def sandbox_env_without_sandbox() -> dict[str, str]:
    """The environment of a Locust child that never reaches a server (no LOCUST_* or CAPTURE_* variables)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "CAPTURE_"))}


def test_run_time_counts_load_from_the_end_of_spawning(sandbox_factory: Callable[..., Sandbox],
                                                       tmp_path: Path) -> None:
    """-t 6s is 6 s of load: spawning 4 users at 2/s (1.5 s) and building the factory come before it."""
    sandbox = sandbox_factory()
    args = locust_args("create.py", sandbox, tmp_path, "--create-rate", "20", users=4)
    args[args.index("-r") + 1] = "2"
    args[args.index("-t") + 1] = "6s"
    args[args.index("--loglevel") + 1] = "INFO"
    proc = subprocess.run(args, env=sandbox_env(sandbox), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "No run time limit" not in proc.stderr   # Locust, seeing no -t of its own, would say so
    times = sorted(entry.time for entry in read_ledger(tmp_path / "ledger" / "worker-0.jsonl").entries.values())
    assert 5.6 <= times[-1] - times[0] <= 6.4, times[-1] - times[0]
    assert 112 <= len(times) <= 121      # 20/s for 6 s, the first at 0.025 s; nothing served before the start


def test_legacy_auth_sends_the_credentials_in_the_form(sandbox_factory: Callable[..., Sandbox],
                                                       tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    proc = run_locust("create.py", sandbox, tmp_path, "--capture-auth", "legacy", "--create-rate", "20",
                      "--stages", "0s:20,1s:20")
    assert proc.returncode == 0, proc.stderr[-2000:]
    ledger = tmp_path / "ledger" / "worker-0.jsonl"
    assert records(sandbox) == 20 == len(read_ledger(ledger).entries)
    assert sandbox.client_secret not in ledger.read_text(encoding="utf-8") + proc.stderr

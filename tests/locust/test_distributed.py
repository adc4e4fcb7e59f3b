"""One ledger for a distributed run: workers on "other machines" send their lines to the master, kill -9 included."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from locust_support import LOCUSTFILES, ROOT, sandbox_env

from loadgen.auth import make_auth
from loadgen.client import CaptureClient
from loadgen.ledger import FLUSH_SECONDS, load_run_ledger, read_ledger
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow

RATE = 40          # creates/s across both workers
STAGE_S = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stored(sandbox: Sandbox) -> dict[int, dict[str, int]]:
    """worker index -> {uuid: id} of every record in the sandbox (the email says which worker made it)."""
    found: dict[int, dict[str, int]] = {}
    auth = make_auth("basic", sandbox.client_id, sandbox.client_secret)
    with CaptureClient(sandbox.url, auth) as client:
        for record in client.find(attributes=["uuid", "id", "email"]):
            worker = int(re.search(r"-w(\d+)-\d+@", record["email"]).group(1))  # type: ignore[union-attr]
            found.setdefault(worker, {})[record["uuid"]] = record["id"]
    return found


def test_the_master_writes_the_one_ledger_and_says_what_a_killed_worker_did_not_send(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    env = sandbox_env(sandbox)
    port = str(_free_port())
    folders = [tmp_path / name for name in ("master", "w0", "w1")]
    for folder in folders:
        folder.mkdir()
    locustfile = str(LOCUSTFILES / "create.py")
    master_log = (tmp_path / "master.log").open("w")
    master = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", locustfile, "--headless", "--host", sandbox.url, "-u", "8", "-r", "8",
         "-t", "60s", "--only-summary", "--run-dir", "run", "--create-rate", str(RATE), "--stages",
         f"0s:{RATE},{STAGE_S}s:{RATE}", "--run-id", "dist", "--master", "--expect-workers", "2",
         "--master-bind-host", "127.0.0.1", "--master-bind-port", port],
        cwd=folders[0], env=env, stdout=subprocess.DEVNULL, stderr=master_log)
    # each worker in its own working directory, as on its own machine: its local part stays there
    workers = [subprocess.Popen([sys.executable, "-m", "locust", "-f", locustfile, "--worker", "--master-host",
                                 "127.0.0.1", "--master-port", port], cwd=folder, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for folder in folders[1:]]
    ledger = folders[0] / "run" / "ledger.jsonl"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # both workers' lines have reached the master's ledger
            lines = ledger.read_text().splitlines() if ledger.exists() else []
            if len({json.loads(line)["worker"] for line in lines}) == 2 and len(lines) >= RATE:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the master's ledger never got lines from both workers")
        workers[1].send_signal(signal.SIGKILL)
        assert master.wait(timeout=90) in (0, 1), (tmp_path / "master.log").read_text()[-2000:]
        workers[0].wait(timeout=30)
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        master_log.close()

    killed = int(next((folders[2] / "run" / "ledger").glob("worker-*.jsonl")).stem.split("-")[1])
    survivor = 1 - killed
    stored = _stored(sandbox)
    master_read = read_ledger(ledger)
    assert not master_read.damage
    by_worker: dict[int, dict[str, int]] = {}
    for entry in master_read.entries.values():
        by_worker.setdefault(entry.worker, {})[entry.uuid] = entry.id
    # the surviving worker: every record it created is in the master's ledger, and nothing else
    assert by_worker[survivor] == stored[survivor]
    # the killed one: the master has all but its unsent batch, which is newer than every line it got
    got, made = by_worker[killed], stored[killed]
    lost = {uuid: id for uuid, id in made.items() if uuid not in got}
    assert set(got) <= set(made)
    assert len(lost) <= RATE / 2 * (2 * FLUSH_SECONDS) + 5, (len(lost), len(made))
    assert all(id > max(got.values()) for id in lost.values())
    # and the master says so, per worker
    summary = json.loads((folders[0] / "run" / "locust_run.json").read_text())
    accounts = summary["ledger"]["workers"]
    assert accounts[str(killed)]["missing"] and not accounts[str(survivor)]["missing"]
    assert accounts[str(survivor)]["received"] == len(stored[survivor]) and accounts[str(survivor)]["unconfirmed"] == 0
    assert accounts[str(killed)]["received"] == len(got)
    warning = next(w for w in summary["ledger_warnings"] if w.startswith(f"worker {killed} stopped answering"))
    assert f"{accounts[str(killed)]['unconfirmed']} acknowledged creates not confirmed" in warning
    assert warning in (tmp_path / "master.log").read_text()
    # cleanup on the master's machine deletes what the master's ledger holds, and says a worker is unaccounted
    command = [str(ROOT / ".venv" / "bin" / "loadgen"), "cleanup", str(folders[0] / "run"), "--url", sandbox.url,
               "--rate", "1000"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 1, first.stderr
    assert f"worker {killed} stopped answering during the run and its ledger/worker-{killed}.jsonl" in first.stderr
    assert f"deleted {len(master_read.entries)}," in first.stdout
    # the killed worker's local part, copied next to the master's ledger, is read with it as one union
    part = next((folders[2] / "run" / "ledger").glob("worker-*.jsonl"))
    (folders[0] / "run" / "ledger").mkdir()
    (folders[0] / "run" / "ledger" / part.name).write_bytes(part.read_bytes())
    union = load_run_ledger(folders[0] / "run")
    assert set(got) <= set(union.entries) <= set(made) | set(stored[survivor])
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "stopped answering" not in second.stderr
    left = _stored(sandbox)
    assert not left.get(survivor) and set(left.get(killed, {})) == set(made) - set(union.entries)

"""The master's view of complete seconds for --abort-on-fail: a window is judged only once every worker has
reported past it, so the value that stops a run is the one the report computes from all the data.

Run in a child Python: importing Locust monkey-patches the standard library (architecture: never in the tests'
own process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent("""
    from locust.runners import STATE_MISSING, MasterRunner, WorkerNode, WorkerNodes

    from loadgen.locust import gates
    from loadgen.locust.state import state

    class TwoWorkers(MasterRunner):
        def __init__(self):   # no server: only the worker nodes are read
            self.clients = WorkerNodes()
            for client in ("w-a", "w-b"):
                self.clients[client] = WorkerNode(client)

    runner = TwoWorkers()
    state.reported_at = {"w-a": 1_000_010.5}
    assert gates._complete_until(runner) is None, "w-b has not reported: its seconds are unknown"
    state.reported_at["w-b"] = 1_000_007.9
    assert gates._complete_until(runner) == 1_000_007, "the laggard's last report bounds what is complete"
    runner.clients["w-b"].state = STATE_MISSING
    assert gates._complete_until(runner) == 1_000_010, "a worker gone missing no longer holds every window back"
""")


def test_the_master_judges_only_seconds_every_worker_has_reported() -> None:
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr

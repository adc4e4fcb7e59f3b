"""The master's view of complete seconds for --abort-on-fail: a window is judged only once every worker has
reported past it, so the value that stops a run is the one the report computes from all the data.

Run in a child Python: importing Locust monkey-patches the standard library (architecture: never in the tests'
own process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent("""
    from locust.runners import MasterRunner

    from loadgen.locust import gates
    from loadgen.locust.state import state

    class TwoWorkers(MasterRunner):
        worker_count = 2

        def __init__(self):   # no server: only the worker count is read
            pass

    runner = TwoWorkers()
    state.reported_at = {"0": 1_000_010.5}
    assert gates._complete_until(runner) is None, "worker 1 has not reported: its seconds are unknown"
    state.reported_at["1"] = 1_000_007.9
    assert gates._complete_until(runner) == 1_000_007, "the laggard's last report bounds what is complete"
""")


def test_the_master_judges_only_seconds_every_worker_has_reported() -> None:
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr

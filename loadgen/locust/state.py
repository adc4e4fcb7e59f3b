"""What one Locust process knows of its run, between Locust's events: one object, ``state``.

One Locust environment runs per process, so the listeners of :mod:`loadgen.locust.hooks` share
this module-level state; the users reach the process's load state through :func:`current_load`. No
listener here and no file written: only the data.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from loadgen.errors import LoadgenError
from loadgen.failures import FirstExamples
from loadgen.ledger import MasterLedger
from loadgen.locust.live import LiveSnapshot, Target, WorkerLive
from loadgen.locust.load_state import LoadState
from loadgen.report.recorder import Recorder


class State:
    """Module state of this process (one Locust environment per process)."""

    def __init__(self) -> None:
        self.load: LoadState | None = None
        self.recorder: Recorder | None = None      # master / local: the merged view
        self.records = 0
        self.dropped: Counter[str] = Counter()
        self.cpu: dict[str, float] = {}
        self.totals: dict[str, tuple[int, Counter[str]]] = {}
        self.reported_at: dict[str, float] = {}    # master: each worker's latest report (by client id), its clock
        self.unanswered: dict[str, int] = {}
        self.done: set[str] = set()
        self.reasons: list[str] = []
        self.started_at: float | None = None
        self.quitting = False
        self.finishing = False                     # the master asked its workers to finish (hooks._finish)
        self.ledger = MasterLedger()
        self.failures = FirstExamples()            # master / local: the examples kept over all workers
        self.failures_file: Path | None = None     # the run folder's failures.jsonl
        self.master: Any = None                    # the MasterRunner, in the master process
        self.auto_run_id = ""                      # the run id this process made up for the last test
        self.own_runs: set[Path] = set()           # run folders whose ledger this process writes
        self.run_time: float | None = None         # headless -t, counted from the end of spawning
        # the live view (loadgen.locust.live_hooks), master / local
        self.live: LiveSnapshot | None = None
        self.live_parts: dict[str, WorkerLive] = {}   # each worker's latest part, by client id
        self.live_targets: dict[str, Target] = {}
        self.ticker: Any = None                    # the greenlet that refreshes ``live`` each second


state = State()


def current_load() -> LoadState:
    if state.load is None:
        raise LoadgenError("no load test is running in this process (test_start has not fired)")
    return state.load

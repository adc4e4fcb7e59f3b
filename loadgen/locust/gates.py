"""``--abort-on-fail``: the master judges the windowed ``--gates`` each second and stops a run that broke one.

A run whose latency already broke its SLO for a whole window will not mend by going on: stopping it
saves the target (and the time of whoever waits for the verdict). The judge is the report's own
(:func:`loadgen.report.thresholds.judge_windows` over the merged recorder), so the window that stops
the run is the one the report names. In a distributed run it runs on the master, whose recorder
merges every worker's seconds: a worker alone sees only its share. Seconds are judged once
complete: up to the oldest of the workers' latest stats reports (:func:`_complete_until`). A window
judged on part of its seconds' data was judged again by the report on all of it, with another value
(or another window breaking first).

Whole-run gates are not judged here: the whole run is not over until it is.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import gevent
from locust.runners import (
    STATE_CLEANUP,
    STATE_MISSING,
    STATE_STOPPED,
    STATE_STOPPING,
    MasterRunner,
    WorkerRunner,
)

from loadgen.errors import LoadgenError
from loadgen.locust.options import settings_from
from loadgen.locust.state import state
from loadgen.report.recorder import Recorder
from loadgen.report.window_judge import WindowJudge

log = logging.getLogger("loadgen.locust")

TICK_S = 1.0


def _recorder() -> Recorder | None:
    return state.load.recorder if state.load is not None else state.recorder


def _complete_until(runner: Any) -> int | None:
    """The epoch second before which the recorder holds every second's data: now in a local runner (it
    records as requests complete); on a master, the oldest of the workers' latest reports (None until each
    worker has reported: its seconds, and the measured start they fix, are not known yet). A worker Locust
    counts as missing is left out: its last report would hold every later window back for the rest of the run."""
    if not isinstance(runner, MasterRunner):
        return math.floor(time.time())
    live = [node.id for node in runner.clients.values() if node.state != STATE_MISSING]
    times = [state.reported_at.get(client) for client in live]
    if not times or None in times:
        return None
    return math.floor(min(t for t in times if t is not None))


def _watch(environment: Any, judge: WindowJudge) -> None:
    """Judge each second while the test runs; on a breach, say why and stop the whole swarm."""
    runner = environment.runner
    while True:
        gevent.sleep(TICK_S)
        if runner.state in (STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP):
            return
        recorder, until = _recorder(), _complete_until(runner)
        reason = None if recorder is None or until is None else judge.breach(recorder, until)
        if reason is not None:
            state.reasons.append(reason)
            log.warning("--abort-on-fail: %s: stopping", reason)
            runner.quit()
            return


def _on_test_start(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    try:
        settings = settings_from(environment.parsed_options or {})
    except LoadgenError:   # hooks.py reports it and stops the run
        return
    if not settings.abort_on_fail:
        return
    judge = WindowJudge(settings.gates, settings.abort_delay_s)
    if not judge.gates:
        log.warning("--abort-on-fail: no windowed gate in --gates (e.g. 'create.p99[30s]<300ms'): nothing to judge")
        return
    gevent.spawn(_watch, environment, judge)


def register(events: Any) -> None:
    """Attach the listener (called by :mod:`loadgen.locust.hooks`)."""
    events.test_start.add_listener(_on_test_start)

"""The live view's Locust listeners: the snapshot each second, the web UI's Capture tab, the console line.

Kept apart from :mod:`loadgen.locust.hooks` (which owns the run's life: options, load state, run
files) because this is only a face of the data: it reads the master's (or local runner's) merged
recorder and never changes it. Every second the master builds one
:class:`~loadgen.locust.live.LiveSnapshot` and

* keeps it for the web UI: a "Capture" tab (Locust's ``extended_tabs``, rows delivered with each
  ``/stats/requests`` poll) and its JSON at ``/capture/live``;
* writes it to the run folder's ``live.json``, which ``loadgen run`` reads for its progress line
  (a file, because ``loadgen run`` runs Locust headless, with no web server to ask);
* renders it as OpenMetrics at ``--metrics-port`` (:mod:`loadgen.locust.metrics`);
* logs its compact line on the console every stats interval where Locust prints its own stats,
  and once at the end in any case, so dropped arrivals and errors by code are never only in files.

Workers add what the merged recorder cannot tell (requests in flight, failed records of batches)
to their stats reports, as a :class:`~loadgen.locust.live.WorkerLive`.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import gevent
from flask import Response, jsonify, request
from locust.runners import STATE_RUNNING, STATE_SPAWNING, WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner
from locust.stats import CONSOLE_STATS_INTERVAL_SEC, console_logger

from loadgen.errors import LoadgenError
from loadgen.locust.live import COLUMNS, LiveSnapshot, Target, WorkerLive, build_snapshot, merge_workers, table_rows
from loadgen.locust.load_state import LoadState, endpoints_of, schedules_of
from loadgen.locust.options import settings_from
from loadgen.locust.state import state
from loadgen.runfolder import write_live
from loadgen.scenarios import BULK_CREATE, CREATE, MALFORMED

log = logging.getLogger("loadgen.locust")

TAB = "capture"
LIVE_KEY = "loadgen_live"
TICK_S = 1.0


def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("Capture live metrics (capture-loadgen)")
    group.add_argument("--metrics-port", type=int, default=0, env_var="LOCUST_METRICS_PORT",
                       help="serve the live view as OpenMetrics on this port (master or local runner; 0: off)")
    group.add_argument("--metrics-host", default="127.0.0.1", env_var="LOCUST_METRICS_HOST",
                       help="address of the --metrics-port server (0.0.0.0: every interface)")


def _on_init(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    if environment.web_ui is not None:
        _extend_web_ui(environment.web_ui)
    options = environment.parsed_options
    port = int(getattr(options, "metrics_port", 0) or 0)
    if port:
        from loadgen.locust.metrics import serve

        host = str(getattr(options, "metrics_host", "127.0.0.1"))
        try:
            serve(port, host, lambda: state.live)
        except OSError as exc:
            sys.exit(f"error: --metrics-port {port}: cannot listen on {host}: {exc.strerror or exc}")
        log.info("live metrics on http://%s:%d/metrics", host, port)


def _extend_web_ui(web_ui: Any) -> None:
    """The Capture tab: Locust's ``extend_web_ui`` mechanism (template args, rows in the stats poll)."""
    web_ui.template_args["extended_tabs"] = [{"title": "Capture", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB, "structure": [{"key": key, "title": title} for key, title in COLUMNS]}]
    app = web_ui.app

    def add_rows(response: Response) -> Response:
        if request.path.endswith("/stats/requests") and response.is_json and state.live is not None:
            data = response.get_json()
            data["extended_stats"] = [{"key": TAB, "data": table_rows(state.live)}]
            response.set_data(app.json.dumps(data))
        return response

    def live() -> Response:
        return jsonify(state.live.to_json() if state.live is not None else {})

    app.after_request(add_rows)
    app.add_url_rule("/capture/live", view_func=web_ui.auth_required_if_enabled(live))


def _on_test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    state.live, state.live_parts = None, {}
    try:
        settings = settings_from(environment.parsed_options or {})
        schedules = schedules_of(settings, endpoints_of(environment.user_classes))
        state.live_targets = {name: Target(schedule, settings.bulk_size if name == BULK_CREATE.name else 1)
                              for name, schedule in schedules.items()}
        create = state.live_targets.get(CREATE.name)
        if create is not None and any(getattr(c, "malformed", False) for c in environment.user_classes):
            share = settings.malformed_share   # error_path: these create arrivals go out as bad requests
            state.live_targets[CREATE.name] = Target(create.schedule, 1, 1 - share)
            state.live_targets[MALFORMED.name] = Target(create.schedule, 0, share)
    except LoadgenError:   # hooks.py reports it and stops the run
        state.live_targets = {}
    if state.ticker is None:   # one for the process: a second test from the web UI keeps it
        state.ticker = gevent.spawn(_tick, environment)


def _tick(environment: Any) -> None:
    """Refresh the snapshot each second for as long as the process lives; print it where Locust prints."""
    options = environment.parsed_options
    console = options is not None and not options.only_summary and (
        options.print_stats or (options.headless and not options.worker))
    printed = 0.0
    while True:
        gevent.sleep(TICK_S)
        snap = refresh(environment)
        now = time.monotonic()
        if snap is not None and console and environment.runner.state in (STATE_RUNNING, STATE_SPAWNING) \
                and snap.requests_per_s and now - printed >= CONSOLE_STATS_INTERVAL_SEC - 0.5:  # no all-zero line
            printed = now
            console_logger.info("Capture: %s", snap.line())


def refresh(environment: Any) -> LiveSnapshot | None:
    """Build the snapshot from this process's merged view, keep it and write ``live.json``."""
    recorder = state.load.recorder if state.load is not None else state.recorder
    runner = environment.runner
    if recorder is None or state.started_at is None or runner is None:   # run_single_user has no runner
        return None
    part = _local_part(state.load) if state.load is not None else merge_workers(state.live_parts.values())
    settings = settings_from(environment.parsed_options or {})
    distributed = isinstance(runner, MasterRunner)
    snap = build_snapshot(
        recorder, run_id=settings.run_id, state=str(runner.state), now=time.time(),
        started_at=state.started_at if part.origin is None else part.origin,
        targets=state.live_targets, record_failures=part.record_failures,
        workers=runner.worker_count if distributed else 1, in_flight=part.in_flight,
        lag_s=int(WORKER_REPORT_INTERVAL) + 1 if distributed else 1,
        final=runner.state not in (STATE_RUNNING, STATE_SPAWNING))
    state.live = snap
    try:
        write_live(settings.run_path, snap.to_json())
    except OSError as exc:
        log.warning("could not write the live view: %s", exc)
    return snap


def _local_part(load: LoadState) -> WorkerLive:
    pacer = next(iter(load.pacers.values()), None)
    return WorkerLive(load.in_flight, {name: dict(counts) for name, counts in load.record_failures.items()},
                      None if pacer is None else time.time() - pacer.elapsed())


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if state.load is not None:
        data[LIVE_KEY] = _local_part(state.load).to_json()


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    raw = data.get(LIVE_KEY)
    if raw is not None:
        try:
            state.live_parts[client_id] = WorkerLive.from_json(raw)
        except LoadgenError as exc:
            log.warning("worker %s sent a live view this version cannot read: %s", client_id, exc)


def _on_quitting(environment: Any, **_: Any) -> None:
    """The final snapshot (after hooks.py saved the run files), and its line on the console in any case."""
    if isinstance(environment.runner, WorkerRunner):
        return
    snap = refresh(environment)
    if snap is not None:
        console_logger.info("Capture: %s", snap.line())


def register(events: Any) -> None:
    """Attach the listeners (called by :mod:`loadgen.locust.hooks` after its own: quitting runs after its save)."""
    events.init_command_line_parser.add_listener(_add_options)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
    events.report_to_master.add_listener(_on_report_to_master)
    events.worker_report.add_listener(_on_worker_report)
    events.quitting.add_listener(_on_quitting)

"""Locust event listeners: options, the per-process load state, and the master's merge of worker reports.

The listeners only: the data they share lives in :mod:`loadgen.locust.state`, and the run files
are written through :mod:`loadgen.runfolder`.

Registered once, when ``loadgen.locust.users`` is imported by a locustfile. The flow of one run:

* ``init_command_line_parser`` adds our options (``locust --help``, web UI, ``locust.conf``, env).
* ``init`` validates them and fails fast with one line (bad flag, no credentials, clear-text URL).
* ``test_start`` on the master (or the local runner) fixes the run id and the number of workers
  into the options, which Locust ships to every worker in its spawn message; then every process
  that runs users builds its :class:`~loadgen.locust.load_state.LoadState`.
* each worker stats report carries the recorder delta (``report_to_master``); the master merges
  them (``worker_report``) and writes ``recorder.json`` and ``locust_run.json`` when quitting.
* a process with nothing left to send (last stage over, ``--max-records`` spent) tells the master,
  which quits once every live worker is done: the run ends cleanly, reports and CSV written. A worker
  sends a full stats report just before it says so: the master quits with every worker's data.
* in a distributed run each worker sends its ledger lines to the master in batches (every
  ``FLUSH_SECONDS`` or ``FLUSH_LINES``, over Locust's own messaging), and the master appends them to
  the run's one ``ledger.jsonl`` as they come. The master compares, per worker, the creates the
  worker reported (stats reports, batch totals) with the lines it received: a worker killed mid-run
  loses at most its unsent batch, and the master says how many acknowledged creates it never got.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
from locust import events
from locust.runners import (
    STATE_MISSING,
    STATE_STOPPED,
    WORKER_REPORT_INTERVAL,
    LocalRunner,
    MasterRunner,
    WorkerRunner,
)
from locust.stats import CSV_STATS_INTERVAL_SEC

from loadgen.errors import LoadgenError, UsageError
from loadgen.failures import Failure, FirstExamples, write_failures
from loadgen.ledger import FLUSH_SECONDS, MasterLedger
from loadgen.locust import gates, live_hooks
from loadgen.locust.load_state import LoadState, endpoints_of, load_schema_for, make_factory
from loadgen.locust.options import OPTIONS, Settings, env_var, new_run_id, settings_from
from loadgen.locust.state import state
from loadgen.report.recorder import Recorder
from loadgen.runfolder import (
    FAILURES,
    LEDGER,
    PREFILL_WORKER,
    LedgerAccount,
    LocustSummary,
    ledger_part,
    write_locust_files,
)

if TYPE_CHECKING:
    from loadgen.profiles import Profile

log = logging.getLogger("loadgen.locust")

DONE_MESSAGE = "loadgen_done"
LEDGER_MESSAGE = "loadgen_ledger"
FINISH_MESSAGE = "loadgen_finish"
#: How long the master waits, beyond the workers' stop timeout, for workers it asked to finish.
FINISH_SLACK_S = 5.0
#: Users finish the request in hand when the run stops, so every created record reaches the ledger.
MIN_STOP_TIMEOUT = 30.0


def _settings(environment: Any) -> Settings:
    return settings_from(environment.parsed_options or {})


def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("Capture (capture-loadgen)")
    for flag, kind, default, help_text in OPTIONS:
        if kind is bool:
            action = group.add_argument(flag, action="store_true", default=default, help=help_text,
                                        env_var=env_var(flag))
        else:
            action = group.add_argument(flag, type=kind, default=default, help=help_text, env_var=env_var(flag))
        # what LocustArgumentParser.add_argument sets, which a group's add_argument does not: the web UI
        # lists only actions carrying these
        action.include_in_web_ui = True
        action.is_secret = action.is_required = action.is_multiple = False


def _on_init(environment: Any, **_: Any) -> None:
    try:
        settings = _settings(environment)
        if not isinstance(environment.runner, MasterRunner):
            from loadgen.auth import credentials

            credentials()
        if environment.host:
            from loadgen.auth import resolve_url

            resolve_url(environment.host, insecure=settings.insecure)
        if not isinstance(environment.runner, WorkerRunner) and (settings.run_id or settings.run_dir):
            _refuse_taken_ledger(settings)
    except LoadgenError as exc:
        sys.exit(f"error: {exc}")
    _take_run_time(environment)
    # spawning_complete carries no environment: this process's listener gets it bound here
    environment.events.spawning_complete.add_listener(partial(_on_spawning_complete, environment))
    if (environment.stop_timeout or 0) < MIN_STOP_TIMEOUT:
        environment.stop_timeout = MIN_STOP_TIMEOUT
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(DONE_MESSAGE, _on_worker_done)
        runner.register_message(LEDGER_MESSAGE, _on_ledger_batch)
        state.master = runner
    elif isinstance(runner, WorkerRunner):
        runner.register_message(FINISH_MESSAGE, _on_finish)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        gevent.signal_handler(signal.SIGINT, partial(_on_sigint, runner))


def _refuse_taken_ledger(settings: Settings) -> None:
    """A run folder holding another run's ledger is refused: appending would mix two runs in one ledger,
    and its cleanup would delete the records of both. A second test of this process's own run goes on."""
    if settings.run_path.resolve() in state.own_runs:
        return
    part, prefill = Path(ledger_part("*")).name, Path(ledger_part(PREFILL_WORKER)).name   # the prefill is this run's
    for path in (settings.run_path / LEDGER, *sorted(settings.ledger_path.glob(part))):
        if path.is_file() and path.stat().st_size and path.name != prefill:
            raise UsageError(f"{path} already holds the ledger of an earlier run: pick another --run-id "
                             "or --run-dir (or clean that run up and remove its folder)")


#: How long the schedule waits for the users' ``on_start`` (within ``loadgen run``'s -t grace of 15 s, which
#: a master arms before its workers are ready), and how often it looks.
READY_WAIT_S = 10.0
READY_POLL_S = 0.01


def _no_run_time_notice(record: logging.LogRecord) -> bool:
    return "No run time limit" not in record.getMessage()


def _take_run_time(environment: Any) -> None:
    """A headless ``-t`` counts load, not set-up: Locust arms it when the test starts, before the users are
    spawned, so this process arms it itself when spawning completes (:func:`_on_spawning_complete`)."""
    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or options is None or not getattr(options, "headless", False):
        return
    if getattr(options, "run_time", None):
        state.run_time, options.run_time = float(options.run_time), None
        log.info("-t %gs counts from the end of spawning", state.run_time)
        # Locust, seeing no -t left, would tell the user there is no limit and to press Ctrl-C: there is one
        logging.getLogger("locust.main").addFilter(_no_run_time_notice)   # the same filter is added once


def _on_spawning_complete(environment: Any, **_: Any) -> None:
    gevent.spawn(_start_when_ready, environment)


def _start_when_ready(environment: Any) -> None:
    """Set-up is over once every user spawned here is past its ``on_start`` (a catalogue drawn, a login):
    the arrival schedule starts then, and so does a headless ``-t``. Arrivals due while an ``on_start``
    holds the event loop would all be late before the first request. A user whose ``on_start`` failed
    never gets there: after ``READY_WAIT_S`` the schedule starts without it."""
    load = state.load
    if load is not None:
        deadline = time.monotonic() + READY_WAIT_S
        while not load.all_ready() and time.monotonic() < deadline:
            gevent.sleep(READY_POLL_S)
        if not load.all_ready():
            log.warning("%d of %d users had not finished on_start after %gs: the schedule starts without them",
                        load.users - load.ready, load.users, READY_WAIT_S)
        load.start_schedule()
    run_time, state.run_time = state.run_time, None
    if run_time is not None and environment.runner is not None:
        gevent.spawn_later(run_time, _run_time_over, environment.runner)


def _run_time_over(runner: Any) -> None:
    log.info("--run-time limit reached, shutting down")
    if isinstance(runner, MasterRunner) and runner.clients.all:
        _finish(runner, "--run-time limit reached")
    else:
        runner.quit()


def _on_sigint(runner: Any) -> None:
    """Ctrl-C: no new arrivals from now on, then Locust's usual KeyboardInterrupt in the main greenlet.

    Python's own handler raises KeyboardInterrupt in whichever greenlet runs when the signal lands,
    which may be a user holding an answered request whose records are not yet in the ledger. The
    master of workers first asks them to finish (:func:`_finish`); a second Ctrl-C is Locust's own.
    """
    if isinstance(runner, MasterRunner) and runner.clients.all and not state.finishing:
        _finish(runner, "Ctrl-C")
        return
    if state.load is not None:
        state.load.stop()
    hub = gevent.get_hub()
    hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt)


def _finish(runner: Any, reason: str) -> None:
    """Stop a distributed run with every worker's data in the report.

    Locust's own stop (``MasterRunner.quit``) gives the workers' final stats reports half a second; a
    loaded machine's came later, and the report missed all they had not reported yet (a Ctrl-C'd
    run's report could say no request was sent). So each worker is asked to finish: no new arrivals,
    its requests in flight answered, then its last report and "done" (:func:`_on_finish`); the master
    quits once all have (:func:`_quit_when_done`), or after their stop timeout without the silent ones.
    """
    state.finishing = True
    log.info("%s: asking the workers to finish", reason)
    runner.send_message(FINISH_MESSAGE, {"reason": reason})
    gevent.spawn_later(runner.environment.stop_timeout + FINISH_SLACK_S, _quit_without_the_rest, runner)


def _quit_without_the_rest(runner: Any) -> None:
    if not state.quitting:
        state.quitting = True
        log.warning("not every worker finished in time: stopping without the rest")
        runner.quit()


def _on_finish(environment: Any, msg: Any, **_: Any) -> None:
    """A worker asked to finish (:func:`_finish`): no new arrivals; once the requests in flight have their
    answers (or the stop timeout is over), its last stats report and "done"."""
    runner, load = environment.runner, state.load
    reason = str((msg.data or {}).get("reason", "stopped"))
    if load is not None:
        load.stop()
    gevent.spawn(_finish_worker, runner, load, reason)


def _finish_worker(runner: Any, load: LoadState | None, reason: str) -> None:
    deadline = time.monotonic() + runner.environment.stop_timeout  # at least MIN_STOP_TIMEOUT (_on_init)
    while load is not None and load.in_flight and time.monotonic() < deadline:
        gevent.sleep(0.05)
    _report_done(runner, reason)


def _on_test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    options = environment.parsed_options
    if not isinstance(runner, WorkerRunner) and options is not None:
        _fix_run_id(options)
        options.loadgen_workers = runner.worker_count if isinstance(runner, MasterRunner) else 1
        state.recorder, state.records, state.started_at = Recorder(), 0, time.time()
        state.dropped, state.cpu, state.done, state.reasons, state.totals = Counter(), {}, set(), [], {}
        state.reported_at = {}
        state.unanswered, state.quitting, state.finishing = {}, False, False
    try:
        settings = _settings(environment)
        if not isinstance(runner, WorkerRunner):
            _refuse_taken_ledger(settings)
            state.own_runs.add(settings.run_path.resolve())
            state.failures, state.failures_file = FirstExamples(), settings.run_path / FAILURES
    except LoadgenError as exc:
        _refuse_test(environment, exc)
        return
    if isinstance(runner, MasterRunner):
        state.ledger.close()
        state.ledger = MasterLedger(settings.run_path / LEDGER)
        return
    try:
        workers = int(getattr(options, "loadgen_workers", 1) or 1)
        worker = max(0, int(getattr(runner, "worker_index", 0)))
        previous = state.load
        if previous is not None:
            previous.close()
        # a second test of the same run keeps the factory, so its email sequence does not restart
        keep = previous if previous is not None and _factory_key(previous) == (
            settings.seed, settings.run_id, worker, settings.profile, settings.schema) else None
        if keep is None:
            schema = load_schema_for(settings)
            factory = make_factory(settings, schema, worker, _build_pools(settings))
        else:
            schema, factory = keep.schema, keep.factory
        state.load = LoadState(settings, endpoints=endpoints_of(environment.user_classes), worker=worker,
                            workers=workers, factory=factory, schema=schema, held=runner is not None)
    except LoadgenError as exc:
        _refuse_test(environment, exc)
        return
    # The profile pools and Locust's own objects live for the whole run: keep them out of the
    # cyclic GC's scans, which the many short-lived profile dicts would otherwise trigger.
    gc.freeze()
    state.load.on_done = lambda reason: _process_done(environment, reason)
    if isinstance(runner, WorkerRunner):
        _send_ledger_to(runner, state.load)
    log.info("worker %d of %d: run %s, ledger %s", worker, workers, settings.run_id, settings.ledger_path)


def _build_pools(settings: Settings) -> Profile:
    """Build the profile's locale pools before the factory, yielding to gevent after each locale; returns the
    profile, read once, for the factory.

    Built in one go they hold this process for seconds on a loaded machine (a second on an idle one),
    with no heartbeat sent: the master marks such a worker missing, and once every worker is missing it
    stops the test, which then sends nothing. Between two locales the heartbeats go out.
    """
    from loadgen.profiles import build_pools, load_profile

    profile = load_profile(settings.profile or None)
    for _ in build_pools(profile):
        gevent.idle()   # not sleep(0), which runs no timer: the heartbeat greenlet waits on one
    return profile


def _fix_run_id(options: Any) -> None:
    """The run id of a test: the one given (command line or web UI form), else a new one.

    The id this process made up for the previous test still sits in the options (and in the web UI's
    form): a test given that id, or none, gets a new one; any other id given applies as it is.
    """
    given = str(getattr(options, "run_id", "") or "")
    if not given or given == state.auto_run_id:
        given = state.auto_run_id = new_run_id()
    options.run_id = given


def _refuse_test(environment: Any, exc: LoadgenError) -> None:
    """A test that cannot run: one line in the log, no load state (users send nothing), and the test ends.

    From the web UI only this test stops, so the form can be corrected; a headless Locust quits.
    """
    log.error("error: %s", exc)
    if state.load is not None:
        state.load.close()
        state.load = None
    runner = environment.runner
    if runner is not None:
        gevent.spawn(runner.stop if environment.web_ui is not None else runner.quit)


def _send_ledger_to(runner: Any, load: LoadState) -> None:
    """Each flushed ledger batch goes to the master too; a pump flushes at least every FLUSH_SECONDS."""
    ledger = load.ledger
    sent = 0

    def send(lines: list[str]) -> None:
        nonlocal sent
        try:
            runner.send_message(LEDGER_MESSAGE, {"worker": load.worker, "lines": lines, "sent": sent + len(lines)})
        except Exception as exc:  # the lines stay in the local part; the master reports them unconfirmed
            log.error("could not send %d ledger lines to the master: %s", len(lines), exc)
            return
        sent += len(lines)

    def pump() -> None:
        while not ledger.closed:
            gevent.sleep(FLUSH_SECONDS)
            ledger.flush()

    ledger.sink = send
    gevent.spawn(pump)


def _on_ledger_batch(environment: Any, msg: Any, **_: Any) -> None:
    data = msg.data or {}
    state.ledger.write(int(data.get("worker", -1)), str(msg.node_id), list(data.get("lines") or []),
                       int(data.get("sent", 0)))


def _factory_key(load: LoadState) -> tuple[object, ...]:
    return (load.settings.seed, load.settings.run_id, load.worker, load.settings.profile, load.settings.schema)


def _process_done(environment: Any, reason: str) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # not from here: check_done also runs inside this worker's report_to_master listener
        gevent.spawn(_report_done, runner, reason)
    elif isinstance(runner, LocalRunner):
        state.reasons.append(reason)
        log.info("%s: stopping", reason)
        gevent.spawn(runner.quit)


def _report_done(runner: Any, reason: str) -> None:
    """A done worker's last word: a full stats report (Locust's and the recorder's), then "done".

    The master quits once every worker is done, and ``MasterRunner.quit`` gives the workers' final
    reports half a second: on a loaded machine they came later and were dropped, and with them all the
    worker did since its previous report (every ``WORKER_REPORT_INTERVAL`` s: a whole short run). Sent
    first on the same connection, this report reaches the master before "done" does.
    """
    data: dict[str, Any] = {}
    runner.environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
    runner.send_message("stats", data)
    runner.send_message(DONE_MESSAGE, {"reason": reason})


def _on_worker_done(environment: Any, msg: Any, **_: Any) -> None:
    state.done.add(msg.node_id)
    state.reasons.append(str((msg.data or {}).get("reason", "done")))
    _quit_when_done(environment.runner)


def _quit_when_done(runner: Any) -> None:
    """Quit once every live worker is done (a worker that went missing is not waited for)."""
    live = {c.id for c in runner.clients.all if c.state != STATE_MISSING}
    if state.done and live <= state.done and not state.quitting:
        state.quitting = True
        log.info("every worker is done (%s): stopping", state.reasons[-1])
        gevent.spawn(runner.quit)


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if state.load is not None:
        data["loadgen"] = state.load.report()


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    report = data.get("loadgen")
    if not report or state.recorder is None:
        return
    state.recorder.merge(report["recorder"])
    worker = str(report.get("worker", client_id))
    state.cpu[worker] = float(report.get("cpu", 0.0))
    state.unanswered[worker] = int(report.get("unanswered", 0))
    state.totals[worker] = (int(report.get("records", 0)), Counter(report.get("dropped", {})))
    state.reported_at[client_id] = float(report.get("at", 0.0))
    state.records = sum(records for records, _ in state.totals.values())
    state.dropped = sum((dropped for _, dropped in state.totals.values()), Counter())
    state.ledger.claim(int(report.get("worker", -1)), int(report.get("records", 0)))
    _keep_failures([Failure.from_json(f) for f in report.get("failures") or ()])
    if state.done and state.master is not None:   # a worker that went missing is noticed here too
        _quit_when_done(state.master)


def _keep_failures(failures: list[Failure]) -> None:
    """Append the examples a worker (or this process) kept to the run's failures.jsonl, the first few per
    label over all workers: the master is the file's only writer, as it is the ledger's."""
    for failure in failures:
        state.failures.add(failure)
    taken = state.failures.drain()
    if taken and state.failures_file is not None:
        try:
            write_failures(state.failures_file, taken, append=True)
        except OSError as exc:
            log.error("could not write %d failure examples: %s", len(taken), exc)


def _on_test_stopping(environment: Any, **_: Any) -> None:
    """No new request once a stop begins: Locust kills a waiting user asynchronously, so one whose sleep
    has just ended could otherwise send its claimed arrival and be killed before the answer is ledgered."""
    if state.load is not None:
        state.load.stop()


def _on_test_stop(environment: Any, **_: Any) -> None:
    if state.load is not None:   # the users are stopped: whatever is still in flight was killed
        state.load.settle_overdue()
        state.load.abandon_in_flight()
        state.load.ledger.flush()
    # a test stopped from the web UI gets its run files now, not only when Locust quits
    runner = environment.runner
    if isinstance(runner, LocalRunner):
        _save(environment)
    elif isinstance(runner, MasterRunner):   # after the workers' last stats reports
        gevent.spawn_later(WORKER_REPORT_INTERVAL + 0.5, _save, environment)


def _on_quitting(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if state.load is not None:
        # Ctrl-C makes Locust fire ``quitting`` before it stops the users: stop them here, first. No new
        # arrivals, and each request in flight gets its answer into the ledger before the ledger closes.
        state.load.stop()
        if runner is not None and runner.state != STATE_STOPPED:
            runner.stop()
        state.load.close()
    if isinstance(runner, WorkerRunner):
        return
    _save(environment)
    state.ledger.close()
    if getattr(environment.parsed_options, "csv_prefix", None):
        # Locust rewrites its CSV files every second and not at exit: let it write the final numbers
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)


def _save(environment: Any) -> None:
    """Write the run files (master or local runner) into the run folder, through :mod:`loadgen.runfolder`."""
    load = state.load
    if load is not None:  # local runner: this process's data is the whole run
        state.recorder = load.recorder
        state.records = load.records
        state.dropped = Counter(load.dropped)
        state.cpu = {str(load.worker): round(load.cpu_percent(), 1)}
        state.unanswered = {str(load.worker): load.unanswered}
        state.reasons = state.reasons or ([load.done_reason] if load.done_reason else [])
        _keep_failures(load.failures.drain())
    if state.recorder is None:
        return
    try:
        _write_run_files(_settings(environment), environment)
    except (LoadgenError, OSError) as exc:
        log.error("could not write the run files: %s", exc)


def _write_run_files(settings: Settings, environment: Any) -> None:
    assert state.recorder is not None
    runner = environment.runner
    options = environment.parsed_options
    ended_at = time.time()
    ledger: LedgerAccount | None = None
    warnings: list[str] = []
    if isinstance(runner, MasterRunner):
        # a worker that quit is gone from ``clients``; one that stopped answering stays there, missing
        workers, warnings = state.ledger.accounting({c.id for c in runner.clients.all if c.state == STATE_MISSING})
        ledger = LedgerAccount(LEDGER, sum(state.ledger.received.values()), {str(k): v for k, v in workers.items()})
        for warning in warnings:
            if warning not in state.ledger.warned:
                state.ledger.warned.add(warning)
                log.warning("%s", warning)
    summary = LocustSummary(
        run_id=settings.run_id, workers=getattr(runner, "worker_count", 1) or len(state.cpu), records=state.records,
        dropped=dict(state.dropped), workers_cpu=state.cpu, unanswered=sum(state.unanswered.values()),
        stop_reasons=tuple(sorted(set(state.reasons))), started_at=state.started_at, ended_at=ended_at,
        ledger_dir=str(settings.ledger_path), ledger=ledger, ledger_warnings=tuple(warnings),
        scenario=_scenario(options), host=environment.host or None, users=getattr(options, "num_users", None))
    write_locust_files(settings.run_path, state.recorder.snapshot(), summary)


def _scenario(options: Any) -> str:
    """The locustfile's name (``mixed`` for ``-f locustfiles/mixed.py``): a plain Locust run's scenario."""
    given = str(getattr(options, "locustfile", "") or "").split(",")[0]
    return Path(given).stem if given else ""


def _register() -> None:
    """Attach the listeners to Locust's global events (once, at import)."""
    listeners: tuple[tuple[str, Callable[..., None]], ...] = (
        ("init_command_line_parser", _add_options),
        ("init", _on_init),
        ("test_start", _on_test_start),
        ("report_to_master", _on_report_to_master),
        ("worker_report", _on_worker_report),
        ("test_stopping", _on_test_stopping),
        ("test_stop", _on_test_stop),
        ("quitting", _on_quitting),
    )
    for name, listener in listeners:
        getattr(events, name).add_listener(listener)
    live_hooks.register(events)
    gates.register(events)


_register()

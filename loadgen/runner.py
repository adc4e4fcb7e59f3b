"""``loadgen run``: one load test from start to report, the only module that knows sandbox, Locust and report.

Locust runs headless in a child process (``python -m locust``), so gevent's monkey-patching never
touches this process, the embedded sandbox (its own process too) or the report builder. The child
writes its CSV, HTML, per-worker ledgers and ``recorder.json`` into the run folder; this module then
merges the ledgers, checks "nothing lost" against the sandbox's own count, writes ``meta.json`` and
builds the report. Ctrl-C stops the Locust child gracefully while the embedded sandbox (in its own
session) keeps answering; everything is still written.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loadgen.child import wait_child
from loadgen.errors import LoadgenError, RuntimeFailure, UsageError
from loadgen.ledger import VERSION as LEDGER_VERSION
from loadgen.ledger import merge_ledgers
from loadgen.locust.live import LiveFile, LiveSnapshot
from loadgen.locust.options import new_run_id
from loadgen.phases import Phases
from loadgen.preflight import preflight
from loadgen.ramp import Schedule, Stage, parse_stages
from loadgen.report.document import Report
from loadgen.report.recorder import Recorder
from loadgen.runfolder import (
    LEDGER_PARTS,
    LIVE,
    LOCUST_CSV,
    LOCUST_HTML,
    LOCUST_LOG,
    LOCUST_STDERR,
    RECORDER,
    SANDBOX_DB,
    SCHEMA,
    LocustSummary,
    Meta,
    read_json,
    read_summary,
    write_meta,
)
from loadgen.scenarios import (
    AUTH_SCHEMES,
    BULK_CREATE,
    BY_NAME,
    CREATE,
    DEFAULT_AUTH,
    DEFAULT_BULK_RATE,
    DEFAULT_BULK_SIZE,
    DEFAULT_CREATE_RATE,
    DEFAULT_MALFORMED_SHARE,
    DEFAULT_SCENARIO,
    MALFORMED,
    SCENARIOS,
    Kind,
    Scenario,
    main_endpoint,
    paced_schedules,
)

#: ``loadgen run``'s progress callback: (elapsed s, planned duration s, latest live snapshot or None).
Progress = Callable[[float, float, LiveSnapshot | None], None]

#: Seconds of one user a request of each kind holds, to size the default concurrency.
USER_SECONDS = {Kind.CREATE: 0.05, Kind.BULK: 0.002}   # a bulkCreate: per record
#: Extra run time Locust gets after the last arrival before the safety net stops it.
GRACE_S = 15.0
#: How long the master waits for its forked workers to connect before it gives up (Locust's default: forever).
WORKERS_MAX_WAIT_S = 60


@dataclass
class RunOptions:
    """Everything ``loadgen run`` accepts; defaults make ``loadgen run --duration 30s`` a good demo."""

    url: str | None = None
    scenario: str = DEFAULT_SCENARIO
    duration: float = 60.0
    create_rate: float = DEFAULT_CREATE_RATE
    bulk_rate: float = DEFAULT_BULK_RATE
    bulk_size: int = DEFAULT_BULK_SIZE
    stages: str = ""
    workers: int = 1
    users: int | None = None
    out: Path = Path("runs")
    run_id: str | None = None
    seed: int = 0
    profile: str | None = None
    schema: str | None = None
    max_records: int | None = None
    malformed_share: float = DEFAULT_MALFORMED_SHARE
    capture_auth: str = DEFAULT_AUTH
    insecure: bool = False
    thresholds: tuple[str, ...] = ()
    locustfile: str | None = None
    type_name: str = ""     # default: the --schema's entity type name, else user
    metrics_port: int = 0   # serve the live view as OpenMetrics there (0: off)
    corpus: str | None = None   # error_path: a failures.jsonl whose bad requests join the malformed share
    sandbox_options: dict[str, Any] = field(default_factory=dict)
    phases: Phases = field(default_factory=Phases)   # --warmup, --abort-on-fail, --prefill


@dataclass
class RunResult:
    """What a run produced: the folder, the report, and the checks the summary prints."""

    run_dir: Path
    meta: Meta
    report: Report
    recorder: Recorder
    ledger_count: int
    server_count: int | None
    locust_exit: int
    interrupted: bool

    @property
    def nothing_lost(self) -> bool | None:
        return None if self.server_count is None else self.server_count == self.ledger_count


def _check_syntax(path: Path, shown: str) -> None:
    """A locustfile Python cannot compile is one line naming ``file:line``, before a sandbox or a run folder
    exists: Locust would only report it as "stopped without a result", and the "does it use loadgen.locust"
    check cannot judge a file it cannot read as Python."""
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f":{exc.lineno}" if exc.lineno else ""
        raise UsageError(f"--locustfile {shown}{where}: syntax error: {exc.msg}") from None
    except ValueError as exc:   # null bytes in the source
        raise UsageError(f"--locustfile {shown}: not Python source: {exc}") from None


def locustfile_for(scenario: str, override: str | None = None) -> Path:
    """The locustfile of a scenario: ``--locustfile``, else ``locustfiles/<scenario>.py`` of this checkout."""
    if override:
        path = Path(override)
        if not path.is_file():
            raise UsageError(f"--locustfile {override}: no such file")
        _check_syntax(path, override)
        if "loadgen" not in path.read_text(encoding="utf-8", errors="replace"):
            # Locust would refuse the run's own options with a puzzling "Did you mean ...?"
            raise UsageError(f"--locustfile {override}: it does not use loadgen.locust; its users must subclass "
                             "CaptureUser (or CreateUser, ...) so the run is paced, recorded and ledgered")
        return path
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}")
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        path = root / "locustfiles" / SCENARIOS[scenario].locustfile
        if path.is_file():
            return path
    raise UsageError(f"locustfiles/{SCENARIOS[scenario].locustfile} not found: run from the project folder "
                     "or pass --locustfile")


def _scenario(opts: RunOptions) -> Scenario:
    """The scenario whose endpoints a run paces (a ``--locustfile`` run keeps ``--scenario``'s)."""
    return SCENARIOS.get(opts.scenario, SCENARIOS[DEFAULT_SCENARIO])


def paced_rates(opts: RunOptions) -> dict[str, float]:
    """Requests/s of each endpoint the run's scenario paces, from the options named in the registry."""
    return {name: float(getattr(opts, BY_NAME[name].rate_option or "")) for name in _scenario(opts).paced}


def plan_stages(opts: RunOptions) -> tuple[tuple[Stage, ...], float]:
    """The stages Locust gets (a constant rate becomes one step stage) and the run's duration.

    ``--stages`` replace ``--duration`` (the run ends with their last stage; ``loadgen run`` refuses the two
    together), and a warm-up is then their start; without them the warm-up comes before ``--duration``.
    """
    if opts.stages:
        stages = parse_stages(opts.stages)
        return stages, Schedule(0.0, stages).duration
    if opts.duration <= 0:
        raise UsageError(f"--duration must be > 0, got {opts.duration:g}s")
    rates = paced_rates(opts)
    main = rates[main_endpoint(list(rates)) or ""]
    run_s = opts.duration + opts.phases.warmup   # --duration is the measured period, after the warm-up
    return (Stage(0.0, main), Stage(run_s, main)), run_s


def _stages_text(stages: tuple[Stage, ...]) -> str:
    return ",".join(f"{s.duration_s:g}s:{s.rate:g}" for s in stages)


def _records_per_request(name: str, opts: RunOptions) -> int:
    return opts.bulk_size if BY_NAME[name].kind is Kind.BULK else 1


def default_users(opts: RunOptions, stages: tuple[Stage, ...]) -> int:
    """Enough concurrency for the peak rates (idle users cost nothing), at least 5 per worker."""
    rates = paced_rates(opts)
    main = rates[main_endpoint(list(rates)) or ""]
    peak = max([s.rate for s in stages] + [0.0])
    ratio = peak / main if main > 0 else 1.0
    busy = sum(rate * ratio * USER_SECONDS[BY_NAME[name].kind] * _records_per_request(name, opts)
               for name, rate in rates.items())
    need = math.ceil(busy + 1)
    per_worker = max(5, math.ceil(need * 2 / opts.workers))
    return per_worker * opts.workers


def targets(opts: RunOptions, stages: tuple[Stage, ...]) -> dict[str, dict[str, float]]:
    """Mean target rates of the run per endpoint, in requests/s and records/s."""
    result = {}
    for name, schedule in paced_schedules(paced_rates(opts), stages).items():
        mean = schedule.mean_rate
        result[name] = {"requests_per_s": mean, "records_per_s": mean * _records_per_request(name, opts)}
    if _scenario(opts).malformed:
        # --malformed-share of the create arrivals are bad requests, reported as their own endpoint
        mean = result[CREATE.name]["requests_per_s"]
        share = opts.malformed_share
        result[CREATE.name] = {"requests_per_s": mean * (1 - share), "records_per_s": mean * (1 - share)}
        result[MALFORMED.name] = {"requests_per_s": mean * share, "records_per_s": 0.0}
    return result


def locust_command(opts: RunOptions, *, locustfile: Path, url: str, run_dir: Path, run_id: str,
                   stages: tuple[Stage, ...], duration: float, users: int) -> list[str]:
    """The ``python -m locust`` command line of a run (no secrets: those travel in the environment)."""
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url,
           "-u", str(users), "-r", str(users), "-t", f"{math.ceil(duration + GRACE_S)}s",
           "--stop-timeout", "30", "--csv", str(run_dir / LOCUST_CSV), "--html", str(run_dir / LOCUST_HTML),
           "--only-summary", "--loglevel", "INFO", "--logfile", str(run_dir / LOCUST_LOG),
           "--create-rate", f"{opts.create_rate:g}", "--bulk-rate", f"{opts.bulk_rate:g}",
           "--bulk-size", str(opts.bulk_size), "--stages", _stages_text(stages),
           "--stages-in", main_endpoint(_scenario(opts).paced) or "",
           "--malformed-share", f"{opts.malformed_share:g}", "--seed", str(opts.seed), "--run-id", run_id,
           "--run-dir", str(run_dir), "--ledger-dir", str(run_dir / LEDGER_PARTS),
           "--capture-auth", opts.capture_auth, "--type-name", opts.type_name]
    if opts.workers > 1:
        # the master on a free loopback port, not Locust's fixed 5557: another run's workers never join this one
        port = str(_free_port())
        cmd += ["--processes", str(opts.workers), "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                "--master-host", "127.0.0.1", "--master-port", port,
                # forked workers connect at once (their set-up comes later, at test start): one that has not
                # within a minute never will, and the master would wait for it forever
                "--expect-workers-max-wait", str(WORKERS_MAX_WAIT_S)]
    if opts.max_records:
        cmd += ["--max-records", str(opts.max_records)]
    if opts.profile:
        cmd += ["--capture-profile", opts.profile]
    if opts.schema:
        cmd += ["--schema", opts.schema]
    if opts.insecure:
        cmd.append("--insecure")
    if opts.metrics_port:
        cmd += ["--metrics-port", str(opts.metrics_port)]
    if opts.corpus:
        cmd += ["--corpus", str(Path(opts.corpus).resolve())]
    return cmd + opts.phases.locust_args(opts.thresholds)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _remote(opts: RunOptions) -> tuple[str, str, str] | None:
    """(url, client id, secret) of ``--url``, checked before the run folder exists; None: embedded sandbox."""
    if not opts.url:
        return None
    from loadgen.auth import credentials, resolve_url

    found = credentials()
    return resolve_url(opts.url, insecure=opts.insecure).rstrip("/"), found.client_id, found.secret.reveal()


@contextlib.contextmanager
def _target(opts: RunOptions, remote: tuple[str, str, str] | None,
            run_dir: Path) -> Iterator[tuple[str, str, str, Any]]:
    """(url, client id, secret, sandbox or None): the given URL, or the embedded sandbox in its own process."""
    if remote is not None:
        yield *remote, None
        return
    from loadgen.sandbox import serve

    sandbox_kwargs: dict[str, Any] = {"db": run_dir / SANDBOX_DB, "admin": True, "process": True}
    if opts.schema:
        sandbox_kwargs["schema"] = opts.schema
    sandbox_kwargs.update(opts.sandbox_options)
    with serve(**sandbox_kwargs) as sandbox:
        yield sandbox.url, sandbox.client_id, sandbox.client_secret, sandbox


def _run_locust(cmd: list[str], env: dict[str, str], duration: float, log_path: Path,
                progress: Progress | None, live: LiveFile) -> tuple[int, bool]:
    """Run the Locust child to its end; Ctrl-C lets it stop gracefully. (exit code, interrupted)."""
    with log_path.open("wb") as log:
        started = time.monotonic()
        tick = None if progress is None else (lambda: progress(time.monotonic() - started, duration, live.read()))
        code, interrupted = wait_child(
            lambda: subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                     start_new_session=True),
            grace=60.0, tick=tick)
    if code not in (0, 1) and not interrupted:
        raise LoadgenError(f"locust exited with code {code}: {_last_line(log_path)}")
    return code, interrupted


def _raise_child_failure(log_path: Path, locustfile: Path) -> None:
    """Locust ended without writing its account: a misuse its last line names (a locustfile's ``@paced``
    typo, an option Locust refused) is a usage error quoting it, anything else a runtime failure."""
    last = _last_line(log_path)
    misuse = UsageError.__module__ + "." + UsageError.__name__ + ": "
    if last.startswith(misuse):
        raise UsageError(f"{locustfile.name}: {last.removeprefix(misuse)}")
    raise LoadgenError(f"locust stopped without a result: {last}")


def _unserved_targets(meta: Meta, recorder: Recorder) -> Meta:
    """A locustfile of one's own need not pace what ``--scenario`` targets: a target it never served is
    left out of the report with a warning, rather than shown as 0% achieved."""
    idle = [name for name in meta.targets
            if (data := recorder.endpoints.get(name)) is None or not (data.requests or data.dropped)]
    if not idle:
        return meta
    warning = (f"the locustfile sent no {', '.join(idle)} request: --scenario {meta.scenario}'s target for it is "
               "left out (choose the --scenario whose rates the locustfile paces)")
    return replace(meta, targets={n: t for n, t in meta.targets.items() if n not in idle},
                   warnings=(*meta.warnings, warning))


def _last_line(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    tail = [line.strip() for line in lines if line.strip()][-1:] or ["(no output)"]
    return f"{tail[0]} (see {log_path})"


def _check_choices(opts: RunOptions) -> None:
    """The options every later step reads (the scenario names the rates, the plan and the locustfile)."""
    if opts.scenario not in SCENARIOS and not opts.locustfile:
        raise UsageError(f"unknown scenario {opts.scenario!r}: choose one of {', '.join(SCENARIOS)}")
    if opts.capture_auth not in AUTH_SCHEMES:
        raise UsageError(f"--auth must be one of {', '.join(AUTH_SCHEMES)}")
    if opts.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {opts.workers}")


def _check_options(opts: RunOptions) -> None:
    """Validate every option the Locust child will see, and the thresholds, before anything starts.

    The child validates them again (plain ``locust`` runs need that); doing it here too means a typo
    is one line and exit 2, not a finished load test whose report cannot be built.
    """
    from loadgen.locust.options import settings_from
    from loadgen.report.thresholds import parse_thresholds

    settings_from({"create_rate": opts.create_rate, "bulk_rate": opts.bulk_rate, "bulk_size": opts.bulk_size,
                   "malformed_share": opts.malformed_share, "seed": opts.seed, "run_id": opts.run_id or "",
                   "max_records": opts.max_records or 0, "capture_auth": opts.capture_auth})
    parse_thresholds(opts.thresholds)
    scenario = _scenario(opts)
    if opts.corpus and not scenario.malformed and not opts.locustfile:
        raise UsageError(f"--corpus feeds the bad requests of the error_path scenario; {opts.scenario} sends none "
                         "(use --scenario error_path)")
    if not opts.url and BULK_CREATE.name in scenario.paced and opts.bulk_rate > 0:
        from loadgen.sandbox.config import SandboxConfig

        limit = int(opts.sandbox_options.get("max_batch", SandboxConfig.max_batch))
        if opts.bulk_size > limit:
            raise UsageError(f"--bulk-size {opts.bulk_size}: the embedded sandbox takes at most {limit} records per "
                             "bulkCreate (as Janrain's own clients send); every batch would be refused")
    if opts.corpus:
        from loadgen.locust.bad_requests import corpus_requests

        corpus_requests(opts.corpus)   # a damaged or useless corpus is one line before anything starts


def _check_load(opts: RunOptions, stages: tuple[Stage, ...]) -> None:
    """Rates that send nothing are one line, not a sandbox and a Locust started for an empty report.

    A ``--locustfile`` of one's own may pace its tasks by other options: not judged here.
    """
    if opts.locustfile or any(t["requests_per_s"] > 0 for t in targets(opts, stages).values()):
        return
    if opts.stages:
        raise UsageError(f"--stages {opts.stages!r} sends nothing: every stage's rate is 0")
    flags = [f"--{BY_NAME[name].rate_option or name}".replace("_", "-") for name in SCENARIOS[opts.scenario].paced]
    raise UsageError(f"{' or '.join(flags)} must be > 0: the {opts.scenario} scenario would send nothing")


def _check_files(opts: RunOptions) -> str:
    """Load the schema and profile and build a factory once here: a bad file is one line before anything starts.

    Returns the entity type to load: ``type_name``, else the schema's own name, else ``user``.
    """
    from loadgen.profiles import ProfileFactory, load_profile
    from loadgen.schema import default_schema, load_schema

    schema = load_schema(opts.schema, type_name=opts.type_name or None) if opts.schema else default_schema()
    ProfileFactory(schema, load_profile(opts.profile), seed=opts.seed)  # it refuses what it cannot generate
    return opts.type_name or schema.name


def _keep_schema(schema: str | None, type_name: str, run_dir: Path) -> str | None:
    """Keep the run's ``--schema`` in the run folder, so clean-up never depends on the original.

    Written as ``{"name": ..., "attr_defs": [...]}`` with the run's type name in it: a bare attr_defs list
    named by its file (or ``--type-name``) would otherwise be named ``schema`` when read back from the copy.
    """
    if not schema:
        return None
    from loadgen.schema import load_schema
    from loadgen.wire import dumps

    raw = {**load_schema(schema, type_name=type_name).raw, "name": type_name}
    try:
        (run_dir / SCHEMA).write_text(dumps(raw), encoding="utf-8")
    except OSError as exc:
        raise RuntimeFailure(f"--schema {schema}: cannot copy it into {run_dir}: {exc.strerror or exc}") from None
    return SCHEMA


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("capture-loadgen", "locust"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def run(opts: RunOptions, *, progress: Progress | None = None,
        on_start: Callable[[str, Path], None] | None = None) -> RunResult:
    """Run one load test end to end and return its result (the report is written in the run folder).

    ``on_start(url, run_dir)`` is called once the options are valid and the target answered;
    ``progress(elapsed_s, duration_s, live)`` several times a second while Locust runs, with the
    latest live snapshot its master wrote (None until the first).
    """
    _check_choices(opts)
    locustfile = locustfile_for(opts.scenario, opts.locustfile)
    stages, duration = plan_stages(opts)
    _check_options(opts)
    opts.phases.check(duration, staged=bool(opts.stages), thresholds=opts.thresholds)
    _check_load(opts, stages)
    opts = replace(opts, type_name=_check_files(opts))
    remote = _remote(opts)
    run_id = opts.run_id or new_run_id()
    run_dir = Path(opts.out) / run_id
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UsageError(f"{run_dir} already exists: pick another --run-id")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeFailure(f"--out {opts.out}: cannot create {run_dir}: {exc.strerror or exc}") from None
    users = opts.users or default_users(opts, stages)
    plan = Meta(
        run_id=run_id, scenario=opts.scenario, targets=dict(targets(opts, stages)),
        stages=stages if opts.stages else (),
        duration_s=duration, seed=opts.seed, profile=opts.profile or "default", bulk_size=opts.bulk_size,
        workers=opts.workers, users=users, max_records=opts.max_records, capture_auth=opts.capture_auth,
        thresholds=opts.thresholds, versions=_versions(), embedded_sandbox=not opts.url, type_name=opts.type_name,
        schema_file=_keep_schema(opts.schema, opts.type_name, run_dir), ledger_version=LEDGER_VERSION,
        warmup_s=opts.phases.warmup)
    if plan.schema_file:  # the sandbox and Locust load the named copy: one type name on both sides
        opts = replace(opts, schema=str(run_dir / SCHEMA))
    with _target(opts, remote, run_dir) as (url, client_id, secret, sandbox):
        try:
            before = preflight(url, client_id, secret, scheme=opts.capture_auth, type_name=opts.type_name,
                               insecure=opts.insecure)
        except LoadgenError:  # misuse (credentials) or a runtime failure (unreachable)
            with contextlib.suppress(OSError):
                (run_dir / SCHEMA).unlink(missing_ok=True)
                run_dir.rmdir()  # nothing was run: leave no empty folder behind
            raise
        store = before   # + a prefill, seeded (and ledgered) before the measured phase
        if opts.phases.prefill:   # meta.json first: a prefill cut short is still cleaned up from the folder
            write_meta(run_dir, replace(plan, host=url, schema_fingerprint=_fingerprint(opts.schema)))
            from loadgen.auth import make_auth
            from loadgen.prefill import prefill

            store += prefill(opts.phases, url=url, auth=make_auth(opts.capture_auth, client_id, secret),
                             type_name=opts.type_name, schema=opts.schema, profile=opts.profile, seed=opts.seed,
                             insecure=opts.insecure, ledger_dir=run_dir / LEDGER_PARTS, run_id=run_id)
        plan = replace(plan, host=url, schema_fingerprint=_fingerprint(opts.schema), store_records=store)
        env = {**os.environ, "CAPTURE_CLIENT_ID": client_id, "CAPTURE_CLIENT_SECRET": secret,
               "PYTHONUNBUFFERED": "1"}
        cmd = locust_command(opts, locustfile=locustfile, url=url, run_dir=run_dir, run_id=run_id,
                             stages=stages, duration=duration, users=users)
        if on_start is not None:
            on_start(url, run_dir)
        started_at = time.time()
        code, interrupted = _run_locust(cmd, env, duration, run_dir / LOCUST_STDERR, progress,
                                        LiveFile(run_dir / LIVE))
        ended_at = time.time()
        ledger = merge_ledgers(run_dir)
        ledger_count = len(ledger.entries)
        server_count, uncounted = None, ""
        if sandbox is not None:
            import httpx

            try:
                server_count = _sandbox_records(url, client_id, secret, opts.type_name) - before
            except (httpx.HTTPError, ValueError, LoadgenError) as exc:  # the run's files matter more
                uncounted = (f"the sandbox's record count could not be read ({type(exc).__name__}): "
                             "'nothing lost' is unchecked")
    summary = read_summary(run_dir)
    if summary is None:
        if not interrupted:
            _raise_child_failure(run_dir / LOCUST_STDERR, locustfile)
        # Ctrl-C before Locust wrote its account: nothing it counted is known
        summary = LocustSummary(run_id=run_id, workers=opts.workers, records=0, dropped={}, workers_cpu={},
                                unanswered=0, stop_reasons=(), started_at=started_at, ended_at=ended_at,
                                ledger_dir=str(run_dir / LEDGER_PARTS))
    meta = replace(
        plan, started_at=started_at, ended_at=ended_at, workers_cpu=summary.workers_cpu,
        stop_reasons=summary.stop_reasons, dropped=summary.dropped, ledger_records=ledger_count,
        server_records=server_count, locust_exit_code=code, interrupted=interrupted,
        nothing_lost=None if server_count is None else server_count == ledger_count, unanswered=summary.unanswered)
    warnings = _run_warnings(meta) + ([uncounted] if uncounted else []) + list(summary.ledger_warnings)
    if ledger.damage:
        warnings.append(f"{ledger.describe_damage()}: the ledger files were left as they are; "
                        "cleanup reports what it cannot account for")
    meta = replace(meta, warnings=tuple(warnings))
    recorder_data = read_json(run_dir / RECORDER)
    recorder = Recorder.from_snapshots([recorder_data]) if recorder_data else Recorder(started_at)
    if opts.locustfile:
        meta = _unserved_targets(meta, recorder)
    write_meta(run_dir, meta)
    from loadgen.report.build import build_report

    report = build_report(run_dir, recorder, meta)
    if not interrupted and not any(data.requests for data in recorder.endpoints.values()):
        raise LoadgenError(f"no request was sent: {_first_error(run_dir / LOCUST_LOG)}")
    return RunResult(run_dir, meta, report, recorder, ledger_count, server_count, code, interrupted)


def _first_error(log_path: Path) -> str:
    """The first ERROR line of Locust's log (a bad option or schema the child refused), for one-line errors."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    found = next((line.split("/ERROR/", 1)[1] for line in lines if "/ERROR/" in line), None)
    return f"{found.strip()} (see {log_path})" if found else f"see {log_path}"


def _run_warnings(meta: Meta) -> list[str]:
    """What the report must say about an interrupted or incomplete run (it reads ``meta.warnings``)."""
    warnings = []
    if meta.interrupted:
        warnings.append("the run was stopped early by Ctrl-C: the rates cover only the time it ran")
    if meta.unanswered:
        warnings.append(f"{meta.unanswered} requests got no answer (timeout or broken connection): records "
                        "they may have created are not in the ledger, and cleanup cannot remove them")
    if meta.nothing_lost is False:
        warnings.append(f"records lost: the ledger holds {meta.ledger_records} records, the sandbox "
                        f"{meta.server_records}")
    return warnings


def _sandbox_records(url: str, client_id: str, secret: str, type_name: str) -> int:
    """Records of ``type_name`` in the embedded sandbox, by its admin stats (asked with the run's owner client)."""
    import httpx

    from loadgen.auth import make_auth

    response = httpx.get(f"{url}/_sandbox/stats", auth=make_auth("basic", client_id, secret), timeout=10)
    records = response.json().get("records")
    if not isinstance(records, dict):
        raise LoadgenError(f"the sandbox's stats have no record counts (HTTP {response.status_code})")
    return int(records.get(type_name, 0))


def _fingerprint(schema: str | None) -> str | None:
    from loadgen.schema import default_schema, load_schema

    try:
        return str((load_schema(schema) if schema else default_schema()).fingerprint)
    except LoadgenError:
        return None

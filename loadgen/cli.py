"""The ``loadgen`` command line: argument parsing, progress bars and exit codes, nothing more.

Each command calls into a capability module. ``LoadgenError`` subclasses carry their exit code,
so every error ends as one line on stderr with no traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from loadgen import console
from loadgen.errors import ExitCode, LoadgenError, UsageError
from loadgen.runfolder import REPORT_HTML, REPORT_JSON, REPORT_MD, ledger_part
from loadgen.scenarios import (
    AUTH_SCHEMES,
    DEFAULT_AUTH,
    DEFAULT_BULK_RATE,
    DEFAULT_BULK_SIZE,
    DEFAULT_CREATE_RATE,
    DEFAULT_MALFORMED_SHARE,
    DEFAULT_SCENARIO,
    SCENARIOS,
)

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn a ``LoadgenError`` into a one-line message and its exit code, and Ctrl-C into exit 130."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LoadgenError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)

    return wrapper  # type: ignore[return-value]


class OneLineErrors(click.Group):
    """click's own usage errors (bad choice, unknown flag, missing argument) as one line, like every other
    error of the CLI: ``error: ...`` and exit 2, not click's usage dump."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:   # `loadgen baseline` alone: its help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)


def one_line(exc: click.ClickException) -> str:
    """click's message on one line, pointing at the command's help for a usage error."""
    message = " ".join(exc.format_message().split()).removesuffix(".")
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    return f"{message} (see {ctx.command_path} --help)" if ctx is not None else message


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="capture-loadgen")
def cli() -> None:
    """capture-loadgen: profiles, fuzzing, load and reports for the Capture Entity API."""


# Commands are added below, one section per capability (generate, sandbox, fuzz, run, cleanup,
# report, compare, baseline). Keep each one thin: parse, call the capability, print, exit.


# -- the options every command that sends requests shares --------------------------------------------

def auth_option(func: F) -> F:
    """``--auth basic|signed|legacy`` (env CAPTURE_AUTH, default basic) as the ``scheme`` argument.

    ``--capture-auth``, the flag's earlier name on ``run`` and ``cleanup``, stays as a hidden alias.
    """
    choice = click.Choice(AUTH_SCHEMES, case_sensitive=False)

    @wraps(func)
    def wrapper(*args: Any, auth: str | None, capture_auth: str | None, **kwargs: Any) -> Any:
        if capture_auth and (not auth or source_of("auth") == "CAPTURE_AUTH"):   # a flag beats the environment
            auth = capture_auth
        elif capture_auth and auth and auth.lower() != capture_auth.lower():
            raise click.UsageError(f"--auth {auth} and --capture-auth {capture_auth} disagree: give one")
        return func(*args, scheme=(auth or DEFAULT_AUTH).lower(), **kwargs)

    wrapper = click.option("--capture-auth", type=choice, hidden=True)(wrapper)
    wrapper = click.option("--auth", type=choice, envvar="CAPTURE_AUTH", show_envvar=True,
                           help="auth scheme (credentials: CAPTURE_CLIENT_ID/CAPTURE_CLIENT_SECRET)  "
                                "[default: basic]")(wrapper)
    return wrapper  # type: ignore[return-value]


def url_option(default: str) -> Callable[[F], F]:
    """``--url`` read from CAPTURE_URL when not given, on every command that sends requests."""
    return click.option("--url", envvar="CAPTURE_URL", show_envvar=True, metavar="URL",
                        help=f"Capture app URL  [default: {default}]")


#: The variable each shared option is read from when it is not given.
_ENV = {"url": "CAPTURE_URL", "auth": "CAPTURE_AUTH"}


def source_of(name: str) -> str:
    """Where ``--url`` or ``--auth`` came from, for messages: the flag (``--url``) or its variable (``CAPTURE_URL``)."""
    source = click.get_current_context().get_parameter_source(name)
    return _ENV[name] if source is click.core.ParameterSource.ENVIRONMENT else f"--{name}"


# -- ping (client) ----------------------------------------------------------------------------------

@cli.command()
@url_option("required")
@auth_option
@click.option("--type-name", default="user", show_default=True, help="entity type to read")
@click.option("--insecure", is_flag=True, help="allow plain http:// to a host other than loopback")
@friendly
def ping(url: str | None, scheme: str, type_name: str, insecure: bool) -> None:
    """Check a Capture URL and credentials: read the entity type and count its records.

    The client id and secret come only from CAPTURE_CLIENT_ID and CAPTURE_CLIENT_SECRET: a secret
    on the command line would show in the process list and the shell history.
    """
    from loadgen.auth import auth_from_env
    from loadgen.client import CaptureClient
    from loadgen.preflight import check_target, retry_transient

    if not url:
        raise UsageError("no Capture URL: pass --url or set CAPTURE_URL")
    auth = auth_from_env(scheme=scheme)
    with CaptureClient(url, auth, type_name=type_name, insecure=insecure) as client:
        total = check_target(client)    # the same answers, messages and exit codes as run's preflight
        schema = retry_transient(client.entity_type)
    click.echo(f"ok: {client.base_url} ({auth.scheme} auth as {auth.client_id}): "
               f"{type_name} has {len(schema.get('attr_defs', []))} attributes and {total} records")


# -- report, compare, baseline (report) -------------------------------------------------------------

@cli.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--threshold", "thresholds", multiple=True, metavar="EXPR",
              help="k6-style gate, e.g. 'create.p95<300ms' (repeatable)")
@click.option("--thresholds-file", type=click.Path(dir_okay=False, path_type=Path),
              help="file of thresholds: one per line, or TOML thresholds = [...]")
@click.option("--from-recorder", is_flag=True, help="recompute report.json from recorder.json and meta.json")
@friendly
def report_command(run_dir: Path, thresholds: tuple[str, ...], thresholds_file: Path | None,
                   from_recorder: bool) -> None:
    """Rebuild report.html and report.md of RUN_DIR from its report.json. Exits 3 on a breached threshold.

    The thresholds judged are the run's own (`loadgen run --threshold`) plus those given here; those
    given to an earlier `loadgen report` are replaced.
    """
    from loadgen.report import exit_code, load_threshold_file, rebuild
    from loadgen.report.thresholds import describe

    extra = [*(load_threshold_file(thresholds_file) if thresholds_file else []), *thresholds]
    report = rebuild(run_dir, extra, from_recorder=from_recorder)
    for name in (REPORT_JSON, REPORT_HTML, REPORT_MD):
        click.echo(run_dir / name)
    for verdict in report.breaches:
        click.echo(f"threshold breached: {verdict.expression} ({describe(verdict)})", err=True)
    click.echo(f"verdict: {report.verdict}")
    sys.exit(exit_code(report))


@cli.command("compare")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[BASELINE_DIR] RUN_DIR")
@click.option("--baseline", "baseline_name", metavar="NAME", help="compare against a saved baseline")
@click.option("--baselines-dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder of named baselines  [default: $LOADGEN_BASELINES or ./baselines]")
@click.option("--max-regression", "limits", multiple=True, metavar="METRIC=N%",
              help="allowed worsening, e.g. p95=10% or create.error_rate=0.5% (repeatable)")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="write JUnit XML here")
@click.option("--force", is_flag=True, help="compare even when scenario, rates, schema or target differ")
@friendly
def compare_command(paths: tuple[Path, ...], baseline_name: str | None, baselines_dir: Path | None,
                    limits: tuple[str, ...], junit: Path | None, force: bool) -> None:
    """Compare RUN_DIR with a baseline. Exits 0 pass, 3 regression, 2 incompatible runs."""
    from loadgen.errors import UsageError
    from loadgen.report import baseline_path, compare_runs, format_table

    if baseline_name is not None:
        if len(paths) != 1:
            raise UsageError("with --baseline NAME give exactly one RUN_DIR")
        baseline, run = baseline_path(baseline_name, baselines_dir), paths[0]
    elif len(paths) == 2:
        baseline, run = paths
    else:
        raise UsageError("give BASELINE_DIR RUN_DIR, or --baseline NAME RUN_DIR")
    result = compare_runs(baseline, run, max_regression=limits, force=force, junit=junit)
    click.echo(format_table(result))
    if junit is not None:
        click.echo(f"junit: {junit}")
    sys.exit(result.exit_code)


@cli.group("baseline")
def baseline_group() -> None:
    """Named baselines kept in a folder ($LOADGEN_BASELINES or ./baselines)."""


@baseline_group.command("save")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--baselines-dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder of named baselines  [default: $LOADGEN_BASELINES or ./baselines]")
@click.option("--force", is_flag=True, help="replace an existing baseline of that name")
@friendly
def baseline_save(run_dir: Path, name: str, baselines_dir: Path | None, force: bool) -> None:
    """Save RUN_DIR's reports as the baseline NAME."""
    from loadgen.report import save_baseline

    click.echo(save_baseline(run_dir, name, root=baselines_dir, force=force))


@baseline_group.command("list")
@click.option("--baselines-dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder of named baselines  [default: $LOADGEN_BASELINES or ./baselines]")
@friendly
def baseline_list(baselines_dir: Path | None) -> None:
    """List saved baselines."""
    from loadgen.report import list_baselines

    for name in list_baselines(baselines_dir):
        click.echo(name)


# -- sandbox (sandbox) ------------------------------------------------------------------------------

@cli.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="port (0 picks a free one)")
@click.option("--db", default="sandbox.db", show_default=True, help="SQLite file, or :memory: for a throwaway store")
@click.option("--schema", "schemas", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="entity type JSON (repeatable)  [default: the shipped user type]")
@click.option("--type-name", default=None, metavar="NAME",
              help="entity type of a --schema that does not name it (a bare attr_defs list)  [default: the file name]")
@click.option("--clients", type=click.Path(dir_okay=False, path_type=Path),
              help="clients.toml: API clients, their features and faults  [default: one demo owner client]")
@click.option("--admin", is_flag=True,
              help="enable GET /_sandbox/stats and POST /_sandbox/reset (for owner clients only)")
@click.option("--no-legacy-auth", is_flag=True, help="refuse client_id/client_secret sent as form parameters")
@click.option("--skew", type=float, default=900.0, show_default=True, help="clock skew allowed on signed calls (s)")
@click.option("--max-batch", type=int, default=2000, show_default=True, help="bulkCreate records per call")
@click.option("--max-body", type=int, default=16 * 1024 * 1024, show_default=True, help="request body bytes")
@click.option("--max-connections", type=int, default=1000, show_default=True,
              help="open connections; requests beyond get HTTP 503")
@click.option("--header-timeout", type=float, default=10.0, show_default=True,
              help="seconds to send a request's headers (and to start one on a new connection)")
@click.option("--body-timeout", type=float, default=30.0, show_default=True, help="seconds to send a request body")
@click.option("--keep-alive", type=int, default=5, show_default=True, help="seconds an idle connection stays open")
@click.option("--write-timeout", type=float, default=30.0, show_default=True,
              help="seconds a client may leave an answer unread before it is disconnected")
@click.option("--max-unread", type=int, default=256 * 1024 * 1024, show_default=True,
              help="bytes of answers that slow readers may hold altogether")
@click.option("--latency", default=None, help="added latency in ms: 25, uniform:10-50, exp:20, normal:50,10")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=None,
              help="share of calls answered with an error (0-1)")
@click.option("--error-code", type=click.Choice(["500", "504"]), default=None, help="code of those errors")
@click.option("--concurrency-limit", type=click.IntRange(min=0), default=None,
              help="simultaneous calls per client before 510 (0: no limit)")
@click.option("--limit-http-status", is_flag=True, default=None, help="send 510 errors with HTTP status 510")
@click.option("--read-lag", type=click.FloatRange(min=0), default=None,
              help="seconds before new records show in find/count")
@friendly
def sandbox_command(host: str, port: int, db: str, schemas: tuple[Path, ...], type_name: str | None,
                    clients: Path | None, admin: bool, no_legacy_auth: bool, skew: float, max_batch: int,
                    max_body: int, max_connections: int, header_timeout: float, body_timeout: float,
                    keep_alive: int, write_timeout: float, max_unread: int, **faults: Any) -> None:
    """Serve the local Capture sandbox until Ctrl-C."""
    import dataclasses

    from loadgen.sandbox import Faults, SandboxConfig, load_clients
    from loadgen.sandbox.server import run_foreground, when_started
    from loadgen.schema import load_schema

    limits = SandboxConfig(skew=skew, max_batch=max_batch, max_body=max_body, max_connections=max_connections,
                           header_timeout=header_timeout, body_timeout=body_timeout, keep_alive=keep_alive,
                           write_timeout=write_timeout, max_unread=max_unread)  # checked before anything starts
    specs, base = load_clients(clients) if clients else ((), None)
    chosen: dict[str, Any] = {k: (int(v) if k == "error_code" else v) for k, v in faults.items() if v is not None}
    types = tuple(load_schema(p, type_name=type_name) for p in schemas)
    names = [t.name for t in types]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice is not None:
        raise UsageError(f"two --schema files define the entity type {twice!r}: each type needs its own name")
    config = limits.replace(schemas=types, db=db, clients=specs, legacy_auth=not no_legacy_auth, admin=admin,
                            faults=dataclasses.replace(base or Faults(), **chosen))
    server, sock, state = run_foreground(config, host, port)
    bound = sock.getsockname()

    def started() -> None:  # printed once serving, so Ctrl-C from here on always shuts down cleanly
        click.echo(f"sandbox: http://{bound[0]}:{bound[1]}  db: {db}  types: {', '.join(state.schemas)}"
                   f"{'  admin: on' if admin else ''}")
        if config.faults.active:
            click.echo(f"faults: {config.faults}")
        if clients:
            click.echo(f"clients: {', '.join(c.client_id for c in specs)} (from {clients})")
        else:
            click.echo(f"client_id: {state.client.client_id}")
            click.echo(f"client_secret: {state.client.secret}")

    when_started(server, started)
    import contextlib

    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled, after shutting down
        server.run(sockets=[sock])
    click.echo("sandbox: stopped")


# -- generate (profiles) ----------------------------------------------------------------------------

@cli.command()
@click.option("-n", "--count", default=1000, show_default=True, type=click.IntRange(min=0),
              help="how many profiles to write")
@click.option("--seed", default=0, show_default=True, type=int, help="random seed")
@click.option("--schema", "schema_path", metavar="FILE",
              help="entity type JSON: the /entityType answer, its schema object or a bare attr_defs list  "
                   "[default: the classic user type]")
@click.option("--type-name", default=None, metavar="NAME",
              help="entity type of a --schema that does not name it (a bare attr_defs list)  "
                   "[default: the file name, member.schema.json -> member]")
@click.option("--profile", "profile_path", metavar="FILE",
              help="profile TOML: locales, plural sizes, statuses, fixed and omitted attributes  "
                   "[default: built in, the same as profiles/user.toml]")
@click.option("--format", "fmt", default="jsonl", show_default=True,
              type=click.Choice(["jsonl", "json", "csv", "form"]),
              help="csv: dotted object columns, plurals as JSON; form: one entity.create body per line")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE", help="file to write; - is stdout")
@click.option("--run-id", default="local", show_default=True, help="namespace of the unique values (emails)")
@click.option("--worker", default=0, show_default=True, type=click.IntRange(0, 2**20 - 1),
              help="worker index, also part of the namespace")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="the day every date is relative to  [default: today, UTC]")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="processes that make the profiles (the output is the same whatever the number)")
@friendly
def generate(count: int, seed: int, schema_path: str | None, type_name: str | None, profile_path: str | None,
             fmt: str, output: str, run_id: str, worker: int, today: Any, jobs: int) -> None:
    """Write realistic, valid, unique user profiles, streaming (memory stays flat).

    The same seed, run id, worker and --today give byte-identical output, whatever --jobs is.
    """
    from loadgen.generation import Generation, write
    from loadgen.profiles import load_profile
    from loadgen.schema import default_schema, load_schema

    schema = load_schema(schema_path, type_name=type_name) if schema_path else default_schema()
    gen = Generation(schema, load_profile(profile_path), fmt, count, seed=seed, run_id=run_id, worker=worker,
                     today=today.date() if today is not None else None)
    gen.factory()  # a bad schema or profile fails here, before the output file is made
    to_stdout = output == "-"
    try:
        if not to_stdout:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
        out = sys.stdout.buffer if to_stdout else open(output, "wb", buffering=1 << 20)  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None
    show = sys.stderr.isatty() and not (to_stdout and sys.stdout.isatty())
    try:
        with console.progress_bar(count, show) as advance:
            written = write(gen, out, jobs=jobs, progress=advance)
        out.flush()
    except BrokenPipeError:  # `loadgen generate | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # as the Python docs advise
        return
    except KeyboardInterrupt:
        if to_stdout:
            raise
        out.close()
        click.echo(f"interrupted: {output} holds the profiles written before Ctrl-C", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    finally:
        if not to_stdout:
            out.close()
    click.echo(f"wrote {written:,} profile{'' if written == 1 else 's'} to {'stdout' if to_stdout else output}",
               err=True)


# -- run, cleanup (locust) --------------------------------------------------------------------------

@cli.command("run")
@url_option("start the embedded sandbox in the run folder")
@click.option("--scenario", type=click.Choice(list(SCENARIOS)), default=DEFAULT_SCENARIO, show_default=True)
@click.option("--duration", default="60s", show_default=True, help="How long to send load (30s, 2m, 1h...).")
@click.option("--create-rate", type=float, default=DEFAULT_CREATE_RATE, show_default=True,
              help="entity.create requests/s.")
@click.option("--bulk-rate", type=float, default=DEFAULT_BULK_RATE, show_default=True,
              help="entity.bulkCreate requests/s.")
@click.option("--bulk-size", type=int, default=DEFAULT_BULK_SIZE, show_default=True, help="Records per bulkCreate.")
@click.option("--stages", default="", help="Ramp instead of --duration, e.g. '30s:10,60s:50,10s:0' (create/s).")
@click.option("--workers", type=int, default=1, show_default=True, help="Locust worker processes.")
@click.option("--users", type=click.IntRange(min=1), default=None, help="Concurrency cap (default: from the rates).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True)
@click.option("--run-id", default=None, help="Run folder name (default: a timestamp).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--profile", "profile_path", default=None, help="Profile TOML of the generated users.")
@click.option("--schema", "schema_path", default=None, help="Entity type schema JSON.")
@click.option("--max-records", type=int, default=None, help="Stop cleanly once this many records exist.")
@click.option("--malformed-share", type=float, default=DEFAULT_MALFORMED_SHARE, show_default=True,
              help="error_path: bad share.")
@auth_option
@click.option("--insecure", is_flag=True, help="Allow plain http:// to a non-loopback host.")
@click.option("--threshold", "thresholds", multiple=True, help="e.g. 'create.p95<300ms' (repeatable).")
@click.option("--locustfile", default=None, help="Run this locustfile instead of the scenario's.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=0,
              help="Serve live OpenMetrics (Prometheus) on 127.0.0.1:PORT/metrics during the run.")
@friendly
def run_command(url: str | None, scenario: str, duration: str, create_rate: float, bulk_rate: float,
                bulk_size: int, stages: str, workers: int, users: int | None, out: Path, run_id: str | None,
                seed: int, profile_path: str | None, schema_path: str | None, max_records: int | None,
                malformed_share: float, scheme: str, insecure: bool, thresholds: tuple[str, ...],
                locustfile: str | None, metrics_port: int) -> None:
    """Run a Locust load test headless and write runs/<run-id>/ (report, ledger, Locust CSV/HTML)."""
    from loadgen.ramp import parse_duration
    from loadgen.report.thresholds import exit_code
    from loadgen.runner import RunOptions, run

    opts = RunOptions(url=url, scenario=scenario, duration=parse_duration(duration), create_rate=create_rate,
                      bulk_rate=bulk_rate, bulk_size=bulk_size, stages=stages, workers=workers, users=users,
                      out=out, run_id=run_id, seed=seed, profile=profile_path, schema=schema_path,
                      max_records=max_records, malformed_share=malformed_share, capture_auth=scheme,
                      insecure=insecure, thresholds=thresholds, locustfile=locustfile,
                      metrics_port=metrics_port)
    source = " (from CAPTURE_URL)" if source_of("url") == "CAPTURE_URL" else ""

    def announce(target: str, run_dir: Path) -> None:
        where = f"{target}{source}" if url else f"the embedded sandbox at {target}"
        click.echo(f"load: {scenario} against {where} for {stages or duration}, into {run_dir}", err=True)

    with console.run_progress(sys.stderr.isatty()) as tick:
        result = run(opts, progress=tick, on_start=announce)
    console.print_run_summary(result)
    if result.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    if result.nothing_lost is False:
        click.echo(f"error: the ledger holds {result.ledger_count} records but the sandbox "
                   f"{result.server_count}: records were lost", err=True)
        sys.exit(ExitCode.FAILURE)
    sys.exit(exit_code(result.report))


@cli.command("cleanup")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--url", default=None, metavar="URL",
              help="Capture app URL  [default: the run's host or its embedded sandbox, else $CAPTURE_URL]")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Deletes/s (default 20; unlimited for the run's own embedded sandbox).")
@auth_option
@click.option("--insecure", is_flag=True, help="Allow plain http:// to a non-loopback host.")
@friendly
def cleanup_command(run_dir: Path, url: str | None, rate: float | None, scheme: str, insecure: bool) -> None:
    """Delete every record a run created (its ledger), and only those; idempotent and resumable.

    Exits 0 when every ledgered record is deleted or already gone, 1 when a delete failed, a record
    no longer matches its ledger line (refused, not deleted) or a ledger line could not be read,
    130 on Ctrl-C.
    """
    from loadgen.cleaner import DEFAULT_RATE, cleanup, embedded

    _note_unused_capture_url(run_dir, url)
    if rate is None:
        rate = None if embedded(run_dir) and not url else DEFAULT_RATE
    show = sys.stderr.isatty()
    with console.cleanup_progress(show) as tick:
        result = cleanup(run_dir, url=url, rate=rate, scheme=scheme, insecure=insecure, progress=tick)
    errors = "".join(f", {n} x {label}" for label, n in result.errors.items())
    click.echo(f"deleted {result.deleted:,}, skipped {result.skipped:,} (already gone), "
               f"failed {result.failed:,}{errors}, refused {result.refused:,} of {result.total:,} ledgered records")
    if result.refused:
        click.echo(f"refused: {result.refused:,} records no longer match their ledger line and were not deleted "
                   f"(e.g. {'; '.join(result.refused_examples)})", err=True)
    if result.unreadable or result.unaccounted:
        damage = f"{result.damage}; " if result.damage else ""
        click.echo(f"ledger damage: {damage}at least {result.unaccounted:,} records the run created could not be "
                   "accounted for and may be left on the server", err=True)
    for worker in result.lost_workers:
        click.echo(f"worker {worker} stopped answering during the run and its {ledger_part(worker)} is not "
                   "in the run folder: records it created after its last batch may be left on the server; copy "
                   "that file in from its machine and run cleanup again", err=True)
    if result.interrupted:
        click.echo("interrupted: the same command again resumes where this one stopped", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    if not result.complete:
        sys.exit(ExitCode.FAILURE)


def _note_unused_capture_url(run_dir: Path, url: str | None) -> None:
    """A run folder knows where its records are, and that wins over CAPTURE_URL: say so when they differ."""
    from loadgen.cleaner import recorded_target

    env = os.environ.get("CAPTURE_URL", "").strip()
    own = None if url or not env else recorded_target(run_dir)
    if own is not None and own.rstrip("/") != env.rstrip("/"):
        click.echo(f"note: CAPTURE_URL is not used: the run's records are on {own} (meta.json); --url overrides "
                   "that", err=True)


# -- fuzz (conformance properties) -----------------------------------------------------------------

@cli.command("fuzz")
@url_option("an embedded sandbox")
@auth_option
@click.option("--max-examples", type=click.IntRange(min=1), default=100, show_default=True,
              help="Examples per property.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Repeat a run exactly (default: random).")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Also write a JUnit XML report.")
@click.option("--allow-writes", is_flag=True, help="Let the properties create (then delete) records on --url.")
@click.option("--count-checks", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Compare entity.count before and after; auto: only on loopback (a real domain's count lags).")
@friendly
def fuzz_command(url: str | None, scheme: str, max_examples: int, seed: int | None, junit: str | None,
                 allow_writes: bool, count_checks: str) -> None:
    """Fuzz the invalid_argument path: run the conformance properties and print their table.

    Runs `pytest --pyargs loadgen.conformance` in a child process (pytest must import the package
    itself to rewrite its asserts). Failing examples are kept in Hypothesis's example database
    (.hypothesis/ in this folder) and replayed first on the next run; Hypothesis's own `ci` profile,
    loaded where a CI variable is set, turns that database off.
    """
    import random
    import subprocess

    from loadgen.conformance import suite_args
    from loadgen.runner import wait_child

    if url and not allow_writes:
        from_env = source_of("url") == "CAPTURE_URL"
        where = f"{url} (from CAPTURE_URL)" if from_env else url
        unset = " (or unset CAPTURE_URL to fuzz an embedded sandbox)" if from_env else ""
        raise UsageError(f"fuzzing {where} creates records there (deleted at the end): add --allow-writes{unset}")
    if url:
        if source_of("url") == "CAPTURE_URL":
            click.echo(f"fuzz: {url} (from CAPTURE_URL)", err=True)
        _fuzz_preflight(url, scheme)
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    args = suite_args(url=url, auth=scheme, max_examples=max_examples, seed=seed, junit=junit,
                      allow_writes=allow_writes, count_checks=count_checks)
    with subprocess.Popen([sys.executable, "-m", "pytest", *args, "-q", "--tb=line", "--no-header"],
                          stdin=subprocess.DEVNULL, start_new_session=True) as proc:
        code, interrupted = wait_child(proc, grace=120.0)  # Ctrl-C: the child still deletes what it created
    again = f"loadgen fuzz --seed {seed} --max-examples {max_examples}"
    again += f" --url {url} --allow-writes" if url else ""
    again += f" --auth {scheme}" if scheme != DEFAULT_AUTH else ""
    again += f" --count-checks {count_checks}" if count_checks != "auto" else ""
    verdict = "interrupted" if interrupted else "passed" if code == 0 else "FAILED"
    click.echo(f"{verdict}; repeat with: {again}")
    if interrupted and code < 0 and url:
        click.echo(f"warning: the fuzzers were stopped before their clean-up: records they created may be "
                   f"left on {url}", err=True)
    sys.exit(ExitCode.INTERRUPTED if interrupted else int(code))


def _fuzz_preflight(url: str, scheme: str) -> None:
    """The run's preflight first (transient 5xx tried again), so a wrong URL or bad credentials are one line,
    not five pytest errors."""
    from loadgen.auth import auth_from_env
    from loadgen.client import CaptureClient
    from loadgen.preflight import check_target

    with CaptureClient(url, auth_from_env(scheme=scheme), timeout=10.0) as client:
        check_target(client)


def main() -> None:
    cli()

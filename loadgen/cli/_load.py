"""``loadgen run`` and ``cleanup``: a Locust run in its folder, and the deletion of what it created."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from loadgen import console
from loadgen.cli._base import auth_option, check_writable, cli, friendly, source_of, url_option
from loadgen.errors import ExitCode, LoadgenError, UsageError
from loadgen.phases import DEFAULT_PREFILL_RATE
from loadgen.runfolder import ledger_part
from loadgen.scenarios import (
    DEFAULT_BULK_RATE,
    DEFAULT_BULK_SIZE,
    DEFAULT_CREATE_RATE,
    DEFAULT_MALFORMED_SHARE,
    DEFAULT_SCENARIO,
    SCENARIOS,
)


@cli.command("run")
@url_option("start the embedded sandbox in the run folder")
@click.option("--scenario", type=click.Choice(list(SCENARIOS)), default=DEFAULT_SCENARIO, show_default=True)
@click.option("--duration", default="60s", show_default=True, help="How long to send load (30s, 2m, 1h...).")
@click.option("--create-rate", type=float, default=DEFAULT_CREATE_RATE, show_default=True,
              help="entity.create requests/s.")
@click.option("--bulk-rate", type=float, default=DEFAULT_BULK_RATE, show_default=True,
              help="entity.bulkCreate requests/s.")
@click.option("--bulk-size", type=int, default=DEFAULT_BULK_SIZE, show_default=True, help="Records per bulkCreate.")
@click.option("--stages", default="",
              help="Ramp instead of --duration (not with it), e.g. '30s:10,60s:50,10s:0' (create/s).")
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
@click.option("--corpus", type=click.Path(dir_okay=False), default=None,
              help="error_path: a failures.jsonl whose recorded bad requests join the bad share.")
@auth_option
@click.option("--insecure", is_flag=True, help="Allow plain http:// to a non-loopback host.")
@click.option("--threshold", "thresholds", multiple=True, help="e.g. 'create.p95<300ms' (repeatable).")
@click.option("--locustfile", default=None, help="Run this locustfile instead of the scenario's.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=0,
              help="Serve live OpenMetrics (Prometheus) on 127.0.0.1:PORT/metrics during the run.")
@click.option("--history", "history_name", metavar="NAME", default=None,
              help="Add the finished run to the history under NAME ($LOADGEN_HISTORY or baselines/history.db).")
@click.option("--warmup", default="0s", show_default=True,
              help="Recorded and drawn, left out of the summary, gates and compare (added before --duration).")
@click.option("--abort-on-fail", is_flag=True, help="Stop as soon as a window of a windowed --threshold fails "
              "(e.g. 'create.p99[30s]<300ms'); exit 3.")
@click.option("--abort-delay", default="0s", show_default=True,
              help="After the warm-up, wait this long before --abort-on-fail stops a run.")
@click.option("--prefill", type=click.IntRange(min=0), default=0,
              help="Seed this many records by bulkCreate (ledgered) before the measured phase.")
@click.option("--prefill-rate", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_PREFILL_RATE,
              show_default=True, help="bulkCreate requests/s of --prefill (100 records each).")
@friendly
def run_command(url: str | None, scenario: str, duration: str, create_rate: float, bulk_rate: float,
                bulk_size: int, stages: str, workers: int, users: int | None, out: Path, run_id: str | None,
                seed: int, profile_path: str | None, schema_path: str | None, max_records: int | None,
                malformed_share: float, corpus: str | None, scheme: str, insecure: bool,
                thresholds: tuple[str, ...], locustfile: str | None, metrics_port: int,
                history_name: str | None, warmup: str, abort_on_fail: bool, abort_delay: str,
                prefill: int, prefill_rate: float) -> None:
    """Run a Locust load test headless and write runs/<run-id>/ (report, ledger, Locust CSV/HTML)."""
    from loadgen.phases import Phases
    from loadgen.ramp import parse_duration
    from loadgen.report.thresholds import exit_code
    from loadgen.runner import RunOptions, run

    _refuse_two_lengths(stages, duration)
    opts = RunOptions(url=url, scenario=scenario, duration=parse_duration(duration), create_rate=create_rate,
                      bulk_rate=bulk_rate, bulk_size=bulk_size, stages=stages, workers=workers, users=users,
                      out=out, run_id=run_id, seed=seed, profile=profile_path, schema=schema_path,
                      max_records=max_records, malformed_share=malformed_share, capture_auth=scheme,
                      insecure=insecure, thresholds=thresholds, locustfile=locustfile,
                      metrics_port=metrics_port, corpus=corpus,
                      phases=Phases(warmup=parse_duration(warmup), abort_on_fail=abort_on_fail,
                                    abort_delay=parse_duration(abort_delay), prefill=prefill,
                                    prefill_rate=prefill_rate))
    if history_name is not None:
        from loadgen.report.history import history_path, named_file

        check_writable(history_path(), make_folder=not named_file())
    source = " (from CAPTURE_URL)" if source_of("url") == "CAPTURE_URL" else ""

    def announce(target: str, run_dir: Path) -> None:
        where = f"{target}{source}" if url else f"the embedded sandbox at {target}"
        click.echo(f"load: {scenario} against {where} for {stages or duration}, into {run_dir}", err=True)

    with console.run_progress(sys.stderr.isatty()) as tick:
        result = run(opts, progress=tick, on_start=announce)
    console.print_run_summary(result)
    if result.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    if history_name is not None:
        from loadgen.report.history import add_run, history_path, named_file

        add_run(result.run_dir, history_name, db=history_path(), make_folder=not named_file())
        click.echo(f"history: added to {history_name!r} in {history_path()}", err=True)
    if result.nothing_lost is False:
        click.echo(f"error: the ledger holds {result.ledger_count} records but the sandbox "
                   f"{result.server_count}: records were lost", err=True)
        sys.exit(ExitCode.FAILURE)
    sys.exit(exit_code(result.report))


def _refuse_two_lengths(stages: str, duration: str) -> None:
    """``--stages`` replace ``--duration``: the run ends with their last stage. Given both, one would be ignored
    and the run last another time than the one asked for, so neither wins in silence."""
    if stages and click.get_current_context().get_parameter_source("duration") is not ParameterSource.DEFAULT:
        raise UsageError(f"--duration {duration} and --stages {stages!r} both set how long the run lasts "
                         "(--stages: to the end of their last stage): give one of them")


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
    from loadgen.cleaner import step_folders

    steps = step_folders(run_dir)   # a capacity search: each step is a run of its own
    if not steps:
        sys.exit(_clean(run_dir, url, rate, scheme, insecure))
    code = 0
    for folder in steps:
        click.echo(f"{folder.name}: ", nl=False)
        try:
            code = max(code, _clean(folder, url, rate, scheme, insecure))
        except LoadgenError as exc:   # one step's problem (no ledger, damage) does not hide the others
            click.echo(f"error: {exc}")
            code = max(code, exc.exit_code)
        if code == ExitCode.INTERRUPTED:
            break
    sys.exit(code)


def _clean(run_dir: Path, url: str | None, rate: float | None, scheme: str, insecure: bool) -> int:
    """Clean one run folder and say how it went; returns the exit code."""
    from loadgen.cleaner import DEFAULT_RATE, cleanup, embedded

    _note_unused_capture_url(run_dir, url)
    if rate is None:
        rate = None if embedded(run_dir) and not url else DEFAULT_RATE
    show = sys.stderr.isatty()
    with console.cleanup_progress(show) as tick:
        result = cleanup(run_dir, url=url, rate=rate, scheme=scheme, insecure=insecure, progress=tick)
    errors = "".join(f", {n} x {label}" for label, n in result.errors.items())
    if result.total == 0 and not result.unreadable and not result.unaccounted and not result.lost_workers:
        click.echo("nothing to clean: the run created no record")
    else:
        click.echo(f"deleted {result.deleted:,}, skipped {result.skipped:,} (already gone), failed {result.failed:,}"
                   f"{errors}, refused {result.refused:,} of {result.total:,} ledgered records")
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
        return ExitCode.INTERRUPTED
    return 0 if result.complete else ExitCode.FAILURE


def _note_unused_capture_url(run_dir: Path, url: str | None) -> None:
    """A run folder knows where its records are, and that wins over CAPTURE_URL: say so when they differ."""
    from loadgen.cleaner import recorded_target

    env = os.environ.get("CAPTURE_URL", "").strip()
    own = None if url or not env else recorded_target(run_dir)
    if own is not None and own.rstrip("/") != env.rstrip("/"):
        click.echo(f"note: CAPTURE_URL is not used: the run's records are on {own} (meta.json); --url overrides "
                   "that", err=True)

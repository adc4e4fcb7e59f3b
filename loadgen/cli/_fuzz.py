"""``loadgen fuzz``: the conformance properties, run as a pytest session in a child process."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from loadgen.cli._base import auth_option, check_writable, cli, friendly, source_of, url_option
from loadgen.errors import ExitCode, UsageError
from loadgen.scenarios import (
    DEFAULT_AUTH,
)


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
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of failures.jsonl and fuzz-report.json  [default: runs/fuzz-<timestamp>]")
@click.option("--database", type=click.Path(file_okay=False), default=None,
              help="Keep failing examples in this directory and replay them first (e.g. shared by CI and laptops).")
@click.option("--export-pytest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the failures as a pytest file (one case each) that runs against any URL.")
@friendly
def fuzz_command(url: str | None, scheme: str, max_examples: int, seed: int | None, junit: str | None,
                 allow_writes: bool, count_checks: str, out: Path | None, database: str | None,
                 export_pytest: Path | None) -> None:
    """Fuzz the invalid_argument path: run the conformance properties and print their table.

    Runs `pytest --pyargs loadgen.conformance` in a child process (pytest must import the package
    itself to rewrite its asserts). Failing examples are kept in Hypothesis's example database
    (.hypothesis/ in this folder, or --database) and replayed first on the next run; Hypothesis's own
    `ci` profile, loaded where a CI variable is set, turns that database off unless --database names one.
    Each shrunk failure is a line of OUT/failures.jsonl (with a curl line), for `loadgen replay`.
    """
    import random
    import subprocess

    from loadgen.child import deaf_to_ctrl_c, wait_child
    from loadgen.conformance import suite_args

    if url and not allow_writes:
        from_env = source_of("url") == "CAPTURE_URL"
        where = f"{url} (from CAPTURE_URL)" if from_env else url
        unset = " (or unset CAPTURE_URL to fuzz an embedded sandbox)" if from_env else ""
        raise UsageError(f"fuzzing {where} creates records there (deleted at the end): add --allow-writes{unset}")
    if url:
        if source_of("url") == "CAPTURE_URL":
            click.echo(f"fuzz: {url} (from CAPTURE_URL)", err=True)
        _fuzz_preflight(url, scheme)
    for path in (Path(junit) if junit else None, export_pytest):  # written at the end: fail now instead
        if path is not None:
            check_writable(path)
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    out = out if out is not None else Path("runs") / time.strftime("fuzz-%Y%m%d-%H%M%S", time.gmtime())
    args = suite_args(url=url, auth=scheme, max_examples=max_examples, seed=seed, junit=junit,
                      allow_writes=allow_writes, count_checks=count_checks, out=str(out), database=database)
    # Ctrl-C: the child ends its property, then deletes what it created
    code, interrupted = wait_child(
        lambda: subprocess.Popen([sys.executable, "-m", "pytest", *args, "-q", "--tb=line", "--no-header"],
                                 stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=deaf_to_ctrl_c),
        grace=120.0, repeat=True)
    again = f"loadgen fuzz --seed {seed} --max-examples {max_examples}"
    again += f" --url {url} --allow-writes" if url else ""
    again += f" --auth {scheme}" if scheme != DEFAULT_AUTH else ""
    again += f" --count-checks {count_checks}" if count_checks != "auto" else ""
    verdict = "interrupted" if interrupted else "passed" if code == 0 else "FAILED"
    _outputs(out, export_pytest)
    click.echo(f"{verdict}; repeat with: {again}")
    if interrupted and code < 0 and url:
        click.echo(f"warning: the fuzzers were stopped before their clean-up: records they created may be "
                   f"left on {url}", err=True)
    sys.exit(ExitCode.INTERRUPTED if interrupted else int(code))


def _outputs(out: Path, export_pytest: Path | None) -> None:
    """Name the result files, and write the pytest file of the failures when asked."""
    from loadgen.failures import read_failures
    from loadgen.replay import pytest_file
    from loadgen.runfolder import FAILURES

    failures_file = out / FAILURES
    if not failures_file.is_file():   # the session stopped before its end (interrupted, no target)
        return
    failures = read_failures(failures_file)
    click.echo(f"results: {out} ({len(failures)} failures in {FAILURES}"
               f"{'; loadgen replay ' + str(failures_file) if failures else ''})")
    if export_pytest is not None:   # its folder was checked before the session
        export_pytest.write_text(pytest_file(failures, source=str(failures_file), path=str(export_pytest)),
                                 encoding="utf-8")
        click.echo(f"regression tests: {export_pytest} ({len(failures)} cases)")


def _fuzz_preflight(url: str, scheme: str) -> None:
    """The run's preflight first (transient 5xx tried again), so a wrong URL or bad credentials are one line,
    not five pytest errors."""
    from loadgen.auth import auth_from_env
    from loadgen.client import CaptureClient
    from loadgen.preflight import check_target

    with CaptureClient(url, auth_from_env(scheme=scheme), timeout=10.0) as client:
        check_target(client)

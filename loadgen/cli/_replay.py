"""``loadgen replay``: send the failures of a ``failures.jsonl`` again, and say which are fixed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from loadgen.cli._base import auth_option, check_writable, cli, friendly, url_option
from loadgen.errors import ExitCode, UsageError


@cli.command("replay")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@url_option("the URL each failure was recorded against")
@auth_option
@click.option("--id", "ids", multiple=True, help="Only this failure (its \"id\" in the file; repeatable).")
@click.option("--allow-writes", is_flag=True, help="Let replays create (then delete) records on a non-loopback URL.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a JUnit XML report.")
@click.option("--insecure", is_flag=True, help="Allow plain http:// to a non-loopback host.")
@friendly
def replay_command(file: Path, url: str | None, scheme: str, ids: tuple[str, ...], allow_writes: bool,
                   junit: Path | None, insecure: bool) -> None:
    """Send each recorded failure again (3 tries) and print FIXED, STILL FAILING or FLAKY.

    Records an answer created are deleted again. Exits 0 when every failure is FIXED, 1 when one is
    STILL FAILING or FLAKY (a fault that shows on some tries is not fixed).
    """
    from urllib.parse import urlsplit

    from loadgen.auth import auth_from_env, is_loopback
    from loadgen.client import CaptureClient
    from loadgen.failures import read_failures
    from loadgen.replay import Outcome, Replayer, junit_xml, replay

    failures = [f for f in read_failures(file) if not ids or f.id in ids]
    if junit is not None:  # a path that cannot be written fails now, not after every failure was sent
        check_writable(junit)
    if not failures:
        raise UsageError(f"{file}: no failure {'with id ' + ', '.join(ids) if ids else 'in the file'}")
    verdicts = []
    for target in dict.fromkeys(url or f.url for f in failures):
        batch = [f for f in failures if (url or f.url) == target]
        host = urlsplit(target).hostname or ""
        if any(f.writes for f in batch) and not allow_writes and not is_loopback(host):
            raise UsageError(f"replaying these failures on {target} creates records there (deleted again): "
                             "add --allow-writes")
        with CaptureClient(target, auth_from_env(scheme=scheme), insecure=insecure) as client, \
                Replayer(client) as replayer:
            verdicts += replay(batch, replayer)
    for verdict in verdicts:
        click.echo(verdict.line())
    counts = {o: sum(v.outcome is o for v in verdicts) for o in Outcome}
    click.echo(", ".join(f"{n} {o.value.lower()}" for o, n in counts.items()))
    if junit is not None:
        junit.write_text(junit_xml(verdicts), encoding="utf-8")
    sys.exit(ExitCode.OK if counts[Outcome.FIXED] == len(verdicts) else ExitCode.FAILURE)

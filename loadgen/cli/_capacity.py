"""``loadgen capacity``: the highest arrival rate within an SLO, by steps of ``loadgen run``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from loadgen.cli._base import auth_option, cli, friendly, url_option
from loadgen.errors import ExitCode
from loadgen.scenarios import DEFAULT_BULK_SIZE, SCENARIOS


@cli.command("capacity")
@url_option("start an embedded sandbox for each step")
@click.option("--slo", "slos", multiple=True, required=True,
              help="A gate every passing step meets, e.g. 'create.intended_p99<300ms', 'error_rate<1%' (repeatable).")
@click.option("--scenario", type=click.Choice(list(SCENARIOS)), default="create", show_default=True)
@click.option("--start-rate", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="First step's requests/s of the scenario's main endpoint.")
@click.option("--max-rate", type=click.FloatRange(min=0, min_open=True), default=1000.0, show_default=True,
              help="Never offer more requests/s than this.")
@click.option("--step", "step", default="30s", show_default=True, help="Measured length of each step.")
@click.option("--warmup", default="5s", show_default=True, help="Warm-up of each step, left out of its verdict.")
@click.option("--precision", type=click.FloatRange(0.01, 0.99), default=0.10, show_default=True,
              help="Bisect until the failing rate is within this share above the sustainable one.")
@click.option("--bulk-size", "bulk_sizes", type=click.IntRange(min=1), multiple=True,
              help=f"Records per bulkCreate; several sweep them and name the best (default {DEFAULT_BULK_SIZE}).")
@click.option("--max-records", type=click.IntRange(min=1), default=None, help="Records all steps may create.")
@click.option("--max-duration", default=None, help="Stop starting steps after this long (e.g. 20m).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True)
@click.option("--run-id", default=None, help="Folder name of the search (default: capacity-<timestamp>).")
@click.option("--seed", type=int, default=0, show_default=True)
@auth_option
@click.option("--insecure", is_flag=True, help="Allow plain http:// to a non-loopback host.")
@click.option("--sandbox-latency", default=None, help="Embedded sandbox: added latency in ms (e.g. 50).")
@click.option("--sandbox-concurrency-limit", type=click.IntRange(min=0), default=None,
              help="Embedded sandbox: simultaneous calls before 510 api_limit_error.")
@friendly
def capacity_command(url: str | None, slos: tuple[str, ...], scenario: str, start_rate: float, max_rate: float,
                     step: str, warmup: str, precision: float, bulk_sizes: tuple[int, ...], max_records: int | None,
                     max_duration: str | None, out: Path, run_id: str | None, seed: int, scheme: str,
                     insecure: bool, sandbox_latency: str | None, sandbox_concurrency_limit: int | None) -> None:
    """Find the highest open-model arrival rate that meets every --slo: steps doubling, then bisection.

    Writes <out>/<run-id>/capacity.json and capacity.html (the knee charts), and one run folder per
    step. Exits 0 when a sustainable rate was found, 3 when no step met the SLO, 130 on Ctrl-C.
    """
    from loadgen.capacity import CapacityOptions, capacity
    from loadgen.locust.options import new_run_id
    from loadgen.ramp import parse_duration
    from loadgen.runner import RunOptions

    faults: dict[str, Any] = {}
    if sandbox_latency is not None:
        faults["latency"] = sandbox_latency
    if sandbox_concurrency_limit is not None:
        faults["concurrency_limit"] = sandbox_concurrency_limit
    if faults and url:
        click.echo("note: --sandbox-* options apply to the embedded sandbox only, not to --url", err=True)
    base = RunOptions(url=url, scenario=scenario, out=out, seed=seed, capture_auth=scheme, insecure=insecure,
                      bulk_size=bulk_sizes[0] if len(bulk_sizes) == 1 else DEFAULT_BULK_SIZE,
                      sandbox_options={"faults": faults} if faults else {})
    opts = CapacityOptions(base=base, slos=slos, start_rate=start_rate, max_rate=max_rate,
                           step_s=parse_duration(step), warmup_s=parse_duration(warmup), precision=precision,
                           max_records=max_records,
                           max_duration=parse_duration(max_duration) if max_duration else None,
                           bulk_sizes=bulk_sizes if len(bulk_sizes) > 1 else ())
    capacity_id = run_id or f"capacity-{new_run_id()}"

    def shown(s: Any) -> None:
        click.echo(f"step {s.run_id}: offered {s.rate:g}/s, answered {s.requests_per_s:.1f}/s, "
                   f"p99 {s.p99_ms if s.p99_ms is None else round(s.p99_ms, 1)} ms, errors {s.error_rate:.2%}: "
                   f"{s.verdict}{' (' + '; '.join(s.reasons) + ')' if s.reasons else ''}", err=True)

    result, folder = capacity(opts, capacity_id=capacity_id, on_step=shown)
    for line in result.lines():
        click.echo(line)
    click.echo(f"report: {folder / 'capacity.html'}")
    if result.stopped == "interrupted":
        sys.exit(ExitCode.INTERRUPTED)
    found = any(rate is not None for rate in result.sustainable.values())
    sys.exit(ExitCode.OK if found else ExitCode.THRESHOLD)

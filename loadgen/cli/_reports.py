"""``loadgen report``, ``compare`` and ``baseline``: what a finished run's folder becomes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadgen.cli._base import check_writable, cli, friendly
from loadgen.errors import UsageError
from loadgen.runfolder import REPORT_HTML, REPORT_JSON, REPORT_MD, read_meta

if TYPE_CHECKING:
    from loadgen.report.document import Report


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
    from loadgen.report import baseline_report, compare_runs, format_table

    if junit is not None:   # refused before the work, not after it
        check_writable(junit)
    if baseline_name is not None:
        if len(paths) != 1:
            raise UsageError("with --baseline NAME give exactly one RUN_DIR")
        baseline: Path | Report = baseline_report(baseline_name, baselines_dir)
        run = paths[0]
    elif len(paths) == 2:
        baseline, run = paths
    else:
        raise UsageError("give BASELINE_DIR RUN_DIR, or --baseline NAME RUN_DIR")
    result = compare_runs(baseline, run, max_regression=limits, force=force, junit=junit)
    for side in (baseline, run):
        if isinstance(side, Path) and side.is_dir() and (meta := read_meta(side)) is not None and meta.interrupted:
            click.echo(f"note: {side} was stopped early by Ctrl-C: its numbers cover only the time it ran", err=True)
    click.echo(format_table(result))
    if junit is not None:
        click.echo(f"junit: {junit}")
    sys.exit(result.exit_code)


@cli.group("baseline")
def baseline_group() -> None:
    """Named baselines: pinned runs of the history (history.db in $LOADGEN_BASELINES or ./baselines)."""


@baseline_group.command("save")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--baselines-dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder of named baselines  [default: $LOADGEN_BASELINES or ./baselines]")
@click.option("--force", is_flag=True, help="replace an existing baseline of that name")
@click.option("--partial", is_flag=True, help="save a run stopped early by Ctrl-C too (refused by default)")
@friendly
def baseline_save(run_dir: Path, name: str, baselines_dir: Path | None, force: bool, partial: bool) -> None:
    """Add RUN_DIR to the history under NAME and pin it as NAME's baseline."""
    from loadgen.report import save_baseline

    saved = save_baseline(run_dir, name, root=baselines_dir, force=force, partial=partial)
    click.echo(f"baseline {name}: run {saved.run_id} ({saved.key.text})")


@baseline_group.command("list")
@click.option("--baselines-dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder of named baselines  [default: $LOADGEN_BASELINES or ./baselines]")
@friendly
def baseline_list(baselines_dir: Path | None) -> None:
    """List saved baselines."""
    from loadgen.report import list_baselines

    for name in list_baselines(baselines_dir):
        click.echo(name)

"""``loadgen history``: keep runs as a series, find their change points, write the trend report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadgen.cli._base import check_writable, cli, friendly

if TYPE_CHECKING:
    from loadgen.report.changes import Analysis
    from loadgen.report.document import Report

_DB_HELP = "history file  [default: $LOADGEN_HISTORY or baselines/history.db]"


@cli.group("history")
def history_group() -> None:
    """Runs kept as a series (SQLite), judged by change-point detection (Apache Otava)."""


@history_group.command("add")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default="main", show_default=True, help="the series to add it to")
@click.option("--commit", help="the commit the run measured (shown in tables and links)")
@click.option("--branch", help="the branch it came from")
@click.option("--note", help="a free note kept with the run")
@click.option("--partial", is_flag=True, help="add a run stopped early by Ctrl-C too (refused by default)")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_DB_HELP)
@friendly
def history_add(run_dir: Path, name: str, commit: str | None, branch: str | None, note: str | None, partial: bool,
                db: Path | None) -> None:
    """Keep RUN_DIR's report (summary, HDR histograms, per-second series) in the history under NAME."""
    from loadgen.report.history import add_run, history_path, named_file

    path = history_path(db)
    run = add_run(run_dir, name, db=path, commit=commit, branch=branch, note=note, partial=partial,
                  make_folder=not named_file(db))
    click.echo(f"{path}: {name} <- run {run.run_id} ({run.key.text})")


@history_group.command("list")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_DB_HELP)
@friendly
def history_list(db: Path | None) -> None:
    """The names kept, with each series' run count and key."""
    from loadgen.report.history import history_path, names, series_of

    path = history_path(db)
    kept = names(path)
    if not kept:
        click.echo(f"{path}: no runs kept yet (`loadgen history add RUN_DIR` starts the history)", err=True)
    for name in kept:
        for series in series_of(name, path):
            click.echo(f"{name}  {len(series.runs)} runs  {series.key.text}")


def _newest(name: str, db: Path | None, *, recent: int | None, max_pvalue: float | None,
            min_change: float) -> tuple[Analysis, list[Report]]:
    """The analysis of the series with the newest run under NAME (and its reports); series of other keys are
    named, not mixed in."""
    from loadgen.report.changes import MAX_PVALUE, RECENT, analyse
    from loadgen.report.history import history_path, load_reports, series_of

    path = history_path(db)
    newest, *others = series_of(name, path)
    for other in others:
        click.echo(f"kept apart (another key): {len(other.runs)} runs, {other.key.text}", err=True)
    reports = load_reports(newest.runs, path)
    return analyse(newest, reports, max_pvalue=max_pvalue or MAX_PVALUE, min_change=min_change,
                   recent=recent or RECENT), reports


def _verdict(analysis: Analysis) -> None:
    bad = analysis.regressions
    if bad:
        click.echo(f"REGRESSION in {', '.join(sorted({c.metric.name for c in bad}))} "
                   f"(starting within the newest {analysis.recent} runs)")
    else:
        click.echo(f"PASS: no regression starting within the newest {analysis.recent} runs")


RECENT = click.option("--recent", type=click.IntRange(1), help="a worsening starting within this many newest "
                      "runs is a regression (exit 3)  [default: 5]")
MAX_P = click.option("--max-pvalue", type=click.FloatRange(0, 1, min_open=True),
                     help="significance of Otava's t-test  [default: 0.0005]")
MIN_CHANGE = click.option("--min-change", default=0.0, show_default=True, type=click.FloatRange(0),
                          help="ignore level shifts smaller than this relative change (0.02 = 2%)")
JUNIT = click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="write JUnit XML here")
DB = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=_DB_HELP)


@history_group.command("check")
@click.argument("name", default="main")
@RECENT
@MAX_P
@MIN_CHANGE
@JUNIT
@DB
@friendly
def history_check(name: str, recent: int | None, max_pvalue: float | None, min_change: float, junit: Path | None,
                  db: Path | None) -> None:
    """Change points of every metric of NAME's runs. Exits 3 when the newest runs start a regression."""
    from loadgen.report.changes import confidence, format_change
    from loadgen.report.trend import junit_xml

    if junit is not None:   # refused before the work, not after it
        check_writable(junit)
    analysis, _ = _newest(name, db, recent=recent, max_pvalue=max_pvalue, min_change=min_change)
    click.echo(f"{name}: {len(analysis.series.runs)} runs, {len(analysis.metrics)} metrics, "
               f"{len(analysis.changes)} change point(s)")
    for c in analysis.changes:
        click.echo(f"  run {c.index + 1:>3} {c.run.label:<14} {c.metric.name:<28} {format_change(c):<34} "
                   f"{confidence(c.p_value):<22} {c.verdict}")
    if junit is not None:
        junit.write_text(junit_xml(analysis), encoding="utf-8")
        click.echo(f"junit: {junit}")
    _verdict(analysis)
    sys.exit(analysis.exit_code)


@history_group.command("report")
@click.argument("name", default="main")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="folder for trend.html and trend.md")
@RECENT
@MAX_P
@MIN_CHANGE
@JUNIT
@DB
@friendly
def history_report(name: str, out: Path, recent: int | None, max_pvalue: float | None, min_change: float,
                   junit: Path | None, db: Path | None) -> None:
    """Write NAME's trend page (trend.html) and pull-request summary (trend.md). Exits 3 like `check`."""
    from loadgen.report.trend import write_trend

    if junit is not None:
        check_writable(junit)
    analysis, reports = _newest(name, db, recent=recent, max_pvalue=max_pvalue, min_change=min_change)
    for path in write_trend(analysis, reports, out, junit=junit):
        click.echo(path)
    _verdict(analysis)
    sys.exit(analysis.exit_code)

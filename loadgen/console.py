"""What a person watching the CLI sees: progress bars, the live line of a run, the run's summary table.

The faces of long work, kept apart from the command definitions in :mod:`loadgen.cli`: shown on a
terminal only (a CI log gets a plain line now and then), always on stderr except the summary.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from loadgen.runfolder import ABORT_PREFIX, REPORT_HTML, REPORT_JSON, REPORT_MD

if TYPE_CHECKING:
    from loadgen.locust.live import LiveSnapshot
    from loadgen.runner import Progress

#: ``loadgen run`` without a terminal (a CI log): its live line this often, not at every redraw.
PLAIN_EVERY_S = 10.0
#: Below this width the run summary drops its p50 and p99 columns, so the failures stay readable.
NARROW_COLUMNS = 110


@contextmanager
def progress_bar(total: int, show: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr with the count and the rate, only when a person is watching it."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("generating"), BarColumn(), TextColumn("{task.completed:,} of {task.total:,}"),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("generating", total=total, rate="")
        start = time.monotonic()

        def advance(done: int) -> None:
            elapsed = time.monotonic() - start
            bar.update(task, completed=done, rate=f"{done / elapsed:,.0f} profiles/s" if elapsed > 0 else "")

        yield advance


@contextmanager
def run_progress(tty: bool) -> Iterator[Progress]:
    """The live line of a run: redrawn under a bar on a terminal, every ``PLAIN_EVERY_S`` in a log.

    The line is the Locust master's live snapshot (:meth:`LiveSnapshot.line`), fitted to the terminal's
    width: on 80 columns the failures keep their place and lesser fields go first.
    """
    if not tty:
        printed: float | None = None

        def log(elapsed: float, total: float, live: LiveSnapshot | None) -> None:
            # the first line once rates exist (before, it would be all zeros), then every PLAIN_EVERY_S
            nonlocal printed
            if live is None or (printed is None and not live.requests_per_s):
                return
            if printed is None or live.elapsed_s - printed >= PLAIN_EVERY_S:
                printed = live.elapsed_s
                click.echo(live.line(), err=True)
        yield log
        return
    from rich.console import Console, Group
    from rich.live import Live
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    console = Console(stderr=True)
    with Live(console=console, transient=True, refresh_per_second=4) as screen:
        def draw(elapsed: float, total: float, live: LiveSnapshot | None) -> None:
            # the schedule's time, not Locust's start-up; its last stats interval may end past the schedule's end
            done = min(live.elapsed_s, total) if live is not None else 0.0
            head = Table.grid(padding=(0, 1))
            head.add_row("running", ProgressBar(total=1.0, completed=min(1.0, done / total) if total else 0.0,
                                                width=max(10, min(40, console.width - 30))),
                         f"{done:.0f}s of {total:.0f}s")
            line = live.line(console.width) if live is not None else "waiting for Locust's first numbers"
            screen.update(Group(head, Text(line, no_wrap=True, overflow="ellipsis")))
        yield draw


def print_run_summary(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    console = Console(width=None if sys.stdout.isatty() else 150)
    # a narrow terminal (80 columns) keeps the failures readable: p50 and p99 go, the cells wrap
    heads = ["endpoint", "requests", "records", "req/s (target)", "achieved", "dropped", "failures by code", "p50 ms",
             "p95 ms", "p99 ms"]
    if console.width < NARROW_COLUMNS:
        heads = [head for head in heads if head not in ("p50 ms", "p99 ms")]
    narrow = console.width < NARROW_COLUMNS
    short = {"requests": "req", "records": "rec", "req/s (target)": "req/s", "achieved": "ach", "dropped": "drop",
             "p95 ms": "p95"}
    table = Table(title=f"run {result.meta.run_id}", title_justify="left", pad_edge=not narrow)
    for head in heads:
        table.add_column(short.get(head, head) if narrow else head,
                         justify="left" if head in ("endpoint", "failures by code") else "right",
                         min_width=16 if head == "failures by code" else None)
    from loadgen.report.thresholds import describe

    # the report's own numbers, so the console and report.json never disagree; rows that saw no arrival are left out
    for name, entry in result.report.endpoints.items():
        if not (entry.requests or entry.dropped):
            continue
        target = "" if entry.target_requests_per_s is None else f" ({entry.target_requests_per_s:.1f})"
        ranked = sorted(entry.failures.items(), key=lambda item: -item[1])
        failures = ", ".join(f"{n} x {label}" for label, n in ranked) or "none"
        service = entry.latency.service
        cells = {"endpoint": name, "requests": f"{entry.requests:,}", "records": f"{entry.records:,}",
                 "req/s (target)": f"{entry.requests_per_s:.1f}{target}", "dropped": str(entry.dropped),
                 "achieved": _achieved(entry.achieved_ratio),
                 "failures by code": failures, "p50 ms": ms(service.p50), "p95 ms": ms(service.p95),
                 "p99 ms": ms(service.p99)}
        table.add_row(*(cells[head] for head in heads))
    console.print(table)
    reasons = [r for r in result.meta.stop_reasons if "max-records" in r]
    if reasons or result.interrupted:
        console.print("stopped early: " + ("Ctrl-C" if result.interrupted else "--max-records reached"))
    for reason in (r for r in result.meta.stop_reasons if r.startswith(ABORT_PREFIX)):
        console.print(f"stopped early by --abort-on-fail: {reason}", markup=False)
    if result.nothing_lost is not None:
        verdict = "nothing lost" if result.nothing_lost else "RECORDS LOST"
        console.print(f"ledger {result.ledger_count:,} records, sandbox {result.server_count:,}: {verdict}")
    elif result.ledger_count:
        console.print(f"ledger {result.ledger_count:,} records (clean up: loadgen cleanup {result.run_dir})")
    else:
        console.print("ledger 0 records: nothing to clean up")
    for verdict in result.report.thresholds:
        status = "pass" if verdict.ok else "FAIL"
        console.print(f"threshold {verdict.expression}: {status} ({describe(verdict)})")
    for warning in result.report.warnings:   # dropped or late arrivals, Ctrl-C, lost records...
        console.print(f"warning: {warning}", markup=False)
    console.print(f"report: {result.run_dir / REPORT_HTML}")
    console.print(f"        {result.run_dir / REPORT_MD}")
    console.print(f"        {result.run_dir / REPORT_JSON}")

def _achieved(ratio: float | None) -> Any:
    """The achieved cell: the report's number, in the colour of its grade (green, amber, red as in the HTML)."""
    from rich.text import Text

    from loadgen.report.thresholds import achieved_grade, format_achieved

    colors = {"ok": "green", "amber": "yellow", "bad": "red"}
    return Text(format_achieved(ratio), style=colors.get(achieved_grade(ratio), ""))


@contextmanager
def cleanup_progress(show: bool) -> Iterator[Callable[[Any], None] | None]:
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("deleting", total=None)

        def tick(result: Any) -> None:
            bar.update(task, total=result.total, completed=result.deleted + result.skipped + result.failed)

        yield tick

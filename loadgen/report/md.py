"""``report.md``: the run in a few lines, for a pull-request comment or a wiki page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from loadgen.report.document import Report
from loadgen.report.thresholds import describe, format_achieved, format_ms
from loadgen.runfolder import REPORT_MD

_BADGE = {"pass": "✅ PASS", "fail": "❌ FAIL", "none": "➖ no thresholds"}


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(head) - 1)
    return ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(row) + " |" for row in rows)]


def _cell(text: str) -> str:
    """A table cell of any text: a scenario's own request name may hold a ``|``."""
    return text.replace("|", "\\|")


def _phases(report: Report) -> str:
    """What else the run's time and numbers depend on: a warm-up left out of them, the store size met."""
    run = report.run
    parts = [f"after a {run.warmup_s:g} s warm-up left out of every figure"] if run.warmup_s else []
    if run.store_records is not None:
        parts.append(f"{run.store_records:,} records stored at the start")
    return "".join(f", {part}" for part in parts)


def render(report: Report) -> str:
    run, summary = report.run, report.summary
    lines = [f"### Load test `{run.run_id}`: {_BADGE.get(report.verdict, '')}", "",
             f"Scenario **{run.scenario or '–'}** against `{run.host or '–'}`, "
             f"{run.started_at} → {run.ended_at} ({run.elapsed_s:.0f} s measured{_phases(report)}). "
             f"**{summary.requests:,}** requests, **{summary.records:,}** records created "
             f"({summary.records_per_s:,.1f}/s), error rate **{summary.error_rate * 100:.2f}%**.", ""]
    rows = []
    for name, e in report.endpoints.items():
        if not e.requests and not e.dropped:
            continue
        lat = e.latency.service
        codes = ", ".join(f"{label} × {n:,}" for label, n in e.failures.items()) or "–"
        rows.append([_cell(name), f"{e.requests:,}", f"{e.records:,}", f"{e.requests_per_s:,.1f}",
                     format_achieved(e.achieved_ratio), f"{e.error_rate * 100:.2f}%",
                     format_ms(lat.p50), format_ms(lat.p95), format_ms(lat.p99),
                     format_ms(lat.p99_9), format_ms(lat.max),
                     format_ms(e.latency.intended.p99), f"{e.late + e.dropped:,}", _cell(codes)])
    lines += _table(["endpoint", "requests", "records", "req/s", "achieved (ok)", "errors", "p50", "p95", "p99",
                     "p99.9", "max", "p99 intended", "late+dropped", "failures by code"], rows)
    if report.thresholds:
        lines += ["", *_table(["threshold", "actual", "verdict"],
                              [[f"`{v.expression}`", describe(v), "pass" if v.ok else "**breached**"]
                               for v in report.thresholds])]
    if summary.failures:
        lines += ["", "Failures: " + ", ".join(f"{label} × {n:,}" for label, n in summary.failures.items())]
    if report.warnings:
        lines += ["", *(f"> ⚠ {w}  " for w in report.warnings)]
    return "\n".join(lines) + "\n"


def write(report: Report, run_dir: Path) -> Path:
    path = run_dir / REPORT_MD
    path.write_text(render(report), encoding="utf-8")
    return path

"""A capacity search's document and page: ``capacity.json`` and ``capacity.html`` with the knee charts.

The knee is where the achieved rate stops following the offered one and latency turns up: the two
charts draw every step of :mod:`loadgen.capacity` against its offered rate, and the table gives each
step's numbers and verdict, so the reader sees both the sustainable rate and how it was found. Each
step is a run folder of its own (its full report one click away).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from html import escape
from pathlib import Path

from loadgen.report.html import CSS
from loadgen.report.svg import Series, line_chart
from loadgen.report.thresholds import format_ms

CAPACITY_JSON = "capacity.json"
CAPACITY_HTML = "capacity.html"
_COLORS = {"pass": "#059669", "fail": "#dc2626", "noise": "#d97706", "interrupted": "#6b7280"}


@dataclass(frozen=True)
class Step:
    """One step: its offered rate (requests/s of the main endpoint), verdict, and what it achieved."""

    rate: float
    bulk_size: int
    run_id: str
    verdict: str                  # pass | fail | noise | interrupted
    reasons: tuple[str, ...]
    requests_per_s: float         # achieved, main endpoint
    records_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    intended_p99_ms: float | None
    error_rate: float
    dropped: int
    records: int
    store_records: int | None     # records stored when the step's measured phase began

    def to_json(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"reasons": list(self.reasons)}


@dataclass
class Capacity:
    """The search's outcome: per bulk size, the sustainable and the first failing rate, and every step."""

    capacity_id: str
    slos: tuple[str, ...]
    steps: list[Step] = field(default_factory=list)
    sustainable: dict[int, float | None] = field(default_factory=dict)    # bulk size -> requests/s
    first_failing: dict[int, float | None] = field(default_factory=dict)
    stopped: str = "done"         # done | max-rate | max-records | max-duration | interrupted

    @property
    def best_bulk_size(self) -> int | None:
        """The bulk size with the most records/s at its sustainable rate (a bulkCreate sweep)."""
        rated = [(rate * size, size) for size, rate in self.sustainable.items() if rate]
        return max(rated)[1] if rated else None

    def to_json(self) -> dict[str, object]:
        return {"kind": "loadgen-capacity", "format_version": 1, "capacity_id": self.capacity_id,
                "slos": list(self.slos), "stopped": self.stopped,
                "sustainable": {str(k): v for k, v in self.sustainable.items()},
                "first_failing": {str(k): v for k, v in self.first_failing.items()},
                "best_bulk_size": self.best_bulk_size, "steps": [s.to_json() for s in self.steps]}

    def lines(self) -> list[str]:
        """The outcome in a few lines: per bulk size, the sustainable and first failing rates."""
        out = []
        for size, rate in self.sustainable.items():
            failing = self.first_failing.get(size)
            head = f"bulk size {size}: " if len(self.sustainable) > 1 else ""
            held = "no step met the SLO" if rate is None else f"sustainable {rate:g} requests/s"
            out.append(f"{head}{held}, first failing {'-' if failing is None else f'{failing:g} requests/s'}")
        if len(self.sustainable) > 1 and self.best_bulk_size is not None:
            out.append(f"best bulk size: {self.best_bulk_size} (most records/s within the SLO)")
        if self.stopped == "max-rate":
            out.append("the search reached --max-rate: the capacity may be higher")
        elif self.stopped != "done":
            out.append(f"stopped early: {self.stopped}")
        return out or [f"no step was run (stopped: {self.stopped})"]


def knee_charts(steps: Sequence[Step], of: str = "") -> tuple[str, str]:
    """Achieved against offered rate, and latency percentiles against offered rate (log scale), for steps of
    one bulk size (``of`` names it in the titles)."""
    # a step run again (noise) is drawn by its re-run, which stands; a step Ctrl-C cut short is not drawn
    last = {s.rate: s for s in steps if s.verdict != "interrupted"}
    ordered = [last[rate] for rate in sorted(last)]
    x = [s.rate for s in ordered]
    rates = [Series("answered", [s.requests_per_s for s in ordered], "#93c5fd"),
             Series("succeeded", [s.requests_per_s * (1 - s.error_rate) for s in ordered], "#2563eb"),
             Series("offered", x, "#9ca3af", dashed=True, width=1.5)]
    latency = [Series("p50", [s.p50_ms for s in ordered], "#60a5fa"),
               Series("p95", [s.p95_ms for s in ordered], "#2563eb"),
               Series("p99", [s.p99_ms for s in ordered], "#111827"),
               Series("p99 from intended start", [s.intended_p99_ms for s in ordered], "#f59e0b", dashed=True)]
    axis = "offered rate (requests / s)"
    return (line_chart(x, rates, title=f"Achieved against offered rate{of}", y_label="requests / s", x_label=axis),
            line_chart(x, latency, title=f"Latency against offered rate{of}", y_label="latency (ms, log scale)",
                       x_label=axis, log_y=True))


def _row(step: Step) -> str:
    cells = [f'<a href="{escape(step.run_id)}/report.html">{escape(step.run_id)}</a>', f"{step.rate:g}",
             f"{step.requests_per_s:,.1f}", f"{step.records_per_s:,.1f}", format_ms(step.p50_ms),
             format_ms(step.p95_ms), format_ms(step.p99_ms), format_ms(step.intended_p99_ms),
             f"{step.error_rate * 100:.2f}%", f"{step.dropped:,}",
             "–" if step.store_records is None else f"{step.store_records:,}",
             f'<b style="color:{_COLORS.get(step.verdict, "#111")}">{escape(step.verdict)}</b>',
             escape("; ".join(step.reasons)) or "–"]
    why = '<td style="white-space:normal;text-align:left;min-width:280px">'
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells[:-1]) + f"{why}{cells[-1]}</td></tr>"


def render(result: Capacity) -> str:
    """The whole page: the outcome, the knee charts, then every step."""
    head = ["step", "offered/s", "achieved/s", "records/s", "p50", "p95", "p99", "intended p99", "errors",
            "dropped", "stored before", "verdict", "why"]
    table = ("<div class=\"tbl\"><table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
             + "".join(_row(s) for s in result.steps) + "</tbody></table></div>")
    sizes = sorted({s.bulk_size for s in result.steps})
    # one pair of charts per bulk size of a sweep: steps of two sizes at one rate are two different points
    charts = [knee_charts([s for s in result.steps if s.bulk_size == size],
                          f" (bulk size {size})" if len(sizes) > 1 else "") for size in sizes]
    found = any(rate is not None for rate in result.sustainable.values())
    outcome = "".join(f"<div>{escape(line)}</div>" for line in result.lines())
    slos = ", ".join(f"<code>{escape(s)}</code>" for s in result.slos)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Capacity · {escape(result.capacity_id)}</title>
<style>{CSS}</style></head><body><main>
<header><div><div class="brand">capture-loadgen</div><h1>Capacity: {escape(result.capacity_id)}</h1>
<div class="sub">Highest open-model arrival rate within the SLO {slos}</div></div></header>
<div class="banner {'pass' if found else 'fail'}"><b>{'FOUND' if found else 'NOT FOUND'}</b><span>{outcome}</span></div>
<h2>The knee</h2>{"".join(f'<div class="grid"><div class="card">{rates}</div><div class="card">{latency}</div></div>'
                         for rates, latency in charts)}
<h2>Steps</h2>{table}
<p class="sub">A step fails when arrivals were dropped or an SLO breach is supported by its seconds (one-sided
rank test, p &lt; 0.01, as <code>loadgen compare</code>); a breach they do not support is noise and the step
is run again, twice as long.</p>
<footer>capture-loadgen capacity</footer></main></body></html>
"""


def write(result: Capacity, folder: Path) -> Path:
    """Write ``capacity.json`` and ``capacity.html`` into ``folder``; return the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CAPACITY_JSON).write_text(json.dumps(result.to_json(), indent=1, allow_nan=False) + "\n",
                                        encoding="utf-8")
    page = folder / CAPACITY_HTML
    page.write_text(render(result), encoding="utf-8")
    return page

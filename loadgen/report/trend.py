"""The trend of a history: one self-contained HTML page, a Markdown summary for a pull request, JUnit for CI.

The page follows ``report.html``'s conventions (inline CSS and SVG, no script, no network): one chart
per metric over the runs, the level of each segment drawn between Otava's change points, each change
point marked and labelled, and each run's dot a link to its own ``report.html`` while that folder
exists. Because every run's HDR histograms are kept, the newest latency change of each endpoint also
gets the whole distribution before and after it (the runs of each segment merged): whether the body
moved or only the tail, which one number per run cannot tell. The Markdown is short enough for a
pull-request comment: the verdict and the changes only.
"""

from __future__ import annotations

import itertools
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from loadgen.report.changes import Analysis, Change, MetricSeries, confidence, format_change, format_value
from loadgen.report.document import Report
from loadgen.report.html import CSS
from loadgen.report.recorder import NS_PER_MS, decode_histogram, new_histogram
from loadgen.report.svg import AXIS, FONT, GRID, PALETTE, TEXT, Series, fmt_number, nice_ticks, percentile_chart

TREND_HTML, TREND_MD, TREND_JUNIT = "trend.html", "trend.md", "trend-junit.xml"
#: At most this many changes in the Markdown summary (newest first); the page has them all.
MD_ROWS = 12
_WORSE, _BETTER, _LEVEL = "#dc2626", "#059669", "#94a3b8"
#: Percentiles of the before/after distribution panel.
_SPECTRUM = (0, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9, 99.99)
_LATENCY_KEYS = ("p50", "p95", "p99")
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 600, 230, 62, 16, 30, 38


def _text(x: float, y: float, label: str, *, anchor: str = "middle", size: int = 10, color: str = TEXT) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{color}">{escape(label)}</text>')


def _link(run_html: Path | None, page_dir: Path) -> str | None:
    return None if run_html is None else Path(os.path.relpath(run_html, page_dir)).as_posix()


def chart(analysis: Analysis, ms: MetricSeries, page_dir: Path) -> str:
    """One metric over the runs: dots (linked to run reports), segment levels, change points marked."""
    runs = analysis.series.runs
    values = [v for v in ms.values if v is not None]
    unit = ms.metric.unit
    scale_by = 100.0 if unit == "%" else 1.0
    ticks = nice_ticks(min(0.0, min(values) * scale_by), max(values) * scale_by * 1.08 or 1)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def sx(i: float) -> float:
        return _LEFT + (i + 0.5) / len(runs) * plot_w

    def sy(v: float) -> float:
        return _TOP + plot_h - (v * scale_by - ticks[0]) / ((ticks[-1] - ticks[0]) or 1) * plot_h

    title = f"{ms.metric.name} ({unit})"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" '
           f'aria-label="{escape(title)}" font-family="{FONT}" class="chart"><title>{escape(title)}</title>',
           _text(_LEFT, 16, title, anchor="start", size=12)]
    for tick in ticks:
        out.append(f'<line x1="{_LEFT}" y1="{sy(tick / scale_by):.1f}" x2="{_W - _RIGHT}" '
                   f'y2="{sy(tick / scale_by):.1f}" stroke="{GRID}"/>')
        out.append(_text(_LEFT - 6, sy(tick / scale_by) + 3, fmt_number(tick), anchor="end"))
    base = _TOP + plot_h
    out.append(f'<line x1="{_LEFT}" y1="{base}" x2="{_W - _RIGHT}" y2="{base}" stroke="{AXIS}"/>')
    step = max(1, math.ceil(len(runs) / 10))
    out += [_text(sx(i), base + 14, str(i + 1)) for i in range(0, len(runs), step)]
    out.append(_text(_LEFT + plot_w / 2, _H - 6, "run (oldest to newest)"))
    changes = [c for c in analysis.changes if c.metric == ms.metric]
    out += _levels(changes, ms, sx, sy, len(runs))
    out += [_marker(c, sx(c.index - 0.5), _TOP, base) for c in changes]
    for i, value in enumerate(ms.values):
        if value is None:
            continue
        run = runs[i]
        tip = f"run {i + 1}: {run.run_id}{f' @ {run.commit}' if run.commit else ''} {format_value(value, unit)}"
        dot = (f'<circle cx="{sx(i):.1f}" cy="{sy(value):.1f}" r="3.2" fill="{PALETTE[0]}">'
               f"<title>{escape(tip)}</title></circle>")
        href = _link(run.report_html, page_dir)
        out.append(f'<a href="{escape(href)}">{dot}</a>' if href else dot)
    return "".join([*out, "</svg>"])


def _levels(changes: Sequence[Change], ms: MetricSeries, sx: Callable[[float], float], sy: Callable[[float], float],
            n: int) -> list[str]:
    """The mean of each segment between change points, as a flat line over its runs."""
    bounds = [0, *(c.index for c in changes), n]
    out = []
    for start, stop in itertools.pairwise(bounds):
        seg = [v for v in ms.values[start:stop] if v is not None]
        if seg:
            y = sy(sum(seg) / len(seg))
            out.append(f'<line x1="{sx(start - 0.4):.1f}" y1="{y:.1f}" x2="{sx(stop - 0.6):.1f}" y2="{y:.1f}" '
                       f'stroke="{_LEVEL}" stroke-width="2" stroke-dasharray="5 3"/>')
    return out


def _marker(change: Change, x: float, top: float, base: float) -> str:
    color = _WORSE if change.worse else _BETTER
    label = format_change(change).split(" (")[0]
    tip = f"{change.metric.name} from run {change.index + 1}: {format_change(change)}, {confidence(change.p_value)}"
    right = x > _W - _RIGHT - 60   # near the right edge the label goes to the line's left
    caption = _text(x - 3 if right else x + 3, top + 10, label, anchor="end" if right else "start", color=color)
    return (f'<g><title>{escape(tip)}</title><line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" '
            f'stroke="{color}" stroke-width="1.6" stroke-dasharray="4 3"/>{caption}</g>')


def _merged(reports: Sequence[Report], endpoint: str) -> list[float] | None:
    """The service-time spectrum (ms at :data:`_SPECTRUM`) of the runs' histograms merged, or None if empty."""
    hist = new_histogram()
    for report in reports:
        entry = report.endpoints.get(endpoint)
        if entry is not None and entry.histograms.service:
            hist.add(decode_histogram(entry.histograms.service))
    if not hist.get_total_count():
        return None
    values = hist.get_percentile_to_value_dict(list(_SPECTRUM))
    return [values[p] / NS_PER_MS for p in _SPECTRUM]


def shift_chart(analysis: Analysis, reports: Sequence[Report], change: Change) -> str:
    """The endpoint's latency distribution over the runs before ``change`` and after it (to the next change)."""
    bounds = sorted({0, len(reports), *(c.index for c in analysis.changes if c.metric == change.metric)})
    at = bounds.index(change.index)
    start, stop = bounds[at - 1], bounds[at + 1]
    endpoint = change.metric.endpoint
    before, after = _merged(reports[start:change.index], endpoint), _merged(reports[change.index:stop], endpoint)
    curves = [(Series(f"runs {a + 1}-{b}" if b > a + 1 else f"run {b}", values, color), list(_SPECTRUM))
              for a, b, values, color in ((start, change.index, before, _LEVEL),
                                          (change.index, stop, after, _WORSE if change.worse else _BETTER))
              if values is not None]
    return percentile_chart(curves, title=f"{endpoint}: service time before and after run {change.index + 1}",
                            log_y=True)


def _shift_cards(analysis: Analysis, reports: Sequence[Report]) -> str:
    """A panel per endpoint for its newest latency change seen in two runs or more (a pending one is one run)."""
    newest: dict[str, Change] = {}
    for change in analysis.changes:     # by run: the last one of an endpoint wins
        if change.metric.key in _LATENCY_KEYS and not change.pending:
            newest[change.metric.endpoint] = change
    return "".join(f'<div class="card"><h3>{escape(c.metric.endpoint)}: from run {c.index + 1}, '
                   f"{escape(format_change(c))} at {c.metric.key}</h3>{shift_chart(analysis, reports, c)}</div>"
                   for _, c in sorted(newest.items()))


def _changes_table(analysis: Analysis) -> str:
    if not analysis.changes:
        return '<p class="sub">No change point: every metric is stationary over these runs.</p>'
    rows = "".join(
        f"<tr><td>{c.index + 1}</td><td>{escape(c.run.label)}</td><td>{escape(c.metric.name)}</td>"
        f"<td>{escape(format_change(c))}</td><td>{escape(confidence(c.p_value))}</td>"
        f'<td class="{"bad" if c.worse else "ok"}">{c.verdict}</td></tr>' for c in reversed(analysis.changes))
    head = "".join(f"<th>{h}</th>" for h in ("run", "commit / run id", "metric", "change", "confidence", "verdict"))
    return f'<div class="tbl"><table><tr>{head}</tr>{rows}</table></div>'


def _headline(analysis: Analysis) -> tuple[str, str]:
    bad = analysis.regressions
    if bad:
        return "fail", f"REGRESSION in {', '.join(sorted({c.metric.name for c in bad}))}"
    return "pass", f"no regression starting in the newest {analysis.recent} runs"


def render_html(analysis: Analysis, reports: Sequence[Report], page_dir: Path) -> str:
    """The page; ``reports`` are the series' runs in order (their histograms make the distribution panels)."""
    series = analysis.series
    shifts = _shift_cards(analysis, reports)
    css, text = _headline(analysis)
    by_endpoint: dict[str, list[str]] = {}
    for ms in analysis.metrics:
        if any(v is not None for v in ms.values):
            by_endpoint.setdefault(ms.metric.endpoint, []).append(
                f'<div class="card">{chart(analysis, ms, page_dir)}</div>')
    sections = "".join(f'<h2>{escape(ep)}</h2><div class="grid">{"".join(cards)}</div>'
                       for ep, cards in by_endpoint.items())
    first, last = series.runs[0], series.runs[-1]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Trend · {escape(series.name)}</title><style>{CSS}</style></head><body><main>
<header><div><div class="brand">capture-loadgen</div><h1>Performance history: {escape(series.name)}</h1>
<div class="sub">{len(series.runs)} runs, {escape(first.started_at)} → {escape(last.started_at)} ·
{escape(series.key.text)}</div></div></header>
<div class="banner {css}"><b>{"FAIL" if css == "fail" else "PASS"}</b><span>{escape(text)}</span></div>
<h2>Change points</h2>{_changes_table(analysis)}
<p class="sub">Change points by Apache Otava (E-divisive means, two-sided t-test, p &lt; {analysis.max_pvalue:g}).
Dashed grey: each segment's level; red: worse, green: better. Click a dot to open that run's report.</p>
{'<h2>Distribution before and after</h2><p class="sub">The HDR histograms of the runs on each side of '
 "the newest latency change of each endpoint, merged.</p>" + '<div class="grid">' + shifts + "</div>" if shifts else ""}
{sections}
<footer>Generated by capture-loadgen. Rebuild with <code>loadgen history report {escape(series.name)}</code>.</footer>
</main></body></html>
"""


def render_markdown(analysis: Analysis, html_name: str = TREND_HTML) -> str:
    series = analysis.series
    css, text = _headline(analysis)
    lines = [f"### {'❌' if css == 'fail' else '✅'} Performance history `{series.name}`: {text}", "",
             f"{len(series.runs)} runs · `{series.key.text}`", ""]
    shown = list(reversed(analysis.changes))[:MD_ROWS]
    if shown:
        lines += ["| run | commit / run id | metric | change | confidence | verdict |", "|---|---|---|---|---|---|"]
        lines += [f"| {c.index + 1} | `{c.run.label}` | {c.metric.name} | {format_change(c)} | "
                  f"{confidence(c.p_value)} | {c.verdict} |" for c in shown]
        if len(analysis.changes) > len(shown):
            lines.append(f"\n…and {len(analysis.changes) - len(shown)} older change(s), see {html_name}.")
    else:
        lines.append("No change point: every metric is stationary over these runs.")
    lines += ["", f"Trend charts: `{html_name}`."]
    return "\n".join(lines) + "\n"


def junit_xml(analysis: Analysis) -> str:
    """One testcase per metric: a failure when a worsening starts within the newest runs."""
    suite = ET.Element("testsuite", name=f"loadgen.history.{analysis.series.name}",
                       tests=str(len(analysis.metrics)), failures="0", errors="0")
    failed = 0
    for ms in analysis.metrics:
        case = ET.SubElement(suite, "testcase", classname=f"loadgen.history.{ms.metric.endpoint}", name=ms.metric.key)
        mine = [c for c in analysis.changes if c.metric == ms.metric]
        bad = [c for c in mine if c.regression]
        notes = "; ".join(f"run {c.index + 1} ({c.run.label}): {format_change(c)}, {confidence(c.p_value)}"
                          for c in mine)
        if bad:
            failed += 1
            ET.SubElement(case, "failure", message=f"{ms.metric.name} regressed: {format_change(bad[-1])}").text = notes
        ET.SubElement(case, "system-out").text = notes or "no change point"
    suite.set("failures", str(failed))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def write_trend(analysis: Analysis, reports: Sequence[Report], out_dir: Path, *,
                junit: Path | None = None) -> list[Path]:
    """trend.html and trend.md in ``out_dir`` (and JUnit XML when asked): the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page, summary = out_dir / TREND_HTML, out_dir / TREND_MD
    page.write_text(render_html(analysis, reports, out_dir.resolve()), encoding="utf-8")
    summary.write_text(render_markdown(analysis), encoding="utf-8")
    written = [page, summary]
    if junit is not None:
        junit.write_text(junit_xml(analysis), encoding="utf-8")
        written.append(junit)
    return written

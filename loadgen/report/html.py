"""``report.html``: one self-contained page (inline CSS and SVG, no script, no network).

Read top to bottom it answers, in order: did the run pass, how much did it do against its target,
how fast, what failed, and can the numbers be trusted (generator CPU, late arrivals, environment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from loadgen.ramp import Stage
from loadgen.report.document import SCHEMA_VERSION, Report
from loadgen.report.model import MIN_SAMPLES, PERCENTILES, SERIES_QUANTILES
from loadgen.report.recorder import NS_PER_MS, decode_histogram
from loadgen.report.svg import PALETTE, Series, hbars, line_chart, percentile_chart, stacked_bars
from loadgen.report.thresholds import achieved_grade, describe, format_achieved, format_ms
from loadgen.runfolder import REPORT_HTML, Target
from loadgen.scenarios import BULK_CREATE, CREATE, MALFORMED

#: Colours per endpoint, stable across charts.
ENDPOINT_COLORS = {CREATE.name: "#2563eb", BULK_CREATE.name: "#10b981", MALFORMED.name: "#8b5cf6"}
#: Downsample per-second series to at most this many points so long runs stay readable.
MAX_POINTS = 300
_SPECTRUM = (0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 98.5, 99, 99.25, 99.5,
             99.75, 99.9, 99.95, 99.99)

CSS = """
*{box-sizing:border-box}body{margin:0;background:#f5f7fa;color:#1f2937;font:14px/1.5 system-ui,-apple-system,
'Segoe UI',Roboto,Helvetica,Arial,sans-serif}main{max-width:1240px;margin:0 auto;padding:28px 32px 48px}
header{display:flex;justify-content:space-between;align-items:flex-end;gap:24px;margin-bottom:18px}
h1{font-size:24px;margin:0 0 4px;letter-spacing:-.01em}h2{font-size:17px;margin:30px 0 12px}
h3{font-size:14px;margin:0 0 8px;color:#374151}.sub{color:#6b7280;font-size:13px}
.brand{font-weight:700;color:#2563eb;font-size:12px;letter-spacing:.08em;text-transform:uppercase}
.banner{border-radius:10px;padding:16px 20px;display:flex;align-items:center;gap:16px;color:#fff;
margin-bottom:14px}.banner b{font-size:20px;letter-spacing:.04em}.banner span{opacity:.95}
.pass{background:linear-gradient(90deg,#059669,#10b981)}.fail{background:linear-gradient(90deg,#dc2626,#ef4444)}
.none{background:linear-gradient(90deg,#475569,#64748b)}
.warn{background:#fffbeb;border:1px solid #fcd34d;color:#92400e;border-radius:8px;padding:10px 14px;margin:8px 0}
.kpis{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin:16px 0}
.kpi{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.kpi .v{font-size:22px;font-weight:650;letter-spacing:-.01em}.kpi .l{color:#6b7280;font-size:12px}
.kpi .n{color:#6b7280;font-size:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.card{background:#fff;border-radius:10px;padding:16px 18px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.chart{width:100%;height:auto;display:block}
table{width:100%;border-collapse:collapse;background:#fff;font-size:12px;font-variant-numeric:tabular-nums}
th,td{padding:7px 6px;text-align:right;border-bottom:1px solid #eef0f4;white-space:nowrap}
th{background:#f9fafb;color:#4b5563;font-weight:600;font-size:12px}th:first-child,td:first-child{text-align:left}
.tbl{border-radius:10px;overflow-x:auto;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.ok{color:#059669;font-weight:600}.dim{color:#9ca3af}.card .sub{margin:-6px 0 6px;font-size:12px}
.bad{color:#dc2626;font-weight:600}.amber{color:#d97706;font-weight:600}
dl{display:grid;grid-template-columns:200px 1fr;gap:6px 16px;margin:0}dt{color:#6b7280}dd{margin:0;
font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px;overflow-wrap:anywhere}
footer{margin-top:36px;color:#9ca3af;font-size:12px}
"""


def _downsample(values: Sequence[float | None], size: int, *, total: bool) -> list[float | None]:
    """Bin consecutive seconds: counts become per-second averages, latencies the bin's mean."""
    if size <= 1:
        return list(values)
    out: list[float | None] = []
    for i in range(0, len(values), size):
        chunk = [v for v in values[i:i + size] if v is not None]
        if not chunk:
            out.append(None)
        else:
            out.append(sum(chunk) / (len(values[i:i + size]) if total else len(chunk)))
    return out


def _axis(report: Report) -> tuple[list[float], int]:
    n = report.series.length
    size = max(1, -(-n // MAX_POINTS))
    return [float(i) for i in range(0, n, size)], size


def _active(report: Report) -> list[str]:
    return [name for name, e in report.endpoints.items() if e.requests or e.dropped]


def _color(name: str, i: int) -> str:
    return ENDPOINT_COLORS.get(name, PALETTE[i % len(PALETTE)])


def _whole_seconds(n: int) -> range:
    """The run's whole seconds: its first and last are partial (it starts and ends inside them), and a rate
    drawn from them would look like a ramp or a collapse that never happened."""
    return range(1, n - 1) if n > 2 else range(n)


def _timeline(values: Sequence[float | None], seconds: range, *, total: bool) -> tuple[list[float], list[float | None]]:
    """x (elapsed s) and values of the given seconds, binned to at most MAX_POINTS points."""
    size = max(1, -(-len(seconds) // MAX_POINTS))
    return ([float(i) for i in seconds[::size]],
            _downsample([values[i] for i in seconds], size, total=total))


def endpoint_throughput(report: Report, name: str, i: int) -> str:
    """Requests/s of one endpoint on its own scale: successful, all, and the target (dashed)."""
    s = report.series.endpoints[name]
    seconds = _whole_seconds(report.series.length)
    failed = [sum(col) for col in zip(*s.failures.values(), strict=True)] or [0] * len(s.requests)
    x, ok = _timeline([n - f for n, f in zip(s.requests, failed, strict=True)], seconds, total=True)
    # all requests first, in grey: the successful ones, the line that counts, are drawn over them
    series = [Series("all requests", _timeline(s.requests, seconds, total=True)[1], "#94a3b8", width=1.5),
              Series("successful", ok, _color(name, i))]
    if any(v is not None for v in s.target):
        series.append(Series("target", _timeline(s.target, seconds, total=False)[1], _color(name, i), dashed=True,
                             width=1.5))
    return line_chart(x, series, title=f"{name} requests per second", y_label="requests / s",
                      shade_to=report.run.warmup_s)


def endpoint_records(report: Report, name: str, i: int) -> str:
    """Records/s one endpoint created, on its own scale, against its records target (dashed)."""
    s, entry = report.series.endpoints[name], report.endpoints[name]
    seconds = _whole_seconds(report.series.length)
    x, records = _timeline(s.records, seconds, total=True)
    series = [Series("records created", records, _color(name, i))]
    per_request = (entry.target_records_per_s or 0) / (entry.target_requests_per_s or 1)
    if per_request and any(v is not None for v in s.target):
        target = [None if t is None else t * per_request for t in s.target]
        series.append(Series("target", _timeline(target, seconds, total=False)[1], _color(name, i), dashed=True,
                             width=1.5))
    return line_chart(x, series, title=f"{name} records per second", y_label="records / s",
                      shade_to=report.run.warmup_s)


def _throughput_cards(report: Report) -> tuple[str, str]:
    """One card per endpoint, each on its own y scale: 2 bulk requests/s stay visible beside 40 creates/s."""
    note = "dashed: target; the first and last second (partial) are left out"
    requests, records = [], []
    for i, name in enumerate(_active(report)):
        requests.append(_card(f"{name}: requests per second", note, endpoint_throughput(report, name, i)))
        if report.endpoints[name].records or report.endpoints[name].target_records_per_s:
            records.append(_card(f"{name}: records created per second", note, endpoint_records(report, name, i)))
    return "".join(requests), "".join(records)


def load_chart(report: Report) -> str:
    """Peak requests in flight per second against the users, and late and dropped arrivals per second."""
    series = report.series
    n = series.length
    x = [float(i) for i in range(n)]
    lines = []
    if series.in_flight:
        lines.append(Series("peak in flight", list(series.in_flight), "#2563eb"))
    if report.run.users:
        lines.append(Series(f"users ({report.run.users})", [float(report.run.users)] * n, "#111827", dashed=True,
                            width=1.5))
    for key, label, color in (("late", "late / s", "#f59e0b"), ("dropped", "dropped / s", "#ef4444")):
        per_second = [sum(getattr(s, key)[i] for s in series.endpoints.values()) for i in range(n)]
        lines.append(Series(label, per_second, color, width=1.5))
    size = max(1, -(-n // MAX_POINTS))
    binned = [Series(s.name, _downsample(s.values, size, total=s.name != "peak in flight"), s.color, s.dashed,
                     s.width) for s in lines]
    return line_chart(x[::size], binned, title="Load on the generator", y_label="requests",
                      shade_to=report.run.warmup_s)


def latency_chart(report: Report, name: str) -> str:
    """Service-time percentiles per window, plus p99 from the intended start (dashed).

    Drawn from the windowed series (each point at least MIN_SAMPLES requests); a report written before
    those existed falls back on the per-second ones.
    """
    s = report.series.endpoints[name]
    source = s.windowed if s.windowed is not None else s
    window = s.windowed.window_s if s.windowed is not None else 1
    points = len(source.p50)
    size = max(1, -(-points // MAX_POINTS))
    n = report.series.length
    # a window's point sits in the middle of the seconds it covers (the last window may be short)
    x = [i * window + (min(window, n - i * window) / 2 if window > 1 else 0.0) for i in range(0, points, size)]
    # windows' middles leave the run's ends bare: empty points there keep the time axis the whole run's
    pad = window > 1 and n > 0
    if pad:
        x = [0.0, *x, float(n)]

    def values(key: str) -> list[float | None]:
        binned = _downsample(source.latency(key), size, total=False)
        return [None, *binned, None] if pad else binned

    colors = ("#60a5fa", "#2563eb", "#7c3aed", "#111827")
    series = [Series(key, values(key), c) for (key, _), c in zip(SERIES_QUANTILES, colors, strict=True)]
    series.append(Series("p99 from intended start", values("ip99"), "#f59e0b", dashed=True))
    return line_chart(x, series, title=f"{name} latency", y_label="latency (ms, log scale)", log_y=True,
                      shade_to=report.run.warmup_s)


def store_chart(report: Report, name: str) -> str:
    """Latency per second against the records stored by then (the store size at the start, plus every
    record the run created so far): how a filling unique index or identity store slows a create down."""
    start = report.run.store_records or 0
    made = [sum(col) for col in zip(*(s.records for s in report.series.endpoints.values()), strict=True)]
    stored = [float(start + sum(made[:i + 1])) for i in range(len(made))]
    s = report.series.endpoints[name]
    points = [(x, p50, p99) for x, p50, p99 in zip(stored, s.p50, s.p99, strict=True) if p50 is not None]
    if not points:
        return ""
    x = [p[0] for p in points]
    series = [Series("p50", [p[1] for p in points], "#60a5fa"), Series("p99", [p[2] for p in points], "#111827")]
    return line_chart(x, series, title=f"{name} latency by store size", y_label="latency (ms, log scale)",
                      x_label="records stored", log_y=True)


def _latency_note(report: Report, name: str) -> str:
    """What one point of an endpoint's latency chart is: a window of how many seconds, of how many requests."""
    windowed = report.series.endpoints[name].windowed
    if windowed is None:
        return "service-time percentiles per second; dashed: p99 from the intended start"
    span = "second" if windowed.window_s == 1 else f"{windowed.window_s} s window"
    return (f"service-time percentiles per {span} (at least {MIN_SAMPLES} requests each, fewer leave a gap); "
            "dashed: p99 from the intended start")


def distribution_chart(report: Report) -> str:
    """Latency by percentile for each endpoint, service time solid and intended-start dashed."""
    curves = []
    for i, name in enumerate(_active(report)):
        histograms = report.endpoints[name].histograms
        for kind, blob, dashed in (("service", histograms.service, False), ("intended", histograms.intended, True)):
            if not blob:
                continue
            hist = decode_histogram(blob)
            values = hist.get_percentile_to_value_dict(list(_SPECTRUM))
            label = name if kind == "service" else f"{name} (intended)"
            curves.append((Series(label, [values[p] / NS_PER_MS for p in _SPECTRUM], _color(name, i),
                                  dashed=dashed), list(_SPECTRUM)))
    return percentile_chart(curves, title="Latency distribution", log_y=True)


def error_charts(report: Report) -> tuple[str, str]:
    """Errors per second stacked by code, and the totals by endpoint and code."""
    x, size = _axis(report)
    per_label: dict[str, list[float]] = {}
    totals: list[tuple[str, float, str]] = []
    for name in _active(report):
        for label, values in report.series.endpoints[name].failures.items():
            acc = per_label.setdefault(label, [0.0] * len(values))
            per_label[label] = [a + v for a, v in zip(acc, values, strict=True)]
    colors = {label: PALETTE[(i + 3) % len(PALETTE)] for i, label in enumerate(sorted(per_label))}
    series = [Series(label, _downsample(v, size, total=True), colors[label]) for label, v in sorted(per_label.items())]
    for name in _active(report):
        for label, count in report.endpoints[name].failures.items():
            totals.append((f"{name} · {label}", float(count), colors.get(label, PALETTE[0])))
    totals.sort(key=lambda item: -item[1])
    return (stacked_bars(x, series, title="Errors over time", y_label="errors / s"),
            hbars(totals, title="Errors in total"))


def _card(title: str, note: str, body: str) -> str:
    sub = f'<div class="sub">{escape(note)}</div>' if note else ""
    return f'<div class="card"><h3>{escape(title)}</h3>{sub}{body}</div>'


def _kpi(label: str, value: str, note: str = "", *, key: str = "", grade: str = "") -> str:
    """A key figure; ``key`` names it for a reader of the page (``data-kpi``), ``grade`` colours its value."""
    return (f'<div class="kpi" data-kpi="{escape(key)}"><div class="l">{escape(label)}</div>'
            f'<div class="v {grade}">{escape(value)}</div><div class="n">{escape(note)}</div></div>')


def _banner(report: Report) -> str:
    verdicts = report.thresholds
    failed = report.breaches
    if not verdicts:
        return ('<div class="banner none"><b>NO THRESHOLDS</b><span>Measured only: set --threshold to '
                "gate this run.</span></div>")
    if failed:
        names = ", ".join(escape(v.expression) for v in failed)
        return (f'<div class="banner fail"><b>FAIL</b><span>{len(failed)} of {len(verdicts)} thresholds '
                f"breached: {names}</span></div>")
    return f'<div class="banner pass"><b>PASS</b><span>All {len(verdicts)} thresholds met.</span></div>'


def _summary_table(report: Report) -> str:
    head = ["endpoint", "requests", "records", "req/s (target)", "achieved (ok)", "records/s", "errors",
            *(k for k, _ in PERCENTILES), "max", "mean", "p99 intended", "late/dropped"]
    rows = []
    for name in _active(report):
        e = report.endpoints[name]
        lat = e.latency.service
        target = e.target_requests_per_s
        ratio = e.achieved_ratio
        err_cls = "bad" if e.error_rate > 0.01 else ""
        rows.append([
            f"<b>{escape(name)}</b>", f"{e.requests:,}", f"{e.records:,}",
            f"{e.requests_per_s:,.1f}" + ("" if target is None else f' <span class="dim">({target:,.4g})</span>'),
            f'<span class="{achieved_grade(ratio)}" data-achieved="{escape(name)}">{format_achieved(ratio)}</span>',
            f"{e.records_per_s:,.1f}", f'<span class="{err_cls}">{e.error_rate * 100:.2f}%</span>',
            *(format_ms(lat.value(k)) for k, _ in PERCENTILES), format_ms(lat.max), format_ms(lat.mean),
            format_ms(e.latency.intended.p99), f"{e.late:,} / {e.dropped:,}"])
    return _table(head, rows)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="tbl"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _thresholds_table(report: Report) -> str:
    rows = [[escape(v.expression), escape(describe(v)),
             '<span class="ok">pass</span>' if v.ok else '<span class="bad">breached</span>']
            for v in report.thresholds]
    return _table(["threshold", "actual", "verdict"], rows) if rows else ""


def _rates(targets: Mapping[str, Target]) -> str:
    parts = []
    for name, value in targets.items():
        shown = (", ".join(f"{v:.4g} {k.replace('_per_s', '/s')}" for k, v in value.items())
                 if isinstance(value, Mapping) else value)
        parts.append(f"{name} {shown}")
    return "; ".join(parts)


def _stages(stages: Sequence[Stage]) -> str:
    """``loadgen run --stages`` as people wrote them: ramp to each rate over each duration."""
    return ", ".join(f"{s.duration_s:g} s → {s.rate:g}/s" for s in stages) or "constant rate"


def _environment(report: Report) -> str:
    run, env = report.run, report.environment
    versions = ", ".join(f"{k} {v}" for k, v in env.versions.items() if v)
    items: list[tuple[str, object]] = [
        ("Run id", run.run_id), ("Scenario", run.scenario), ("Target host", run.host),
        ("Started → ended", f"{run.started_at} → {run.ended_at}"),
        ("Duration", f"{run.duration_s if run.duration_s is not None else '–'} s planned, "
                     f"{run.elapsed_s:.1f} s measured"),
        ("Warm-up", f"first {run.warmup_s:g} s: drawn (shaded), left out of the summary and gates"
                    if run.warmup_s else "none"),
        ("Store size", "not counted" if run.store_records is None else f"{run.store_records:,} records stored "
                                                                      "when the measured phase began"),
        ("Target rates (mean)", _rates(run.targets)), ("Stages", _stages(run.stages)),
        ("Profile", run.profile), ("Seed", run.seed),
        ("Schema fingerprint", run.schema_fingerprint), ("Versions", versions),
        ("Platform", env.platform)]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v if v not in (None, '') else '–'))}</dd>"
                            for k, v in items) + "</dl>"


def _cpu(report: Report) -> str:
    cpu = report.load_generator.workers_cpu
    items = [(f"worker {k}", v, "#ef4444" if v > 90 else "#64748b") for k, v in sorted(cpu.items())]
    return hbars(items, title="Load generator CPU", unit="%", limit=90.0) if items else (
        '<p class="sub">No CPU figures were recorded for the load generator.</p>')


def render(report: Report) -> str:
    """The whole page as a string."""
    run, summary = report.run, report.summary
    busiest = max(report.endpoints, key=lambda n: (n == CREATE.name, report.endpoints[n].requests))
    main_lat = report.endpoints[busiest].latency
    achieved = report.achieved_ratio
    kpis = "".join([
        _kpi("Requests", f"{summary.requests:,}", f"{summary.requests_per_s:,.1f}/s", key="requests"),
        _kpi("Records created", f"{summary.records:,}", f"{summary.records_per_s:,.1f}/s", key="records"),
        _kpi("Error rate", f"{summary.error_rate * 100:.2f}%", f"{summary.failed:,} failed", key="error_rate",
             grade="bad" if summary.error_rate > 0.01 else ""),
        _kpi(f"{busiest} p95", format_ms(main_lat.service.p95), f"p50 {format_ms(main_lat.service.p50)}"),
        _kpi(f"{busiest} p99", format_ms(main_lat.service.p99),
             f"{format_ms(main_lat.intended.p99)} from intended start"),
        _kpi("Achieved vs target", format_achieved(achieved),
             f"successful work · {summary.late:,} late · {summary.dropped:,} dropped", key="achieved",
             grade=achieved_grade(achieved)),
    ])
    warnings = "".join(f'<div class="warn">⚠ {escape(w)}</div>' for w in report.warnings)
    throughput, records = _throughput_cards(report)
    errors_time, errors_total = error_charts(report)
    lat_cards = "".join(_card(f"{n}: latency", _latency_note(report, n), latency_chart(report, n))
                        for n in _active(report) if report.endpoints[n].requests)
    if run.store_records is not None and (chart := store_chart(report, busiest)):
        lat_cards += _card("Latency by store size", f"{run.store_records:,} records stored at the start, plus "
                           "those created since", chart)
    thresholds = _thresholds_table(report)
    title = f"Load test report · {run.scenario or 'run'} · {run.run_id}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head><body><main>
<header><div><div class="brand">capture-loadgen</div><h1>Load test report: {escape(run.scenario or 'run')}</h1>
<div class="sub">Run <b>{escape(run.run_id)}</b> against {escape(run.host or 'unknown host')} ·
{escape(run.started_at)} → {escape(run.ended_at)}</div></div>
<div class="sub">report schema v{SCHEMA_VERSION}</div></header>
{_banner(report)}{warnings}
<div class="kpis">{kpis}</div>
{'<h2>Thresholds</h2>' + thresholds if thresholds else ''}
<h2>Summary by endpoint</h2>{_summary_table(report)}
<p class="sub">Latencies are service times (HDR histograms, 3 significant figures) unless marked
<i>intended</i>: measured from the moment the request was scheduled, which exposes coordinated omission.</p>
<h2>Throughput</h2><div class="grid">{throughput}{records}</div>
<h2>Latency</h2><div class="grid">{lat_cards}
{_card("Latency distribution", "by percentile (HDR); dashed: from the intended start", distribution_chart(report))}
</div>
<h2>Errors</h2><div class="grid">
{_card("Errors per second", "stacked by failure label, all endpoints", errors_time)}
{_card("Errors in total", "by endpoint and failure label", errors_total)}</div>
<h2>Load generator and environment</h2><div class="grid">
{_card("Requests in flight and late or dropped arrivals", "peak in flight per second against the users (dashed); "
       "drops with every user busy point at --users", load_chart(report))}
{_card("Load generator CPU per worker", "above 90% the generator itself limits the results", _cpu(report))}
{_card("Environment", "", _environment(report))}</div>
<footer>Generated by capture-loadgen {escape(report.environment.versions.get('tool') or '')} at
{escape(report.generated_at)}. Rebuild with <code>loadgen report RUN_DIR</code>.</footer>
</main></body></html>
"""


def write(report: Report, run_dir: Path) -> Path:
    path = run_dir / REPORT_HTML
    path.write_text(render(report), encoding="utf-8")
    return path

"""Hand-drawn inline SVG charts: the report must open offline, in a mail attachment, years later.

Each function returns one ``<svg>`` element sized by ``viewBox`` (it scales to its container) with
axes, gridlines, axis labels and a legend. Hover details use SVG ``<title>`` (native tooltips, no JS).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

FONT = "system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
AXIS = "#9aa4b2"
GRID = "#e6e9ef"
TEXT = "#4a5568"
PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16")


@dataclass(frozen=True, slots=True)
class Series:
    """One named line or bar stack; ``None`` values leave a gap."""

    name: str
    values: Sequence[float | None]
    color: str
    dashed: bool = False
    width: float = 2.0


@dataclass(frozen=True, slots=True)
class _Frame:
    width: int
    height: int
    left: int = 58
    right: int = 16
    top: int = 34
    bottom: int = 42

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5, 5 x 10^k steps)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def fmt_number(value: float) -> str:
    """Short axis label: 1.5k, 250, 0.25."""
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def _text(x: float, y: float, label: str, *, anchor: str = "middle", size: int = 11, color: str = TEXT,
          weight: str = "normal", rotate: bool = False) -> str:
    transform = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{color}" '
            f'font-weight="{weight}"{transform}>{escape(label)}</text>')


def _open(frame: _Frame, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
            f'role="img" aria-label="{escape(title)}" font-family="{FONT}" class="chart">',
            f"<title>{escape(title)}</title>"]


def _legend_layout(series: Sequence[Series], width: int, left: int) -> list[tuple[float, float]]:
    """Position of each legend entry, wrapping onto new rows when the line is full."""
    places, x, y = [], float(left), 14.0
    for s in series:
        size = 30 + 6.2 * len(s.name)
        if x + size > width - 8 and x > left:
            x, y = float(left), y + 17
        places.append((x, y))
        x += size
    return places


def _frame(series: Sequence[Series], width: int, height: int) -> _Frame:
    rows = len({y for _, y in _legend_layout(series, width, 58)}) or 1
    return _Frame(width, height + 17 * (rows - 1), top=34 + 17 * (rows - 1))


def _legend(frame: _Frame, series: Sequence[Series]) -> list[str]:
    out = []
    for s, (x, y) in zip(series, _legend_layout(series, frame.width, frame.left), strict=True):
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        out.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 16:.1f}" y2="{y:.1f}" stroke="{s.color}" '
                   f'stroke-width="3"{dash}/>')
        out.append(_text(x + 21, y + 4, s.name, anchor="start"))
    return out


def log_ticks(low: float, high: float) -> list[float]:
    """Ticks of a log axis: 1-2-5 steps per decade for short ranges, decades for long ones."""
    lo_exp = math.floor(math.log10(max(low, 1e-3)))
    hi_exp = math.ceil(math.log10(max(high, low * 10, 1e-3)))
    steps = (1, 2, 5) if hi_exp - lo_exp <= 3 else (1,)
    ticks = [m * 10.0**e for e in range(lo_exp, hi_exp + 1) for m in steps]
    first = max([t for t in ticks if t <= low], default=ticks[0])
    last = min([t for t in ticks if t >= high], default=ticks[-1])
    return [round(t, 6) for t in ticks if first <= t <= last]


def _y_axis(frame: _Frame, ticks: Sequence[float], scale: Callable[[float], float], label: str,
            fmt: Callable[[float], str]) -> list[str]:
    out = []
    for tick in ticks:
        y = scale(tick)
        out.append(f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.width - frame.right}" y2="{y:.1f}" '
                   f'stroke="{GRID}"/>')
        out.append(_text(frame.left - 7, y + 4, fmt(tick), anchor="end", size=10))
    out.append(_text(14, frame.top + frame.plot_h / 2, label, rotate=True))
    return out


def _x_axis(frame: _Frame, ticks: Sequence[float], scale: Callable[[float], float], label: str,
            fmt: Callable[[float], str]) -> list[str]:
    base = frame.top + frame.plot_h
    out = [f'<line x1="{frame.left}" y1="{base}" x2="{frame.width - frame.right}" y2="{base}" stroke="{AXIS}"/>']
    for tick in ticks:
        x = scale(tick)
        out.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="{AXIS}"/>')
        out.append(_text(x, base + 16, fmt(tick), size=10))
    out.append(_text(frame.left + frame.plot_w / 2, frame.height - 6, label))
    return out


def _empty(frame: _Frame, title: str, message: str) -> str:
    return "".join([*_open(frame, title), _text(frame.width / 2, frame.height / 2, message, color=AXIS),
                    "</svg>"])


def _y_scale(frame: _Frame, values: Sequence[float], log_y: bool) -> tuple[list[float], Callable[[float], float]]:
    """Ticks and the value -> pixel function of a linear (from 0) or log y axis."""
    ticks = log_ticks(min(values), max(values)) if log_y else nice_ticks(0, max(values) * 1.05 or 1)
    lo, hi = (math.log10(ticks[0]), math.log10(ticks[-1])) if log_y else (0.0, ticks[-1])

    def sy(v: float) -> float:
        pos = math.log10(max(v, ticks[0])) if log_y else v
        return frame.top + frame.plot_h - (pos - lo) / ((hi - lo) or 1) * frame.plot_h

    return ticks, sy


def line_chart(x: Sequence[float], series: Sequence[Series], *, title: str, y_label: str,
               x_label: str = "elapsed time (s)", width: int = 600, height: int = 260,
               y_fmt: Callable[[float], str] = fmt_number, log_y: bool = False, shade_to: float = 0.0) -> str:
    """Lines over a shared x axis (seconds). Gaps where a value is None.

    ``log_y`` suits latency: a stall of a second and a 3 ms median both stay readable. ``shade_to``
    greys the start of the x axis up to that value: a warm-up, drawn but not counted.
    """
    frame = _frame(series, width, height)
    values = [v for s in series for v in s.values if v is not None]
    if log_y:
        values = [v for v in values if v > 0]
    if not x or not values:
        return _empty(frame, title, "no data")
    y_ticks, sy = _y_scale(frame, values, log_y)
    x_ticks = [t for t in nice_ticks(x[0], x[-1], 6) if x[0] <= t <= x[-1]]
    x_span = (x[-1] - x[0]) or 1

    def sx(v: float) -> float:
        return frame.left + (v - x[0]) / x_span * frame.plot_w

    out = _open(frame, title) + _y_axis(frame, y_ticks, sy, y_label, y_fmt) + _x_axis(
        frame, x_ticks, sx, x_label, fmt_number)
    if shade_to > x[0]:
        right = sx(min(shade_to, x[-1]))
        out.append(f'<rect x="{frame.left}" y="{frame.top}" width="{right - frame.left:.1f}" height="{frame.plot_h}" '
                   f'fill="#9ca3af" fill-opacity="0.18"><title>warm-up (not counted)</title></rect>')
        out.append(_text(frame.left + 4, frame.top + 12, "warm-up", anchor="start", size=10))
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        for run in _runs(x, s.values):
            points = " ".join(f"{sx(px):.1f},{sy(py):.1f}" for px, py in run)
            out.append(f'<polyline points="{points}" fill="none" stroke="{s.color}" stroke-width="{s.width}" '
                       f'stroke-linejoin="round"{dash}><title>{escape(s.name)}</title></polyline>')
            if run[0] == run[-1]:   # a lone value between gaps: a dot, or it would not show at all
                out.append(_dot(sx(run[0][0]), sy(run[0][1]), s))
    return "".join(out + _legend(frame, series) + ["</svg>"])


def _dot(cx: float, cy: float, s: Series) -> str:
    return (f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{s.width + 1.5:.1f}" fill="{s.color}">'
            f"<title>{escape(s.name)}</title></circle>")


def _runs(x: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = [[]]
    for px, py in zip(x, values, strict=False):
        if py is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((px, py))
    return [r if len(r) > 1 else r * 2 for r in runs if r]


def stacked_bars(x: Sequence[float], series: Sequence[Series], *, title: str, y_label: str,
                 x_label: str = "elapsed time (s)", width: int = 600, height: int = 260) -> str:
    """Stacked bars per x (errors per second by code)."""
    frame = _frame(series, width, height)
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(x))]
    if not x or not series or not any(totals):
        return _empty(frame, title, "no errors")
    y_ticks = nice_ticks(0, max(totals) * 1.05)
    x_span = (x[-1] - x[0]) or 1
    bar_w = max(frame.plot_w / max(len(x), 1) - 0.6, 0.8)

    def sx(v: float) -> float:
        return frame.left + (v - x[0]) / x_span * (frame.plot_w - bar_w)

    def sy(v: float) -> float:
        return frame.top + frame.plot_h - v / y_ticks[-1] * frame.plot_h

    x_ticks = [t for t in nice_ticks(x[0], x[-1], 6) if x[0] <= t <= x[-1]]
    out = _open(frame, title) + _y_axis(frame, y_ticks, sy, y_label, fmt_number) + _x_axis(
        frame, x_ticks, lambda v: sx(v) + bar_w / 2, x_label, fmt_number)
    for i, px in enumerate(x):
        acc = 0.0
        for s in series:
            v = s.values[i] or 0
            if v:
                top, bottom = sy(acc + v), sy(acc)
                out.append(f'<rect x="{sx(px):.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
                           f'height="{bottom - top:.1f}" fill="{s.color}"><title>{fmt_number(px)} s: '
                           f'{escape(s.name)} × {fmt_number(v)}</title></rect>')
                acc += v
    return "".join(out + _legend(frame, series) + ["</svg>"])


def hbars(items: Sequence[tuple[str, float, str]], *, title: str, unit: str = "", width: int = 600,
          row: int = 26, limit: float | None = None) -> str:
    """Horizontal bars with labels (errors in total, CPU per worker); ``limit`` draws a red rule."""
    frame = _Frame(width, 40 + row * max(len(items), 1), left=190, right=70, top=8, bottom=24)
    if not items:
        return _empty(frame, title, "none")
    top = max([v for _, v, _ in items] + ([limit * 1.1] if limit else []))
    ticks = nice_ticks(0, top or 1, 4)

    def sx(v: float) -> float:
        return frame.left + v / ticks[-1] * frame.plot_w

    out = _open(frame, title)
    for tick in ticks:
        out.append(f'<line x1="{sx(tick):.1f}" y1="{frame.top}" x2="{sx(tick):.1f}" '
                   f'y2="{frame.top + frame.plot_h}" stroke="{GRID}"/>')
        out.append(_text(sx(tick), frame.height - 6, fmt_number(tick) + unit, size=10))
    for i, (label, value, color) in enumerate(items):
        y = frame.top + 6 + i * row
        out.append(_text(frame.left - 8, y + row / 2, label, anchor="end"))
        out.append(f'<rect x="{frame.left}" y="{y + 3:.1f}" width="{max(sx(value) - frame.left, 1):.1f}" '
                   f'height="{row - 10}" rx="3" fill="{color}"><title>{escape(label)}: '
                   f'{fmt_number(value)}{unit}</title></rect>')
        out.append(_text(sx(value) + 6, y + row / 2 + 1, f"{fmt_number(value)}{unit}", anchor="start",
                         weight="600"))
    if limit is not None:
        out.append(f'<line x1="{sx(limit):.1f}" y1="{frame.top}" x2="{sx(limit):.1f}" '
                   f'y2="{frame.top + frame.plot_h}" stroke="#ef4444" stroke-dasharray="4 3" stroke-width="1.5"/>')
    return "".join([*out, "</svg>"])


#: Percentile ticks of the latency distribution chart and their labels.
_SPECTRUM_TICKS = ((0.0, "0%"), (90.0, "90%"), (99.0, "99%"), (99.9, "99.9%"), (99.99, "99.99%"))


def percentile_chart(curves: Sequence[tuple[Series, Sequence[float]]], *, title: str, width: int = 600,
                     height: int = 260, y_fmt: Callable[[float], str] = fmt_number, log_y: bool = False) -> str:
    """HDR-style latency distribution: latency by percentile on a log(1/(1-p)) axis.

    Each curve is a Series of latencies with its percentiles (0..100) as a second list; the tail,
    where coordinated omission hides, gets as much room as the median.
    """
    frame = _frame([s for s, _ in curves], width, height)
    values = [v for s, _ in curves for v in s.values if v is not None and (v > 0 or not log_y)]
    if not values:
        return _empty(frame, title, "no data")
    top_p = max(p for _, ps in curves for p in ps)
    x_max = math.log10(1 / (1 - min(top_p, 99.99) / 100)) or 1
    y_ticks, sy = _y_scale(frame, values, log_y)

    def sx(p: float) -> float:
        return frame.left + math.log10(1 / (1 - min(p, 99.99) / 100)) / x_max * frame.plot_w

    ticks = [(p, label) for p, label in _SPECTRUM_TICKS if p <= min(top_p, 99.99) + 1e-9]
    y_label = "latency (ms, log scale)" if log_y else "latency (ms)"
    out = _open(frame, title) + _y_axis(frame, y_ticks, sy, y_label, y_fmt)
    labels = dict(ticks)
    out += _x_axis(frame, [p for p, _ in ticks], sx, "percentile", lambda p: labels[p])
    for s, ps in curves:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        points = " ".join(f"{sx(p):.1f},{sy(v):.1f}" for p, v in zip(ps, s.values, strict=True) if v is not None)
        out.append(f'<polyline points="{points}" fill="none" stroke="{s.color}" stroke-width="{s.width}"'
                   f'{dash}><title>{escape(s.name)}</title></polyline>')
    return "".join(out + _legend(frame, [s for s, _ in curves]) + ["</svg>"])

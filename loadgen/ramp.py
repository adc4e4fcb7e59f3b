"""The ramp of a run: k6-style stages and the arrival schedule they make, in one place.

``--stages "30s:10,60s:50,10s:0"`` parses to :class:`Stage` values; :class:`Schedule` turns them (or
one constant rate) into the swarm-wide arrival curve; :func:`endpoint_schedule` gives one endpoint's
share of it. The Locust pacers (``loadgen.locust.pacing``), ``loadgen run``'s target rates and the
report's target curves all compute from these, so a run and its report never disagree on what was
planned. Core level: no Locust, no I/O; ``Stage`` is also how ``meta.json`` and ``report.json`` store a stage.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from loadgen._fields import Fields, as_num
from loadgen.errors import UsageError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"30s"``, ``"2m"``, ``"1h30m"``, ``"1m30s"`` or ``"250ms"``."""
    raw = text.strip().lower()
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        if value < 0 or not math.isfinite(value):
            raise UsageError(f"duration must be a finite number of seconds >= 0, got {text!r}")
        return value
    parts = _DURATION_PART.findall(raw)
    if not raw or "".join(num + unit for num, unit in parts) != raw:
        raise UsageError(f"bad duration {text!r}: use e.g. 30s, 2m, 1h30m")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(num) * scale[unit] for num, unit in parts)


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp linearly from the previous stage's rate (0/s at the start) to ``rate`` requests/s of the
    scenario's main endpoint over ``duration_s`` seconds; a stage of duration 0 is a step."""

    duration_s: float
    rate: float

    def to_json(self) -> dict[str, object]:
        return {"duration_s": self.duration_s, "rate": self.rate}

    @classmethod
    def from_json(cls, data: object, where: str) -> Stage:
        o = Fields(data, where)
        return cls(o.get("duration_s", as_num), o.get("rate", as_num))


def parse_stages(text: str) -> tuple[Stage, ...]:
    """``"30s:10,60s:50,30s:50,10s:0"`` -> stages (k6 ramping-arrival-rate, starting from 0/s).

    A stage of duration 0 is a step: ``"0s:200,20s:200"`` is 200/s for exactly 20 seconds.
    """
    stages = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        duration, sep, target = item.partition(":")
        if not sep:
            raise UsageError(f"bad stage {item!r} in --stages: use DURATION:RATE, e.g. 30s:50")
        try:
            rate = float(target)
        except ValueError:
            raise UsageError(f"bad rate {target!r} in --stages stage {item!r}") from None
        if rate < 0 or not math.isfinite(rate):
            raise UsageError(f"rate must be >= 0 in --stages stage {item!r}")
        stages.append(Stage(parse_duration(duration), rate))
    if not stages:
        raise UsageError(f"--stages {text!r} holds no stage")
    return tuple(stages)


class Schedule:
    """The swarm-wide arrival schedule: a piecewise-linear rate, constant when there are no stages.

    ``count(t)`` is the number of arrivals due by ``t`` (the integral of the rate), ``time_of(x)`` its
    inverse, ``total`` the number of arrivals of a finite schedule (``math.inf`` for a constant rate).
    """

    def __init__(self, rate: float = 0.0, stages: Sequence[Stage] = ()) -> None:
        if rate < 0 or not math.isfinite(rate):
            raise UsageError(f"rate must be a finite number >= 0, got {rate!r}")
        self.rate = rate
        self.stages = tuple(stages)
        # segment i: starts at _starts[i] with rate _r0[i] and slope _slope[i], _n0[i] arrivals before it
        self._starts: list[float] = []
        self._r0: list[float] = []
        self._slope: list[float] = []
        self._n0: list[float] = []
        t = n = prev = 0.0
        for stage in self.stages:
            if stage.duration_s > 0:
                self._starts.append(t)
                self._r0.append(prev)
                self._slope.append((stage.rate - prev) / stage.duration_s)
                self._n0.append(n)
                n += (prev + stage.rate) / 2 * stage.duration_s
                t += stage.duration_s
            prev = stage.rate
        self.duration = t if self.stages else math.inf
        self.total = n if self.stages else (0.0 if rate == 0 else math.inf)

    @property
    def mean_rate(self) -> float:
        """Requests/s averaged over the schedule: its constant rate, or its arrivals over its duration."""
        if not self.stages:
            return self.rate
        return self.total / self.duration if self.duration > 0 else 0.0

    def scaled(self, factor: float) -> Schedule:
        """The same shape with every rate multiplied by ``factor`` (another endpoint of the scenario)."""
        return Schedule(self.rate * factor, [Stage(s.duration_s, s.rate * factor) for s in self.stages])

    def rate_at(self, t: float) -> float:
        if not self.stages:
            return self.rate
        if t < 0 or t >= self.duration or not self._starts:
            return 0.0
        i = bisect_right(self._starts, t) - 1
        return self._r0[i] + self._slope[i] * (t - self._starts[i])

    def count(self, t: float) -> float:
        """Arrivals due in ``[0, t]`` (fractional)."""
        if t <= 0:
            return 0.0
        if not self.stages:
            return self.rate * t
        if t >= self.duration:
            return self.total
        i = bisect_right(self._starts, t) - 1
        x = t - self._starts[i]
        return self._n0[i] + self._r0[i] * x + self._slope[i] * x * x / 2

    def arrivals_by(self, t: float) -> int:
        """Arrivals due in ``[0, t]``, whole: arrival ``k`` is due when ``count`` reaches ``k + 0.5`` (the pacers'
        rule), and a finite schedule has those with ``k + 0.5 < total`` (0.6 arrivals of a short ramp are one)."""
        due = math.floor(self.count(t) + 0.5)
        return due if math.isinf(self.total) else min(due, math.ceil(self.total - 0.5))

    def time_of(self, n: float) -> float:
        """When ``count`` reaches ``n``; ``math.inf`` if it never does."""
        if n >= self.total:
            return math.inf
        if n <= 0:
            return 0.0
        if not self.stages:
            return n / self.rate
        i = bisect_right(self._n0, n) - 1
        m = n - self._n0[i]
        r0, a = self._r0[i], self._slope[i]
        # solve r0*x + a*x^2/2 = m in its cancellation-free form
        root = math.sqrt(max(r0 * r0 + 2 * a * m, 0.0))
        denom = r0 + root
        return self._starts[i] + (2 * m / denom if denom > 0 else 0.0)


def endpoint_schedule(rate: float, stages: Sequence[Stage], main_rate: float) -> Schedule:
    """The schedule of one endpoint: ``stages`` are in requests/s of the scenario's main endpoint.

    An endpoint at ``rate`` next to a main endpoint at ``main_rate`` follows the same shape scaled by
    their ratio; with no main rate it runs at ``rate`` for the stages' whole duration.
    """
    if not stages:
        return Schedule(rate)
    shape = Schedule(0.0, stages)
    if main_rate > 0:
        return shape.scaled(rate / main_rate)
    return Schedule(0.0, [Stage(0.0, rate), Stage(shape.duration, rate)])

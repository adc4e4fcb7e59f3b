"""Open-model pacing: arrivals at a target rate, whatever the number of users (what Locust lacks).

Locust is a closed model: each user loops, so the request rate follows the server's speed and a slow
server quietly gets fewer requests (coordinated omission). Here the *schedule* decides when each
request should start. Arrival ``k`` of the whole swarm is due at ``T(k)``, the time at which the
integral of the rate reaches ``k + 0.5``. Worker ``i`` of ``W`` serves arrivals ``i, i+W, i+2W...``,
so the workers' shares interleave and add up to exactly the target, with no coordination at run time.

A user *claims* the next arrival of its process and sleeps until it is due. When every user was busy,
the claim comes late: an arrival due less than ``drop_after`` seconds ago is still served (its latency
counted from the intended start), older ones are *dropped* and counted. Nothing is absorbed silently.

No Locust import: everything here runs on an injected clock and is unit-tested without sleeping.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loadgen.errors import UsageError

#: An arrival claimed more than this many seconds after it was due is dropped, not served.
DROP_AFTER_S = 1.0

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
    """Ramp linearly from the previous target to ``target`` requests/s over ``duration`` seconds."""

    duration: float
    target: float


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
            if stage.duration > 0:
                self._starts.append(t)
                self._r0.append(prev)
                self._slope.append((stage.target - prev) / stage.duration)
                self._n0.append(n)
                n += (prev + stage.target) / 2 * stage.duration
                t += stage.duration
            prev = stage.target
        self.duration = t if self.stages else math.inf
        self.total = n if self.stages else (0.0 if rate == 0 else math.inf)

    def scaled(self, factor: float) -> Schedule:
        """The same shape with every rate multiplied by ``factor`` (another endpoint of the scenario)."""
        return Schedule(self.rate * factor, [Stage(s.duration, s.target * factor) for s in self.stages])

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


@dataclass(frozen=True, slots=True)
class Arrival:
    """A claimed arrival: its swarm-wide index and when it was due (seconds since the pacer started)."""

    index: int
    due: float


class Pacer:
    """Hands out one process's share of a schedule's arrivals to the users that claim them.

    ``worker``/``workers`` select the interleaved share. ``clock`` is injected (``time.monotonic`` in
    Locust, a fake in tests). Not thread-safe: a Locust process is one gevent thread.
    """

    def __init__(self, schedule: Schedule, *, worker: int = 0, workers: int = 1,
                 clock: Callable[[], float], drop_after: float = DROP_AFTER_S) -> None:
        if workers < 1 or not 0 <= worker < workers:
            raise UsageError(f"pacer: worker {worker} is not one of {workers} workers")
        self.schedule = schedule
        self.worker = worker
        self.workers = workers
        self.clock = clock
        self.drop_after = drop_after
        self.origin = clock()
        self.next = 0           # next local arrival number m (global index worker + m*workers)
        self.claimed = 0
        self.dropped = 0
        self.outstanding = 0    # claimed, not yet started or abandoned

    def restart(self) -> None:
        """Count the schedule from now: the time before (spawning users) is set-up, not load."""
        if self.claimed:
            raise UsageError("pacer: cannot restart a schedule whose arrivals were claimed")
        self.origin = self.clock()

    def _index(self, m: int) -> int:
        return self.worker + m * self.workers

    def _due(self, m: int) -> float:
        return self.schedule.time_of(self._index(m) + 0.5)

    def elapsed(self) -> float:
        return self.clock() - self.origin

    def claim(self) -> tuple[Arrival | None, int]:
        """The next arrival to serve and how many were dropped just now; ``None`` once exhausted."""
        now = self.elapsed()
        dropped = 0
        horizon = now - self.drop_after
        if horizon > 0 and self._due(self.next) < horizon:
            # first local arrival still within reach: global index >= count(horizon) - 0.5
            first_global = math.ceil(self.schedule.count(horizon) - 0.5)
            first = max(self.next, math.ceil((first_global - self.worker) / self.workers))
            while first > self.next and self._due(first - 1) >= horizon:
                first -= 1
            while self._due(first) < horizon:
                first += 1
            dropped = first - self.next
            self.next = first
            self.dropped += dropped
        due = self._due(self.next)
        if math.isinf(due):
            return None, dropped
        arrival = Arrival(self._index(self.next), due)
        self.next += 1
        self.claimed += 1
        self.outstanding += 1
        return arrival, dropped

    def next_due(self) -> float:
        """When the next unclaimed arrival is due (``math.inf`` once exhausted); claims nothing."""
        return self._due(self.next)

    def overdue(self) -> int:
        """Arrivals due more than ``drop_after`` ago that nobody claimed (all users busy, or none)."""
        horizon = self.elapsed() - self.drop_after
        if horizon <= 0 or self._due(self.next) >= horizon:
            return 0
        first_global = math.ceil(self.schedule.count(horizon) - 0.5)
        return max(0, math.ceil((first_global - self.worker) / self.workers) - self.next)

    def drop_overdue(self) -> int:
        """Count the :meth:`overdue` arrivals as dropped and skip them (at the end of a run)."""
        n = self.overdue()
        self.next += n
        self.dropped += n
        return n

    @property
    def over(self) -> bool:
        """Nothing left to serve: exhausted, or a finite schedule whose last arrival is past reach."""
        return self.exhausted or self.elapsed() > self.schedule.duration + self.drop_after

    def delay(self, arrival: Arrival) -> float:
        """Seconds to sleep until ``arrival`` is due (0 when it is already late)."""
        return max(0.0, arrival.due - self.elapsed())

    def lateness(self, arrival: Arrival) -> float:
        """Seconds since ``arrival`` was due (negative when early)."""
        return self.elapsed() - arrival.due

    def started(self) -> None:
        """A claimed arrival was sent (or abandoned): it no longer holds the pacer open."""
        self.outstanding = max(0, self.outstanding - 1)

    @property
    def exhausted(self) -> bool:
        """No arrival is left to claim (a finite schedule has ended, or a zero rate)."""
        return math.isinf(self._due(self.next))


def worker_share(total: int, worker: int, workers: int) -> int:
    """Worker ``worker``'s part of ``total`` when ``workers`` split it as evenly as possible."""
    return total // workers + (1 if worker < total % workers else 0)


class RecordBudget:
    """The ``--max-records`` guard of one process: never send more records than may still be created.

    Records are reserved when a request is sent and settled when it answers, so failed records go
    back to the pool and in-flight ones are never double-counted. ``limit=None`` means no limit.
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise UsageError(f"--max-records must be >= 0, got {limit}")
        self.limit = limit
        self.created = 0
        self.in_flight = 0

    def reserve(self, n: int) -> int:
        """How many of ``n`` records may be sent now (0 when the budget is spent)."""
        granted = n if self.limit is None else max(0, min(n, self.limit - self.created - self.in_flight))
        self.in_flight += granted
        return granted

    def settle(self, reserved: int, created: int) -> None:
        self.in_flight -= reserved
        self.created += created

    @property
    def spent(self) -> bool:
        """True once the limit is reached by records actually created."""
        return self.limit is not None and self.created >= self.limit

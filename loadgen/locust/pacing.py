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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from loadgen.errors import UsageError
from loadgen.ramp import Schedule
from loadgen.scenarios import BY_NAME, request_scope

F = TypeVar("F", bound=Callable[..., object])
#: The attribute :func:`paced` sets on a task function.
PACE_ATTRIBUTE = "loadgen_pace"

#: An arrival claimed more than this many seconds after it was due is dropped, not served.
DROP_AFTER_S = 1.0

@dataclass(frozen=True, slots=True)
class Pace:
    """Where a paced task's arrivals come from: its endpoint's pacer, and that pacer's requests/s.

    The rate is ``rate``, else the option ``rate_option`` names (a field of the run's settings, such
    as ``create_rate``), else the option the endpoint registry gives a shipped endpoint.
    """

    endpoint: str
    rate_option: str | None = None
    rate: float | None = None

    def __post_init__(self) -> None:
        if not self.endpoint or not isinstance(self.endpoint, str):
            raise UsageError(f"@paced: the endpoint must be a non-empty name, got {self.endpoint!r}")
        if self.rate is not None and not (0 <= self.rate < math.inf):
            raise UsageError(f"@paced({self.endpoint!r}): rate must be a finite number >= 0, got {self.rate!r}")
        if self.rate is None and self.option is None:
            try:
                request_scope(self.endpoint)       # a near miss of a known endpoint is a typo: say so
            except ValueError as exc:
                raise UsageError(f"@paced({self.endpoint!r}): {exc}") from None
            raise UsageError(f"@paced({self.endpoint!r}): give rate=<requests/s> or rate_option='create_rate'")

    @property
    def option(self) -> str | None:
        known = BY_NAME.get(self.endpoint)
        return self.rate_option or (known.rate_option if known is not None else None)

    def rate_in(self, settings: object) -> float:
        """The requests/s of this pace in a run's settings."""
        if self.rate is not None:
            return self.rate
        value = getattr(settings, self.option or "", None)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise UsageError(f"@paced({self.endpoint!r}): rate_option {self.option!r} is not a rate option")
        return float(value)


def paced(endpoint: str, *, rate_option: str | None = None, rate: float | None = None) -> Callable[[F], F]:
    """Mark a user's method as a paced task: called once per arrival of ``endpoint``'s swarm-wide schedule.

    ``@paced("create")`` follows ``--create-rate`` (and ``--stages``); ``@paced("find", rate=5)`` a
    fixed 5/s; ``rate_option`` names another rate option. Arrivals are served by whichever user
    of the locustfile is free; one that finds none within a second is counted dropped.
    """
    pace = Pace(endpoint, rate_option, rate)

    def mark(function: F) -> F:
        setattr(function, PACE_ATTRIBUTE, pace)
        return function

    return mark


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

"""Locust users for the Capture Entity API: paced tasks and ordinary tasks in one user, reported by body.

A :class:`CaptureUser` is a concurrency slot, like a k6 VU. Its methods marked ``@paced("create")``
run once per arrival of that endpoint's swarm-wide schedule (``--create-rate``, ``--stages``): the
user's ``wait_time`` is the pacer, which claims the earliest due arrival and sleeps until then.
Its ordinary Locust ``@task`` methods run between arrivals, after the class's own ``wait_time``
(Locust's, e.g. ``between(1, 2)``): a paced arrival due before that goes first, so an ordinary task
never takes a paced arrival's turn. An arrival that no user is free for is served late (its latency
counted from the intended start) or, a second late, counted as dropped: never silently lost.

Every task talks to Capture through ``self.capture`` (:mod:`loadgen.locust.capture`). Locustfiles
stay a few lines: they subclass these. Importing this module registers the event hooks.
"""

from __future__ import annotations

import math
import random
import sys
from typing import Any, ClassVar
from urllib.parse import urlsplit

from locust import FastHttpUser, run_single_user
from locust.user.wait_time import constant

from loadgen.errors import UsageError
from loadgen.locust import hooks  # noqa: F401  (importing it registers the listeners)
from loadgen.locust.capture import Capture
from loadgen.locust.pacing import PACE_ATTRIBUTE, Arrival, Pace, paced
from loadgen.locust.poster import FormPoster
from loadgen.locust.state import current_load
from loadgen.scenarios import BULK_CREATE, CREATE

__all__ = ["BulkCreateUser", "CaptureUser", "CreateUser", "ErrorPathUser", "MixedUser", "paced", "run_single"]

#: Arrivals due sooner than this are sent without a timer (see ``CaptureUser.wait_time``).
EARLY_S = 0.002


def _step(user: CaptureUser) -> None:
    """The one Locust task of every Capture user: the claimed arrival, else an ordinary task when due."""
    user.step()


class CaptureUser(FastHttpUser):
    """Base of the Capture users: the pacer, ``self.capture``, and ordinary tasks between arrivals."""

    abstract = True
    network_timeout = 30.0
    connection_timeout = 10.0
    insecure = False            # verify TLS certificates of real domains
    tasks = [_step]  # noqa: RUF012  (Locust reads and rebuilds it per class)
    #: the class's ``@paced`` declarations and their tasks (set for each subclass)
    paces: ClassVar[tuple[Pace, ...]] = ()
    endpoints: ClassVar[tuple[str, ...]] = ()
    paced_tasks: ClassVar[dict[str, Any]] = {}
    #: the class's ordinary ``@task`` methods (Locust's weights kept as repeats), and the wait before each
    unpaced_tasks: ClassVar[list[Any]] = []
    unpaced_wait = constant(0)
    capture: Capture
    _claimed: tuple[str, Arrival] | None = None
    _unpaced_at: float | None = None
    _unpaced_turn = False
    _ready = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Sort the class's tasks: ``@paced`` ones by endpoint, ordinary ones for the gaps between arrivals.

        Locust runs only ``_step``; a ``wait_time`` the class sets becomes the wait of its ordinary tasks.
        """
        super().__init_subclass__(**kwargs)
        found: dict[str, tuple[Pace, Any]] = {}
        for attribute in dir(cls):
            value = getattr(cls, attribute, None)
            pace = getattr(value, PACE_ATTRIBUTE, None)
            if isinstance(pace, Pace):
                if pace.endpoint in found:
                    raise UsageError(f"{cls.__name__}: two @paced({pace.endpoint!r}) tasks; give one another endpoint")
                found[pace.endpoint] = (pace, value)
        cls.paces = tuple(pace for pace, _ in found.values())
        cls.endpoints = tuple(found)
        cls.paced_tasks = {name: task for name, (_, task) in found.items()}
        own = [task for task in cls.tasks if task is not _step]
        if any(isinstance(task, type) for task in own):
            raise UsageError(f"{cls.__name__}: a nested TaskSet cannot share a user with paced tasks")
        if any(hasattr(task, PACE_ATTRIBUTE) for task in own):
            raise UsageError(f"{cls.__name__}: a task is either @paced or a Locust @task, not both")
        cls.unpaced_tasks = own
        cls.tasks = [_step]
        wait = cls.__dict__.get("wait_time")
        if wait is not None and wait is not CaptureUser.wait_time:
            cls.unpaced_wait = wait
            cls.wait_time = CaptureUser.wait_time  # type: ignore[method-assign]

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        current_load().users += 1   # made while spawning: the schedule waits for its on_start too

    def wait_time(self) -> float:
        """The pacer: claim the next due arrival of this user's endpoints and sleep until then.

        With ordinary tasks, only an arrival due before the next ordinary task is claimed; otherwise
        the user sleeps until that task's turn. An arrival due within ``EARLY_S`` is sent at once: at
        high rates a timer per arrival costs more CPU than the request, and a millisecond early
        changes no rate.
        """
        load = current_load()
        if not self._ready:        # the first wait: this user's on_start is over (LoadState.all_ready)
            self._ready = True
            load.ready += 1
        within = math.inf
        if self.unpaced_tasks:
            now = load.clock()
            if self._unpaced_at is None:
                self._unpaced_at = now + self.unpaced_wait()
            within = max(0.0, self._unpaced_at - now)
        endpoint, arrival, delay = load.claim(self.endpoints, within)
        self._claimed = None if arrival is None else (endpoint, arrival)
        if arrival is None and self.unpaced_tasks:
            self._unpaced_turn = True
            delay = within
        return delay if delay > EARLY_S else 0.0

    def step(self) -> None:
        """Serve the claimed arrival with its paced task, else run one ordinary task if its turn came."""
        claimed, self._claimed = self._claimed, None
        load = current_load()
        if load.stopping:          # claimed before the stop began: a request now could be killed unanswered
            return
        if claimed is not None:
            endpoint, arrival = claimed
            load.start(endpoint)
            load.serving += 1
            self.capture.serve(endpoint, arrival)
            try:
                self.paced_tasks[endpoint](self)
            finally:
                load.serving -= 1
                self.capture.arrival = None
                load.check_done()
        elif self._unpaced_turn:   # the first step runs before any wait: nothing is due yet
            self._unpaced_turn = False
            random.choice(self.unpaced_tasks)(self)
            self._unpaced_at = load.clock() + self.unpaced_wait()

    def on_start(self) -> None:
        """One keep-alive connection straight through geventhttpclient (what FastHttpSession wraps).

        The hot path skips the session's URL parsing, cookie jar and response wrappers (about a
        third of a bare FastHttpUser's CPU per request), fills in the request head from a template
        built once per path (``FormPoster``), and reports through ``events.request``.
        """
        host = self.host or ""
        self._http = FormPoster(host, network_timeout=self.network_timeout,
                                connection_timeout=self.connection_timeout)
        self.capture = Capture(self, self._http, urlsplit(host).path.rstrip("/"))

    def on_stop(self) -> None:
        self._http.close()


class CreateUser(CaptureUser):
    """Serves ``--create-rate``: one generated user per arrival."""

    abstract = True

    @paced(CREATE.name)
    def create(self) -> None:
        self.capture.create()


class BulkCreateUser(CaptureUser):
    """Serves ``--bulk-rate``: one batch of ``--bulk-size`` generated users per arrival."""

    abstract = True

    @paced(BULK_CREATE.name)
    def bulk_create(self) -> None:
        self.capture.bulk_create(current_load().settings.bulk_size)


class MixedUser(CreateUser, BulkCreateUser):
    """Serves both rates; any free user takes whichever arrival is due first."""

    abstract = True


class ErrorPathUser(CreateUser):
    """Creates, of which ``--malformed-share`` are bad requests that must get exactly the right error."""

    abstract = True
    #: a share of the create arrivals are ``malformed`` requests: the live view splits the target so
    malformed: ClassVar[bool] = True

    def on_start(self) -> None:
        super().on_start()
        current_load().bad_request(0)  # draw the catalogue at spawn, not in the middle of the run

    @paced(CREATE.name)
    def create(self) -> None:
        load, arrival = current_load(), self.capture.arrival
        if arrival is not None and load.malformed_turn(arrival):
            self.capture.bad_create(load.bad_request(arrival.index))
        else:
            self.capture.create()


def run_single(user_class: type[CaptureUser]) -> None:
    """Locust's ``run_single_user`` (one user in this process, for a debugger), ended by Ctrl-C with exit 130
    and no traceback: Locust lets the KeyboardInterrupt out of whatever request the user was waiting on."""
    try:
        run_single_user(user_class)
    except KeyboardInterrupt:
        sys.exit(130)

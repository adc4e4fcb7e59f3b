"""Locust users for the Capture Entity API: paced arrivals, generated profiles, outcomes by body.

Locustfiles stay a few lines: they subclass these. A user is a concurrency slot, like a k6 VU: its
``wait_time`` is the pacer (it claims the earliest next arrival among its ``endpoints`` and sleeps
until it is due), and its task sends that arrival and reports it through ``events.request`` with a
failure named by the body's error code. Importing this module registers the event hooks.
"""

from __future__ import annotations

import time
from typing import ClassVar
from urllib.parse import urlsplit

from locust import FastHttpUser, task
from locust.contrib.fasthttp import FAILURE_EXCEPTIONS

from loadgen.locust import hooks  # noqa: F401  (importing it registers the listeners)
from loadgen.locust.load_state import BULK, CREATE, MALFORMED, LoadState
from loadgen.locust.outcomes import Outcome, judge_bulk, judge_create, judge_expected_error
from loadgen.locust.pacing import Arrival
from loadgen.locust.poster import FormPoster
from loadgen.locust.state import current_load
from loadgen.wire import dumps_fast

__all__ = ["BulkCreateUser", "CaptureUser", "CreateUser", "ErrorPathUser", "MixedUser"]

#: Arrivals due sooner than this are sent without a timer (see ``CaptureUser.wait_time``).
EARLY_S = 0.002


class CaptureUser(FastHttpUser):
    """Base of the Capture users: pacing, auth headers and body-aware reporting."""

    abstract = True
    endpoints: ClassVar[tuple[str, ...]] = (CREATE, BULK)
    network_timeout = 30.0
    connection_timeout = 10.0
    insecure = False            # verify TLS certificates of real domains
    _claimed: tuple[str, Arrival] | None = None

    def wait_time(self) -> float:
        """The pacer: claim the next due arrival of this user's endpoints and sleep until then.

        An arrival due within ``EARLY_S`` is sent at once: at high rates a timer per arrival costs
        more CPU than the request, and a millisecond early changes no rate.
        """
        endpoint, arrival, delay = current_load().claim(self.endpoints)
        self._claimed = None if arrival is None else (endpoint, arrival)
        return delay if delay > EARLY_S else 0.0

    @task
    def arrive(self) -> None:
        claimed, self._claimed = self._claimed, None
        if claimed is None:         # the first task runs before any claim: nothing to send yet
            return
        endpoint, arrival = claimed
        load = current_load()
        if load.stopping:          # claimed before the stop began: a request now could be killed unanswered
            return
        if endpoint == BULK:
            self.send_bulk(load, arrival)
        else:
            self.send_create(load, arrival)

    def send_create(self, load: LoadState, arrival: Arrival) -> None:
        """``entity.create`` of one generated profile."""
        if not load.begin(CREATE, 1):
            return
        record = load.factory.make()
        status, content, error, elapsed = self._post(load, "/entity.create", "attributes", dumps_fast(record))
        outcome = judge_create(status, content, error)
        self._account(load, CREATE, arrival, 1, outcome, elapsed, content, "create", [load.key_of(record)])

    def send_bulk(self, load: LoadState, arrival: Arrival) -> None:
        """``entity.bulkCreate`` of ``--bulk-size`` profiles; every record's outcome is counted."""
        size = load.begin(BULK, load.settings.bulk_size)
        if not size:
            return
        records = load.factory.batch(size)
        status, content, error, elapsed = self._post(load, "/entity.bulkCreate", "all_attributes",
                                                     dumps_fast(records))
        outcome = judge_bulk(status, content, size, error)
        self._account(load, BULK, arrival, size, outcome, elapsed, content, "bulkCreate",
                      [load.key_of(r) for r in records])

    def on_start(self) -> None:
        """One keep-alive connection straight through geventhttpclient (what FastHttpSession wraps).

        The hot path skips the session's URL parsing, cookie jar and response wrappers (about a
        third of a bare FastHttpUser's CPU per request), fills in the request head from a template
        built once per path (``FormPoster``), and reports through ``events.request``.
        """
        host = self.host or ""
        self._base = urlsplit(host).path.rstrip("/")
        self._http = FormPoster(host, network_timeout=self.network_timeout,
                                connection_timeout=self.connection_timeout)

    def on_stop(self) -> None:
        self._http.close()

    def _post(self, load: LoadState, path: str, field: str, value: str | bytes
              ) -> tuple[int, bytes | None, BaseException | None, float]:
        """POST ``type_name`` and ``field=value``: (status, body, transport error, response time in ms)."""
        body, headers = load.form(path, field, value)
        started = time.perf_counter()
        status, content, error = 0, None, None
        try:
            status, content = self._http.post(self._base + path, body, headers)
        except FAILURE_EXCEPTIONS as exc:
            error = exc
            if not isinstance(exc, ConnectionRefusedError):   # the server may have acted on it, unseen
                load.unanswered += 1
        return status, content, error, (time.perf_counter() - started) * 1000.0

    def _report(self, request_type: str, name: str, response_time: float, length: int,
                failure: str | None) -> None:
        self.environment.events.request.fire(request_type=request_type, name=name, response_time=response_time,
                                             response_length=length, exception=failure, context={})

    def _account(self, load: LoadState, endpoint: str, arrival: Arrival, reserved: int, outcome: Outcome,
                 elapsed: float, content: bytes | None, name: str, keys: list[object],
                 recorded: str | None = None) -> None:
        self._report("POST", name, elapsed, len(content) if content else 0, outcome.failure)
        load.finish(endpoint, reserved, outcome, service_ms=elapsed,
                     intended_ms=load.intended_ms(endpoint, arrival), keys=keys, recorded=recorded)


class CreateUser(CaptureUser):
    """Serves ``--create-rate``: one generated user per arrival."""

    abstract = True
    endpoints = (CREATE,)


class BulkCreateUser(CaptureUser):
    """Serves ``--bulk-rate``: one batch of ``--bulk-size`` generated users per arrival."""

    abstract = True
    endpoints = (BULK,)


class MixedUser(CaptureUser):
    """Serves both rates; any free user takes whichever arrival is due first."""

    abstract = True
    endpoints = (CREATE, BULK)


class ErrorPathUser(CreateUser):
    """Creates, of which ``--malformed-share`` are bad requests that must get exactly the right error."""

    abstract = True

    def on_start(self) -> None:
        super().on_start()
        current_load().bad_request(0)  # draw the catalogue at spawn, not in the middle of the run

    def send_create(self, load: LoadState, arrival: Arrival) -> None:
        if not load.malformed_turn(arrival):
            super().send_create(load, arrival)
            return
        bad = load.bad_request(arrival.index)  # before begin(): a failure here must not strand a reservation
        if not load.begin(CREATE, 1):
            return
        status, content, error, elapsed = self._post(load, "/entity.create", "attributes", bad.attributes)
        outcome = judge_expected_error(status, content, bad.expected, error)
        self._account(load, CREATE, arrival, 1, outcome, elapsed, content, "malformed", [None], recorded=MALFORMED)

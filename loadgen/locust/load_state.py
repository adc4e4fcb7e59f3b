"""What one load-generating process holds for a run: pacers, budget, recorder, ledger, factories, auth.

Built at ``test_start`` in every process that runs users (the local runner or each worker), which is
after ``--processes`` forked: the profile factory is seeded from ``(seed, run_id, worker index)`` so
no two workers ever make the same user. Nothing here imports Locust; ``hooks.py`` wires it to
Locust's events and ``users.py`` calls it from the users.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loadgen import wire
from loadgen.auth import credentials
from loadgen.errors import UsageError
from loadgen.ledger import Ledger
from loadgen.locust.bad_requests import BadRequest, bad_requests
from loadgen.locust.options import Settings
from loadgen.locust.outcomes import Outcome
from loadgen.locust.pacing import Arrival, Pacer, RecordBudget, Schedule, endpoint_schedule, worker_share
from loadgen.report.recorder import Recorder

CREATE, BULK, MALFORMED = "create", "bulkCreate", "malformed"
_FORM = "application/x-www-form-urlencoded"
_GOLDEN = 0.6180339887498949


def identity_key(schema: Any) -> str | None:
    """``email`` when the type has a unique email, else its first unique top-level string, else None."""
    candidates = [a for a in schema.unique if a.type == "string"]
    return next((a.name for a in candidates if a.name == "email"), candidates[0].name if candidates else None)


def load_schema_for(settings: Settings) -> Any:
    from loadgen.schema import default_schema, load_schema

    return load_schema(settings.schema) if settings.schema else default_schema()


def make_factory(settings: Settings, schema: Any, worker: int) -> Any:
    """A profile factory whose random stream belongs to this run and worker alone."""
    from loadgen.profiles import ProfileFactory, load_profile

    profile = load_profile(settings.profile or None)
    return ProfileFactory(schema, profile, seed=settings.seed, run_id=settings.run_id or "local",
                          worker=worker)


def schedules_of(settings: Settings, endpoints: Iterable[str]) -> dict[str, Schedule]:
    """The swarm-wide arrival schedule of each paced endpoint a locustfile drives (its rate option, shaped by
    ``--stages``, which are in requests/s of the main endpoint: create when driven, else bulkCreate)."""
    wanted = set(endpoints)
    main = settings.create_rate if CREATE in wanted else settings.bulk_rate
    rates = {CREATE: settings.create_rate, BULK: settings.bulk_rate}
    return {name: endpoint_schedule(rates[name], settings.stages, main) for name in (CREATE, BULK) if name in wanted}


class LoadState:
    """The per-process run state. Not thread-safe by design: one gevent thread drives it."""

    def __init__(self, settings: Settings, *, endpoints: Iterable[str], worker: int, workers: int,
                 clock: Callable[[], float] = time.monotonic, factory: Any = None, schema: Any = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.worker = worker
        self.workers = max(1, workers)
        self.clock = clock
        client_id, secret = credentials(env=env)
        self._signer = wire.Signer(client_id, secret)
        self._basic_headers = {"Authorization": wire.basic_authorization(client_id, secret), "Content-Type": _FORM}
        self.signed = settings.capture_auth == "signed"   # headers change per request
        self._form_head = b"type_name=" + wire.form_escape_lean(settings.type_name.encode("utf-8")) + b"&"
        self.schema = schema if schema is not None else load_schema_for(settings)
        self.factory = factory if factory is not None else make_factory(settings, self.schema, worker)
        self.pacers = {name: Pacer(schedule, worker=worker % self.workers, workers=self.workers, clock=clock)
                       for name, schedule in schedules_of(settings, endpoints).items()}
        # no pacer can run out: the end-of-run check after each request need not ask them
        self._endless = bool(self.pacers) and all(math.isinf(p.schedule.total) for p in self.pacers.values())
        limit = settings.max_records
        self.budget = RecordBudget(None if limit is None else worker_share(limit, worker % self.workers, self.workers))
        self.recorder = Recorder()
        #: the unique attribute each ledger line records, so clean-up can tell our record from another
        self.key = identity_key(self.schema)
        self.ledger = Ledger(settings.ledger_path, worker, type_name=settings.type_name, key=self.key)
        self.in_flight = 0
        #: requests whose answer never came (transport error, or still in flight when the users were
        #: stopped): records they may have created are not in the ledger
        self.unanswered = 0
        #: set when the run is quitting (Ctrl-C): no new arrivals are claimed
        self.stopping = False
        self.dropped: Counter[str] = Counter()
        self.records = 0
        #: failed records of batches by label, per endpoint (a bulkCreate request fails as a whole by its worst)
        self.record_failures: dict[str, Counter[str]] = {}
        self._bad: list[BadRequest] | None = None
        self.on_done: Callable[[str], None] | None = None
        self.done_reason: str | None = None
        self._cpu0 = time.process_time()
        self._wall0 = time.monotonic()

    def __repr__(self) -> str:
        return f"<LoadState worker {self.worker}/{self.workers} run {self.settings.run_id!r}>"

    # -- requests -----------------------------------------------------------------------------------

    def key_of(self, record: dict[str, Any]) -> object:
        """The value of the ledgered unique attribute in a generated record (None when the type has none)."""
        return None if self.key is None else record.get(self.key)

    def form(self, path: str, field: str, value: str | bytes) -> tuple[bytes, dict[str, str]]:
        """Body and headers of a POST of ``type_name`` and ``field=value`` (a JSON text or its UTF-8).

        The body is escaped the lean way (``wire.form_escape_lean``); the headers are signed per
        request, or the one precomputed Basic set, which is never mutated.
        """
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        body = self._form_head + field.encode("ascii") + b"=" + wire.form_escape_lean(raw)
        if self.signed:
            text = value if isinstance(value, str) else value.decode("utf-8")
            params = {"type_name": self.settings.type_name, field: text}
            headers = self._signer.headers(path, params)
            headers["Content-Type"] = _FORM
            return body, headers
        return body, self._basic_headers

    def claim(self, endpoints: Iterable[str]) -> tuple[str, Arrival | None, float]:
        """The earliest next arrival among ``endpoints``: (endpoint, arrival, seconds until due).

        Any free user serves whichever endpoint is due first, so every worker serves all of its
        shares whatever Locust's dispatch of user classes. Dropped arrivals are counted on the way.
        """
        if self.stopping:
            return "", None, 1.0
        found: Pacer | None = None
        endpoint, soonest = "", math.inf
        for name in endpoints:       # a loop, not min() over a list: this runs once per request
            candidate = self.pacers.get(name)
            if candidate is not None and ((due := candidate.next_due()) < soonest or found is None):
                found, endpoint, soonest = candidate, name, due
        if found is None:
            return "", None, 3600.0
        pacer = found
        arrival, dropped = pacer.claim()
        if dropped:
            self._dropped(endpoint, dropped)
        if arrival is None:
            self.check_done()
            return endpoint, None, 1.0
        return endpoint, arrival, pacer.delay(arrival)

    def _dropped(self, endpoint: str, n: int) -> None:
        self.dropped[endpoint] += n
        self.recorder.record_dropped(endpoint, n)

    def begin(self, endpoint: str, records: int) -> int:
        """Start one claimed arrival: how many of ``records`` the ``--max-records`` budget allows."""
        pacer = self.pacers.get(endpoint)
        if pacer is not None:
            pacer.started()
        granted = self.budget.reserve(records)
        if granted:
            self.in_flight += 1
        else:
            self.check_done()
        return granted

    def bad_request(self, index: int) -> BadRequest:
        """The ``index``-th bad request of this worker's catalogue (drawn once, then cycled)."""
        if self._bad is None:
            self._bad = bad_requests(self.schema, seed=self.settings.seed + self.worker)
        return self._bad[index % len(self._bad)]

    def malformed_turn(self, arrival: Arrival) -> bool:
        """Whether this arrival is one of the ``--malformed-share``: exact over any run, no RNG state."""
        return (arrival.index * _GOLDEN) % 1.0 < self.settings.malformed_share

    def intended_ms(self, endpoint: str, arrival: Arrival) -> float:
        pacer = self.pacers[endpoint]
        return max(0.0, pacer.lateness(arrival)) * 1000.0

    def finish(self, endpoint: str, reserved: int, outcome: Outcome, *, service_ms: float,
               intended_ms: float, keys: list[object] | None = None, recorded: str | None = None) -> None:
        """Account one answered request: budget, recorder, ledger, and the end-of-run check."""
        self.in_flight -= 1
        created = len(outcome.created)
        self.budget.settle(reserved, created)
        self.records += created
        if outcome.record_failures:
            self.record_failures.setdefault(recorded or endpoint, Counter()).update(outcome.record_failures)
        self.recorder.record(recorded or endpoint, service_ms=service_ms, intended_ms=intended_ms,
                             failure=outcome.failure, records=created)
        keys = keys or []
        for rec in outcome.created:
            self.ledger.add(rec.uuid, rec.id, keys[rec.slot] if rec.slot < len(keys) else None)
        self.check_done()

    # -- the end of a run ------------------------------------------------------------------------

    def check_done(self) -> None:
        """Signal once when this process has nothing left to send (schedule over or budget spent)."""
        if self.done_reason is not None or self.in_flight:
            return
        if self.budget.spent:
            reason = f"--max-records reached ({self.budget.created} records by worker {self.worker})"
        elif self._endless:
            return
        elif self.pacers and all(p.over and not p.outstanding for p in self.pacers.values()):
            reason = "the last stage ended"
        else:
            return
        self.done_reason = reason
        self.ledger.flush()
        if self.on_done is not None:
            self.on_done(reason)

    def cpu_percent(self) -> float:
        wall = time.monotonic() - self._wall0
        return 100.0 * (time.process_time() - self._cpu0) / wall if wall > 0 else 0.0

    def settle_overdue(self) -> None:
        """Count arrivals nobody claimed in time as dropped (too few users, or none on this worker)."""
        for name, pacer in self.pacers.items():
            if n := pacer.drop_overdue():
                self._dropped(name, n)

    def abandon_in_flight(self) -> None:
        """Once the users are stopped, a request still counted in flight was killed before its answer came."""
        self.unanswered += self.in_flight
        self.in_flight = 0

    def report(self) -> dict[str, Any]:
        """The delta a worker sends to the master with each stats report (recorder reset after).

        Once the test is stopping, its overdue arrivals were settled at ``test_stop``: the schedule's
        clock runs on while a stopped test waits in the web UI, and its arrivals are nobody's drops.
        """
        if not self.stopping:
            self.settle_overdue()
        self.check_done()
        self.ledger.flush()
        return {"worker": self.worker, "recorder": self.recorder.snapshot(reset=True),
                "records": self.records, "dropped": dict(self.dropped), "cpu": round(self.cpu_percent(), 1),
                "unanswered": self.unanswered,
                "done": self.done_reason}

    def close(self) -> None:
        self.ledger.close()


def endpoints_of(user_classes: Iterable[type]) -> set[str]:
    """The endpoints a locustfile's user classes drive (their ``endpoints`` class attribute)."""
    found = {e for cls in user_classes for e in getattr(cls, "endpoints", ()) if isinstance(e, str)}
    if not found:
        raise UsageError("no Capture user class in this locustfile (expected CreateUser, BulkCreateUser...)")
    return found

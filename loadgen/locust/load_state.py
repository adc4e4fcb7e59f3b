"""What one load-generating process holds for a run: pacers, budget, recorder, ledger, factories, auth.

Built at ``test_start`` in every process that runs users (the local runner or each worker), which is
after ``--processes`` forked: the profile factory is seeded from ``(seed, run_id, worker index)`` so
no two workers ever make the same user. Nothing here imports Locust; ``hooks.py`` wires it to
Locust's events, and the users reach it through ``capture.py`` (``self.capture``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from loadgen import signing, wire
from loadgen.auth import credentials
from loadgen.errors import UsageError
from loadgen.failures import Expected, Failure, FirstExamples
from loadgen.ledger import Ledger, identity_key
from loadgen.locust.bad_requests import BadRequest, bad_requests, corpus_requests
from loadgen.locust.options import Settings
from loadgen.locust.outcomes import Outcome
from loadgen.locust.pacing import Arrival, Pace, Pacer, RecordBudget, worker_share
from loadgen.ramp import Schedule
from loadgen.report.recorder import Recorder
from loadgen.runfolder import FAILURES
from loadgen.scenarios import CREATE, paced_schedules

if TYPE_CHECKING:
    from loadgen.profiles import Profile

_FORM = "application/x-www-form-urlencoded"
_GOLDEN = 0.6180339887498949
#: Profiles made, written and escaped at a time for the creates (:meth:`LoadState.fresh_create`): enough
#: for the builder to run warm, few enough that making them (0.5-1 ms, README: Speed) holds no other
#: user's answer long.
CREATE_CHUNK = 32
#: How often a user spawned before the schedule started looks again (its first arrival is at most this late).
HOLD_S = 0.02


def load_schema_for(settings: Settings) -> Any:
    from loadgen.schema import default_schema, load_schema

    return load_schema(settings.schema) if settings.schema else default_schema()


def make_factory(settings: Settings, schema: Any, worker: int, profile: Profile) -> Any:
    """A profile factory whose random stream belongs to this run and worker alone."""
    from loadgen.profiles import ProfileFactory

    return ProfileFactory(schema, profile, seed=settings.seed, run_id=settings.run_id or "local",
                          worker=worker)


def schedules_of(settings: Settings, endpoints: Iterable[Pace | str]) -> dict[str, Schedule]:
    """The swarm-wide arrival schedule of each paced endpoint a locustfile drives (its rate, shaped by
    ``--stages``): the pacers and the live view's targets read the same one."""
    paces = [p if isinstance(p, Pace) else Pace(p) for p in endpoints]
    rates = {pace.endpoint: pace.rate_in(settings) for pace in paces}
    return paced_schedules(rates, settings.stages, _stages_rate(settings, rates))


def _stages_rate(settings: Settings, rates: Mapping[str, float]) -> float | None:
    """The rate of the endpoint ``--stages`` are written in (``--stages-in``), when it is set: ``loadgen run``
    writes them in its scenario's main endpoint, which a locustfile of one's own need not pace at all."""
    if not settings.stages_in:
        return None
    if settings.stages_in in rates:
        return rates[settings.stages_in]
    return Pace(settings.stages_in).rate_in(settings)


class LoadState:
    """The per-process run state. Not thread-safe by design: one gevent thread drives it."""

    def __init__(self, settings: Settings, *, endpoints: Iterable[Pace | str], worker: int, workers: int,
                 clock: Callable[[], float] = time.monotonic, factory: Any = None, schema: Any = None,
                 env: Mapping[str, str] | None = None, held: bool = False) -> None:
        self.settings = settings
        self.worker = worker
        self.workers = max(1, workers)
        self.clock = clock
        found = credentials(env=env)
        client_id, secret = found.client_id, found.secret.reveal()
        self._signer = signing.Signer(client_id, secret)
        self._basic_headers = {"Authorization": signing.basic_authorization(client_id, secret), "Content-Type": _FORM}
        self.signed = settings.capture_auth == "signed"   # headers change per request
        self._type_param = (("type_name", settings.type_name),)
        # legacy: the credentials ride in the form body, as the client's LegacyParamAuth sends them
        self._legacy_tail = (b"&" + wire.encode_form({"client_id": client_id, "client_secret": secret})
                             if settings.capture_auth == "legacy" else b"")
        if self._legacy_tail:
            self._basic_headers = {"Content-Type": _FORM}
        self._form_head = b"type_name=" + wire.form_escape_lean(settings.type_name.encode("utf-8")) + b"&"
        #: generated profiles not yet sent, with their JSON and its escaped text (see :meth:`fresh_create`)
        self._fresh: list[tuple[dict[str, Any], bytes, bytes]] = []
        self.schema = schema if schema is not None else load_schema_for(settings)
        if factory is None:
            from loadgen.profiles import load_profile

            factory = make_factory(settings, self.schema, worker, load_profile(settings.profile or None))
        self.factory = factory
        self.pacers = {name: Pacer(schedule, worker=worker % self.workers, workers=self.workers, clock=clock)
                       for name, schedule in schedules_of(settings, endpoints).items()}
        # no pacer can run out: the end-of-run check after each request need not ask them
        self._endless = bool(self.pacers) and all(math.isinf(p.schedule.total) for p in self.pacers.values())
        #: with no paced task, the run still ends with its last stage (``loadgen run`` always gives stages)
        self._unpaced_end = (None if self.pacers or not settings.stages
                             else clock() + Schedule(0.0, settings.stages).duration)
        limit = settings.max_records
        self.budget = RecordBudget(None if limit is None else worker_share(limit, worker % self.workers, self.workers))
        self.recorder = Recorder(source=str(worker))
        if not held:   # else start_schedule: a held worker's stats reports must not carry its set-up's time
            self._schedule_from_now()
        #: the unique attribute each ledger line records, so clean-up can tell our record from another
        self.key = identity_key(self.schema)
        self.ledger = Ledger(settings.ledger_path, worker, type_name=settings.type_name, key=self.key)
        self.in_flight = 0
        #: paced tasks running now (one may send several requests, with none in flight between them)
        self.serving = 0
        #: requests whose answer never came (transport error, or still in flight when the users were
        #: stopped): records they may have created are not in the ledger
        self.unanswered = 0
        #: set when the run is quitting (Ctrl-C): no new arrivals are claimed
        self.stopping = False
        #: set until :meth:`start_schedule`: users spawned first wait for the others, so the schedule's
        #: first second is not served by a fraction of the swarm
        self.held = held
        #: Capture users made in this process, and those past their ``on_start`` (see :meth:`all_ready`)
        self.users = 0
        self.ready = 0
        self.dropped: Counter[str] = Counter()
        self.records = 0
        #: failed records of batches by label, per endpoint (a bulkCreate request fails as a whole by its worst)
        self.record_failures: dict[str, Counter[str]] = {}
        self._bad: list[BadRequest] | None = None
        #: the first examples of each failure label, for the run folder's failures.jsonl
        self.failures = FirstExamples()
        self.on_done: Callable[[str], None] | None = None
        self.done_reason: str | None = None
        self._cpu0 = time.process_time()
        self._wall0 = time.monotonic()

    def __repr__(self) -> str:
        return f"<LoadState worker {self.worker}/{self.workers} run {self.settings.run_id!r}>"

    # -- requests -----------------------------------------------------------------------------------

    def key_of(self, record: Mapping[str, Any]) -> object:
        """The value of the ledgered unique attribute in a generated record (None when the type has none)."""
        return None if self.key is None else record.get(self.key)

    def form(self, path: str, field: str, value: str | bytes) -> tuple[bytes, dict[str, str]]:
        """Body and headers of a POST of ``type_name`` and ``field=value`` (a JSON text or its UTF-8).

        The body is escaped the lean way (``wire.form_escape_lean``); the headers are signed per
        request, or the one precomputed Basic set, which is never mutated.
        """
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        return self._form(path, field, raw, wire.form_escape_lean(raw))

    def fresh_create(self) -> tuple[dict[str, Any], bytes, dict[str, str]]:
        """The next profile of the run's factory for an ``entity.create``, with its body and headers (as
        :meth:`form` makes them for its JSON).

        The profiles are made ``CREATE_CHUNK`` at a time (``factory.batch``: the same profiles in the same
        order as one ``make()`` per request) and their JSON is written and escaped once per chunk
        (``generation.json_and_form``): in a tight loop the builder's code and data stay in the CPU
        caches, which the rest of a request (the socket, gevent, Locust) evicts between two ``make()``.
        """
        if not self._fresh:
            from loadgen.generation import json_and_form  # as the factory itself: imported when first needed

            records = self.factory.batch(CREATE_CHUNK)
            texts, escaped = json_and_form(records)
            self._fresh = list(zip(records, texts, escaped, strict=True))
            self._fresh.reverse()   # taken from the end, in the order they were made
        record, text, value = self._fresh.pop()
        body, headers = self._form(CREATE.path, CREATE.field, text, value)
        return record, body, headers

    def _form(self, path: str, field: str, raw: bytes, escaped: bytes) -> tuple[bytes, dict[str, str]]:
        """Body and headers of a POST of ``type_name`` and ``field=raw`` (``escaped``: ``raw`` escaped)."""
        body = self._form_head + field.encode("ascii") + b"=" + escaped + self._legacy_tail
        if self.signed:
            headers = self._signer.form_headers(path, self._type_param, field, raw)
            headers["Content-Type"] = _FORM
            return body, headers
        return body, self._basic_headers

    def form_fields(self, path: str, params: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
        """Body and headers of a POST of ``type_name`` and several fields (the reads and the writes)."""
        parts = [self._form_head[:-1]]
        for name, value in params.items():
            escaped = wire.form_escape_lean(value.encode("utf-8"))
            parts.append(wire.form_escape_lean(name.encode("utf-8")) + b"=" + escaped)
        if self.signed:
            headers = self._signer.headers(path, {"type_name": self.settings.type_name, **params})
            headers["Content-Type"] = _FORM
            return b"&".join(parts), headers
        return b"&".join(parts), self._basic_headers

    def note_failure(self, label: str, url: str, path: str, body: bytes, status: int, content: bytes | None,
                     expected: Expected) -> None:
        """Keep a failed request as an example (the first few of each ``label``), without its credentials."""
        if not self.failures.wants(label):
            return
        if self._legacy_tail and body.endswith(self._legacy_tail):
            body = body[: -len(self._legacy_tail)]
        text = (content or b"")[:300].decode("utf-8", "replace")
        self.failures.add(Failure(label=label, operation=path.lstrip("/"), form=body.decode("ascii", "replace"),
                                  expected=expected, got=label.split(": ", 1)[-1], status=status or None,
                                  answer=text, url=url, source="run", scheme=self.settings.capture_auth))

    def claim(self, endpoints: Iterable[str], within: float = math.inf) -> tuple[str, Arrival | None, float]:
        """The earliest next arrival among ``endpoints``: (endpoint, arrival, seconds until due).

        Any free user serves whichever endpoint is due first, so every worker serves all of its
        shares whatever Locust's dispatch of user classes. Dropped arrivals are counted on the way.
        An arrival due more than ``within`` seconds from now is left for another user: (``""``,
        None, ``within``), the time this user's unpaced task is due.
        """
        if self.stopping:
            return "", None, 1.0
        if self.held:
            return "", None, HOLD_S
        found: Pacer | None = None
        endpoint, soonest = "", math.inf
        for name in endpoints:       # a loop, not min() over a list: this runs once per request
            candidate = self.pacers.get(name)
            if candidate is not None and ((due := candidate.next_due()) < soonest or found is None):
                found, endpoint, soonest = candidate, name, due
        if found is None:
            return "", None, min(within, 3600.0)
        pacer = found
        if within < math.inf and soonest - pacer.elapsed() > within:   # a paced-only user skips the clock
            return "", None, within
        arrival, dropped = pacer.claim()
        if dropped:
            self._dropped(endpoint, dropped)
        if arrival is None:
            self.check_done()
            return endpoint, None, 1.0
        return endpoint, arrival, pacer.delay(arrival)

    def all_ready(self) -> bool:
        """Whether every user made here has finished its ``on_start``: one that draws a catalogue or logs in
        holds the event loop, so arrivals due meanwhile would be late before the first request."""
        return self.ready >= self.users

    def start_schedule(self) -> None:
        """Start the arrival schedule now (once; later calls do nothing): the set-up is over."""
        if self.held:
            self.held = False
            for pacer in self.pacers.values():
                pacer.restart()
            self._schedule_from_now()

    def _schedule_from_now(self) -> None:
        """The arrival schedule starts now (the report lays its targets from here), and the warm-up with it."""
        now = time.time()
        self.recorder.schedule_from = now
        if self.settings.warmup_s > 0:
            self.recorder.measure_from = now + self.settings.warmup_s

    def _dropped(self, endpoint: str, n: int) -> None:
        self.dropped[endpoint] += n
        self.recorder.record_dropped(endpoint, n)

    def start(self, endpoint: str) -> None:
        """A claimed arrival of ``endpoint`` is being served: it no longer holds its pacer open."""
        pacer = self.pacers.get(endpoint)
        if pacer is not None:
            pacer.started()

    def reserve(self, records: int) -> int:
        """How many of ``records`` the ``--max-records`` budget allows to send now (a create or bulkCreate)."""
        granted = self.budget.reserve(records)
        if granted:
            self.in_flight += 1
            self.recorder.in_flight(self.in_flight)
        else:
            if self.budget.spent:
                self._stopped_offering()
            self.check_done()
        return granted

    def stop(self) -> None:
        """No new arrival from now on (Ctrl-C, an abort gate, the end of the test): requests in flight finish."""
        self.stopping = True
        self._stopped_offering()

    def _stopped_offering(self) -> None:
        if self.recorder.stop_from is None:
            self.recorder.stop_from = time.time()

    def send(self) -> None:
        """A request that creates nothing (a read, an update, a delete) is on its way."""
        self.in_flight += 1
        self.recorder.in_flight(self.in_flight)

    def bad_request(self, index: int) -> BadRequest:
        """The ``index``-th bad request of this worker's catalogue (drawn once, then cycled)."""
        if self._bad is None:
            corpus = corpus_requests(self.settings.corpus) if self.settings.corpus else None
            self._bad = bad_requests(self.schema, seed=self.settings.seed + self.worker, extra=corpus)
        return self._bad[index % len(self._bad)]

    def malformed_turn(self, arrival: Arrival) -> bool:
        """Whether this arrival is one of the ``--malformed-share``: exact over any run, no RNG state."""
        return (arrival.index * _GOLDEN) % 1.0 < self.settings.malformed_share

    def intended_ms(self, endpoint: str, arrival: Arrival) -> float:
        """Milliseconds from the arrival's intended start to now (0 when early)."""
        pacer = self.pacers[endpoint]
        return max(0.0, pacer.lateness(arrival)) * 1000.0

    def finish(self, name: str, reserved: int, outcome: Outcome, *, service_ms: float,
               intended_ms: float, keys: list[object] | None = None) -> None:
        """Account one answered request under its report ``name``: budget, recorder, ledger, end-of-run check."""
        self.in_flight -= 1
        self.recorder.in_flight(self.in_flight)
        created = len(outcome.created)
        self.budget.settle(reserved, created)
        self.records += created
        if outcome.record_failures:
            self.record_failures.setdefault(name, Counter()).update(outcome.record_failures)
        self.recorder.record(name, service_ms=service_ms, intended_ms=intended_ms,
                             failure=outcome.failure, records=created)
        keys = keys or []
        for rec in outcome.created:
            self.ledger.add(rec.uuid, rec.id, keys[rec.slot] if rec.slot < len(keys) else None)
        self.check_done()

    # -- the end of a run ------------------------------------------------------------------------

    def check_done(self) -> None:
        """Signal once when this process has nothing left to send (schedule over or budget spent)."""
        if self.done_reason is not None or self.in_flight or self.serving:
            return
        if self.budget.spent:
            reason = f"--max-records reached ({self.budget.created} records by worker {self.worker})"
        elif self._endless:
            return
        elif (self.pacers and all(p.over and not p.outstanding for p in self.pacers.values())) or (
                self._unpaced_end is not None and self.clock() > self._unpaced_end):
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
        if self.held:      # the schedule has not started: nothing is due yet
            return
        for name, pacer in self.pacers.items():
            if n := pacer.drop_overdue():
                self._dropped(name, n)

    def abandon_in_flight(self) -> None:
        """Once the users are stopped, a request still counted in flight was killed before its answer came."""
        self.unanswered += self.in_flight
        self.in_flight = 0
        self.recorder.in_flight(0)

    def report(self) -> dict[str, Any]:
        """The delta a worker sends to the master with each stats report (recorder reset after); ``at``: when,
        so the master knows the seconds before it hold all of this worker's data.

        Once the test is stopping, its overdue arrivals were settled at ``test_stop``: the schedule's
        clock runs on while a stopped test waits in the web UI, and its arrivals are nobody's drops.
        """
        if not self.stopping:
            self.settle_overdue()
        self.check_done()
        self.ledger.flush()
        return {"worker": self.worker, "at": time.time(), "recorder": self.recorder.snapshot(reset=True),
                "records": self.records, "dropped": dict(self.dropped), "cpu": round(self.cpu_percent(), 1),
                "unanswered": self.unanswered,
                "failures": [f.to_json(FAILURES) for f in self.failures.drain()],
                "done": self.done_reason}

    def close(self) -> None:
        self.ledger.close()


def endpoints_of(user_classes: Iterable[type]) -> list[Pace]:
    """The paced endpoints a locustfile's user classes drive (their ``paces`` class attribute)."""
    classes = [cls for cls in user_classes if hasattr(cls, "paces")]
    if not classes:
        raise UsageError("no Capture user class in this locustfile (expected a subclass of CaptureUser, "
                         "CreateUser, BulkCreateUser...)")
    found: dict[str, Pace] = {}
    for cls in classes:
        for pace in cls.paces:
            if found.setdefault(pace.endpoint, pace) != pace:
                raise UsageError(f"@paced({pace.endpoint!r}) is declared with two different rates")
    return list(found.values())

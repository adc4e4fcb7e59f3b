"""``self.capture``: the Capture Entity API for a Locust user's own tasks, one typed call per endpoint.

Each call sends through the user's keep-alive :class:`~loadgen.locust.poster.FormPoster`, judges the
answer by its body (:mod:`loadgen.answers`: Capture answers HTTP 200 for its errors), reports it to
Locust's stats (``events.request``) under ``name``, records its service time and its time from the
paced arrival's intended start in the run's HDR recorder (so it is in ``report.json/html/md`` under
that name), ledgers the records it creates and un-ledgers those it deletes, and returns a typed
result. A failed call returns a result with ``failure`` set; it never raises for what the server
answered. Writes need a run id (the ledger is the run's), and refuse without one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from locust.contrib.fasthttp import FAILURE_EXCEPTIONS

from loadgen import wire
from loadgen.answers import Answer, Created, parse_answer
from loadgen.errors import LoadgenError
from loadgen.failures import Expected
from loadgen.locust.bad_requests import BadRequest
from loadgen.locust.load_state import LoadState
from loadgen.locust.outcomes import Outcome, judge_bulk, judge_create, judge_expected_error, transport_label
from loadgen.locust.pacing import Arrival
from loadgen.locust.state import current_load
from loadgen.scenarios import BULK_CREATE, COUNT, CREATE, DELETE, ENTITY, FIND, MALFORMED, REPLACE, UPDATE, Endpoint
from loadgen.wire import dumps_fast

if TYPE_CHECKING:
    from loadgen.locust.poster import FormPoster

#: What a create or bulkCreate answers without sending once ``--max-records`` is spent.
BUDGET_SPENT = "not sent: --max-records reached"


@dataclass(slots=True)
class Result:
    """What one call achieved: ``failure`` is None on success, else a short label ("361 unique_violation").

    Not frozen: one is made per request on the load generator's hot path, and a frozen dataclass
    costs four times as much to build.
    """

    name: str
    failure: str | None
    service_ms: float
    #: False when nothing was sent (the ``--max-records`` budget is spent)
    sent: bool = True

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(slots=True)
class CreateResult(Result):
    """``entity.create``: the new record's ``uuid`` and ``id``, and the ``record`` that was sent."""

    uuid: str | None = None
    id: int | None = None
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class BulkResult(Result):
    """``entity.bulkCreate``: the records made, each failed slot's label counted, and the records sent."""

    created: tuple[Created, ...] = ()
    record_failures: Mapping[str, int] = field(default_factory=dict)
    records: Sequence[Mapping[str, Any]] = ()


@dataclass(slots=True)
class EntityResult(Result):
    """``entity``: the record (or the part at ``attribute_name``), None when the call failed."""

    value: Any = None


@dataclass(slots=True)
class FindResult(Result):
    """``entity.find``: the matching records of this page, and ``result_count`` as the server said it."""

    results: tuple[dict[str, Any], ...] = ()
    result_count: int | None = None


@dataclass(slots=True)
class CountResult(Result):
    """``entity.count``: ``total_count``, None when the call failed."""

    count: int | None = None


@dataclass(slots=True)
class WriteResult(Result):
    """``entity.update``, ``entity.replace``, ``entity.delete``: the full record when ``include_record`` asked."""

    record: dict[str, Any] | None = None


#: What every request but a deliberately bad one must get.
_SUCCESS = Expected()


class _Sent(NamedTuple):
    """One request's raw exchange (status 0 and ``error`` when no answer came)."""

    status: int
    content: bytes | None
    error: BaseException | None
    service_ms: float
    path: str
    body: bytes


class Capture:
    """The Capture calls of one user (``self.capture``); made in the user's ``on_start``.

    ``arrival`` is the paced arrival being served (None in an unpaced task): the first request of a
    paced task is recorded with its latency from the arrival's intended start.
    """

    def __init__(self, user: Any, poster: FormPoster, base: str) -> None:
        self._fire = user.environment.events.request.fire
        self._http = poster
        self._base = base
        self._host = str(getattr(user, "host", "") or "").rstrip("/")   # the URL failures.jsonl names
        self.arrival: Arrival | None = None
        self._endpoint = ""

    @property
    def run_id(self) -> str:
        """The run's id: a prefix that keeps a run's own unique values (emails) apart from other runs'."""
        return current_load().settings.run_id

    # -- the calls ----------------------------------------------------------------------------------

    def create(self, record: Mapping[str, Any] | None = None, *, name: str = CREATE.name) -> CreateResult:
        """``entity.create`` of ``record``, else of one profile from the run's generator."""
        load = self._writing()
        if not load.reserve(1):
            return CreateResult(name, BUDGET_SPENT, 0.0, False)
        made: Mapping[str, Any]
        if record is None:
            made, body, headers = load.fresh_create()
            sent = self._exchange(load, CREATE.path, body, headers)
        else:
            made = record
            sent = self._post(load, CREATE.path, CREATE.field, dumps_fast(made))
        outcome = judge_create(sent.status, sent.content, sent.error)
        self._account(load, name, sent, outcome, 1, [load.key_of(made)])
        done = outcome.created[0] if outcome.created else None
        return CreateResult(name, outcome.failure, sent.service_ms, True, done and done.uuid, done and done.id, made)

    def bulk_create(self, n_or_records: int | Sequence[Mapping[str, Any]], *,
                    name: str = BULK_CREATE.name) -> BulkResult:
        """``entity.bulkCreate`` of ``n`` generated profiles, or of the given records; every slot is judged."""
        load = self._writing()
        wanted = n_or_records if isinstance(n_or_records, int) else len(n_or_records)
        size = load.reserve(wanted)
        if not size:
            return BulkResult(name, BUDGET_SPENT, 0.0, False)
        records = load.factory.batch(size) if isinstance(n_or_records, int) else list(n_or_records[:size])
        sent = self._post(load, BULK_CREATE.path, BULK_CREATE.field, dumps_fast(records))
        outcome = judge_bulk(sent.status, sent.content, size, sent.error)
        self._account(load, name, sent, outcome, size, [load.key_of(r) for r in records])
        return BulkResult(name, outcome.failure, sent.service_ms, True, outcome.created,
                          dict(outcome.record_failures), records)

    def bad_create(self, bad: BadRequest, *, name: str = MALFORMED.name) -> Result:
        """``entity.create`` of a deliberately bad ``attributes`` text: a success only if it got ``bad.expected``."""
        load = self._writing()
        if not load.reserve(1):
            return Result(name, BUDGET_SPENT, 0.0, False)
        sent = self._post(load, CREATE.path, CREATE.field, bad.attributes)
        outcome = judge_expected_error(sent.status, sent.content, bad.expected, sent.error)
        self._account(load, name, sent, outcome, 1, [None], expected=bad.expected)
        return Result(name, outcome.failure, sent.service_ms)

    def entity(self, uuid: str, *, attribute_name: str | None = None, name: str = ENTITY.name) -> EntityResult:
        """``entity`` by ``uuid``: the record, or only the part at ``attribute_name``."""
        answer, result = self._call(name, ENTITY, {"uuid": uuid, **_part(attribute_name)})
        body = answer.ok_body if answer is not None else None
        value = body.get("result") if body is not None else None
        return EntityResult(name, result.failure, result.service_ms, True, value)

    def find(self, filter: str, *, max_results: int | None = None, first_result: int | None = None,
             sort_on: Sequence[str] | None = None, attributes: Sequence[str] | None = None,
             name: str = FIND.name) -> FindResult:
        """One ``entity.find`` page of the records matching ``filter`` (Capture's filter grammar)."""
        params = {"filter": filter}
        if max_results is not None:
            params["max_results"] = str(max_results)
        if first_result is not None:
            params["first_result"] = str(first_result)
        if sort_on is not None:
            params["sort_on"] = wire.dumps(list(sort_on))
        if attributes is not None:
            params["attributes"] = wire.dumps(list(attributes))
        answer, result = self._call(name, FIND, params)
        body = answer.ok_body if answer is not None else None
        found = body.get("results") if body is not None else None
        rows = tuple(r for r in found if isinstance(r, dict)) if isinstance(found, list) else ()
        count = body.get("result_count") if body is not None else None
        return FindResult(name, result.failure, result.service_ms, True, rows,
                          count if isinstance(count, int) else None)

    def count(self, filter: str | None = None, *, name: str = COUNT.name) -> CountResult:
        """``entity.count`` of the records matching ``filter`` (all of the type without one)."""
        answer, result = self._call(name, COUNT, {"filter": filter} if filter else {})
        body = answer.ok_body if answer is not None else None
        total = body.get("total_count") if body is not None else None
        return CountResult(name, result.failure, result.service_ms, True, total if isinstance(total, int) else None)

    def update(self, uuid: str, attributes: object, *, attribute_name: str | None = None,
               include_record: bool = False, name: str = UPDATE.name) -> WriteResult:
        """``entity.update``: only the given attributes change (plural elements without ``id`` are appended)."""
        return self._write(name, UPDATE, uuid, attributes, attribute_name, include_record)

    def replace(self, uuid: str, attributes: object, *, attribute_name: str | None = None,
                include_record: bool = False, name: str = REPLACE.name) -> WriteResult:
        """``entity.replace``: attributes not given become null (or only the part at ``attribute_name``)."""
        return self._write(name, REPLACE, uuid, attributes, attribute_name, include_record)

    def delete(self, uuid: str, *, attribute_name: str | None = None, name: str = DELETE.name) -> WriteResult:
        """``entity.delete`` of the record (un-ledgered once deleted), or of only the part at ``attribute_name``."""
        load = self._writing()
        _, result = self._call(name, DELETE, {"uuid": uuid, **_part(attribute_name)})
        if result.ok and attribute_name is None:
            load.ledger.add(uuid, 0, None, deleted=True)
        return WriteResult(name, result.failure, result.service_ms)

    def measure(self, name: str, ms: float, *, failure: str | None = None) -> None:
        """Record a metric of the scenario's own (a time-to-visible) in the report under ``name``: its own row
        with percentiles, left out of the run's request totals (it is not a request)."""
        current_load().recorder.record_measure(name, ms, failure=failure)

    # -- the plumbing -------------------------------------------------------------------------------

    def serve(self, endpoint: str, arrival: Arrival) -> None:
        """The paced arrival the next request is recorded against (see :class:`Capture`)."""
        self._endpoint, self.arrival = endpoint, arrival

    def _writing(self) -> LoadState:
        load = current_load()
        if not load.settings.run_id:
            raise LoadgenError("a write needs a run id (--run-id): the ledger that lets cleanup remove "
                               "what the run created belongs to one run")
        return load

    def _write(self, name: str, endpoint: Endpoint, uuid: str, attributes: object, attribute_name: str | None,
               include_record: bool) -> WriteResult:
        self._writing()
        params = {"uuid": uuid, "attributes": wire.dumps(attributes), **_part(attribute_name)}
        if include_record:
            params["include_record"] = "true"
        answer, result = self._call(name, endpoint, params)
        body = answer.ok_body if answer is not None else None
        record = body.get("result") if body is not None and include_record else None
        return WriteResult(name, result.failure, result.service_ms, True, record if isinstance(record, dict) else None)

    def _call(self, name: str, endpoint: Endpoint, params: Mapping[str, str]) -> tuple[Answer | None, Result]:
        """A request that creates nothing: sent, judged by its body, reported and recorded."""
        load = current_load()
        body, headers = load.form_fields(endpoint.path, params)
        load.send()
        sent = self._exchange(load, endpoint.path, body, headers)
        answer = None if sent.error is not None and not sent.status else parse_answer(sent.status, sent.content or b"")
        failure = transport_label(sent.error) if answer is None and sent.error else (answer.label if answer else None)
        self._account(load, name, sent, Outcome(failure), 0, [])
        return answer, Result(name, failure, sent.service_ms)

    def _post(self, load: LoadState, path: str, field_name: str, value: str | bytes) -> _Sent:
        body, headers = load.form(path, field_name, value)
        return self._exchange(load, path, body, headers)

    def _exchange(self, load: LoadState, path: str, body: bytes, headers: Mapping[str, str]) -> _Sent:
        started = time.perf_counter()
        status, content, error = 0, None, None
        try:
            status, content = self._http.post(self._base + path, body, headers)
        except FAILURE_EXCEPTIONS as exc:
            error = exc
            if not isinstance(exc, ConnectionRefusedError):   # the server may have acted on it, unseen
                load.unanswered += 1
        return _Sent(status, content, error, (time.perf_counter() - started) * 1000.0, path, body)

    def _report(self, request_type: str, name: str, response_time: float, length: int, failure: str | None) -> None:
        self._fire(request_type=request_type, name=name, response_time=response_time, response_length=length,
                   exception=failure, context={})

    def _account(self, load: LoadState, name: str, sent: _Sent, outcome: Outcome, reserved: int,
                 keys: list[object], expected: Expected = _SUCCESS) -> None:
        self._report("POST", name, sent.service_ms, len(sent.content) if sent.content else 0, outcome.failure)
        if outcome.failure is not None:
            load.note_failure(f"{name}: {outcome.failure}", self._host, sent.path, sent.body, sent.status,
                              sent.content, expected)
        arrival, self.arrival = self.arrival, None
        intended = load.intended_ms(self._endpoint, arrival) if arrival is not None else sent.service_ms
        load.finish(name, reserved, outcome, service_ms=sent.service_ms, intended_ms=intended, keys=keys)


def _part(attribute_name: str | None) -> dict[str, str]:
    return {"attribute_name": attribute_name} if attribute_name is not None else {}

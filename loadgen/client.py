"""A small typed client for the Capture Entity API, sync (``CaptureClient``) and async (``AsyncCaptureClient``).

Capture answers HTTP 200 for API errors, so every answer is judged by its body: ``stat: "error"``
raises a ``CaptureError`` of the right family whatever the HTTP status, and anything that is not a
Capture answer (no connection, a timeout, a non-JSON body, an odd status) raises ``TransportError``
with the status and the first bytes of the body. Secrets never reach a message: the URL may not
carry credentials, and every quoted server text goes through the auth object's ``redact``.

Every call is a form POST (reads too): a GET would put a legacy secret into the URL, and the URL
is what httpx logs. When a failed call is sent again is ``retry.py``'s question; how ``find`` pages
is ``_paging.py``'s.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Self, TypeVar, overload

import httpx

from loadgen import wire
from loadgen._paging import Pages
from loadgen.answers import BadSlot, bulk_slots, created, parse_answer
from loadgen.answers import Created as Created  # what create() returns: importable from here too
from loadgen.auth import CaptureAuth, auth_from_env, resolve_url
from loadgen.errors import (
    CaptureError,
    LoadgenError,
    Replay,
    TransportError,
    UsageError,
    status_replay,
)
from loadgen.retry import Retry as Retry  # the policy clients take: importable from here too
from loadgen.retry import transport_replay

_log = logging.getLogger("loadgen.client")

#: How many characters of an unexpected body an error message quotes.
SNIPPET_BYTES = 200
#: How much of the body is decoded and redacted before the cut (a secret straddling the cut is gone too).
_SNIPPET_SCAN = 64 * 1024

@dataclass(frozen=True)
class BulkResult:
    """The answer to one ``entity.bulkCreate``: one outcome per input position, in input order.

    ``start`` is the position of this batch's first record in the stream given to
    ``bulk_create_all`` (0 for ``bulk_create``); ``records`` are the inputs, so a failure can be
    traced back to the record that caused it.
    """

    outcomes: list[Created | CaptureError]  # built by ``answers.bulk_slots``: slot = position in the batch
    start: int = 0
    records: Sequence[Mapping[str, Any]] = field(default=(), repr=False)

    @property
    def created(self) -> list[Created]:
        return [o for o in self.outcomes if isinstance(o, Created)]

    @property
    def failed(self) -> list[tuple[int, CaptureError]]:
        """``(position in the input, error)`` for every record that was refused."""
        return [(i, o) for i, o in enumerate(self.outcomes) if isinstance(o, CaptureError)]

    def __len__(self) -> int:
        return len(self.outcomes)


@dataclass(frozen=True, slots=True)
class _Call:
    op: str
    params: dict[str, str]
    creates: bool = False


Key = tuple[str, Any]
T = TypeVar("T")


class _Base:
    """Configuration, request building and answer parsing shared by the sync and async clients."""

    def __init__(self, base_url: str | None, auth: httpx.Auth | None, *, type_name: str, timeout: float,
                 retry: Retry | None, insecure: bool) -> None:
        self.base_url = resolve_url(base_url, insecure=insecure)
        self.auth = auth if auth is not None else auth_from_env()
        self.type_name = type_name
        self.timeout = timeout
        self.retry = retry
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, type_name={self.type_name!r}, auth={self.auth!r})"

    # -- request building ----------------------------------------------------------------------------

    def _typed(self, op: str, params: Mapping[str, str] | None = None, *, creates: bool = False) -> _Call:
        return _Call(op, {"type_name": self.type_name, **(params or {})}, creates)

    def _create_call(self, attributes: Mapping[str, Any], include_record: bool) -> _Call:
        return self._typed("entity.create", {"attributes": wire.dumps(attributes),
                           "include_record": "true" if include_record else "false"}, creates=True)

    def _bulk_call(self, records: Sequence[Mapping[str, Any]]) -> _Call:
        return self._typed("entity.bulkCreate", {"all_attributes": wire.dumps(list(records))}, creates=True)

    def _entity_call(self, uuid: str | None, id: int | None, key: Key | None,
                     attributes: Sequence[str] | None, attribute_name: str | None) -> _Call:
        extra = {"attributes": wire.dumps(list(attributes))} if attributes is not None else {}
        return self._typed("entity", {**_record_key(uuid, id, key), **extra, **_part(attribute_name)})

    def _write_call(self, op: str, attributes: object, uuid: str | None, id: int | None, key: Key | None,
                    attribute_name: str | None, include_record: bool) -> _Call:
        extra = {"include_record": "true"} if include_record else {}
        return self._typed(op, {**_record_key(uuid, id, key), "attributes": wire.dumps(attributes),
                                **_part(attribute_name), **extra})

    def _delete_call(self, uuid: str | None, id: int | None, key: Key | None, attribute_name: str | None) -> _Call:
        return self._typed("entity.delete", {**_record_key(uuid, id, key), **_part(attribute_name)})

    def _written(self, op: str, body: dict[str, Any], include_record: bool) -> dict[str, Any] | None:
        """The full record an update or replace answered with, when it was asked for."""
        return _field(body, op, "result", dict) if include_record else None

    def _count_call(self, filter: str | None) -> _Call:
        return self._typed("entity.count", {"filter": filter} if filter else None)

    # -- answers ------------------------------------------------------------------------------------

    def _parse(self, response: httpx.Response, call: _Call) -> dict[str, Any]:
        """The body of a Capture ``stat: "ok"`` answer; anything else raises (``answers.parse_answer``)."""
        status = response.status_code
        answer = parse_answer(status, response.content, self._redact)
        if answer.error is not None:
            raise answer.error
        if answer.fault is not None:
            snippet = self._snippet(response.content[:_SNIPPET_SCAN].decode("utf-8", "replace"))
            raise TransportError(f"{call.op}: {answer.fault.value} from {self._url(call.op)}", status=status,
                                 snippet=snippet, replay=status_replay(status))
        assert answer.body is not None  # an ok answer is a JSON object
        return answer.body

    def _transport_error(self, exc: httpx.TransportError, call: _Call) -> TransportError:
        url, replay = self._url(call.op), transport_replay(exc)
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            message = f"{call.op}: no answer from {url} within {self.timeout:g}s ({type(exc).__name__})"
        else:
            what = "cannot connect to" if replay is Replay.ANY_CALL else "connection broken with"
            message = f"{call.op}: {what} {url}: {self._redact(str(exc)) or type(exc).__name__}"
        return TransportError(message, replay=replay)

    def _url(self, op: str) -> str:
        return f"{self.base_url.rstrip('/')}/{op}"

    def _redact(self, text: str) -> str:
        return self.auth.redact(text) if isinstance(self.auth, CaptureAuth) else text

    def _snippet(self, text: str) -> str:
        """The start of a server text for a message: redacted first, so a cut never leaves half a secret."""
        return self._redact(text)[:SNIPPET_BYTES]

    def _bad(self, op: str, what: str, body: object) -> TransportError:
        return TransportError(f"{op}: {what}", snippet=self._snippet(wire.dumps(body)))

    def _created(self, body: dict[str, Any], include_record: bool) -> Created:
        done = created(body, include_record=include_record)
        if done is None:
            raise self._bad("entity.create", "the answer lacks an integer id and a string uuid", body)
        return done

    def _bulk_result(self, body: dict[str, Any], records: list[Mapping[str, Any]], start: int) -> BulkResult:
        """One outcome per input record (``answers.bulk_slots``); a slot that is neither raises."""
        outcomes: list[Created | CaptureError] = []
        for position, slot in enumerate(bulk_slots(body, len(records), self._redact)):
            if isinstance(slot, BadSlot):
                raise self._bad("entity.bulkCreate", f"slot {position} is neither an (id, uuid) pair nor an error",
                                list(slot))
            outcomes.append(slot)
        return BulkResult(outcomes, start, records)

    def _retry_delay(self, exc: CaptureError | TransportError, call: _Call, attempt: int) -> float | None:
        """Seconds to wait before trying ``call`` again, or None to give up and raise ``exc``."""
        if self.retry is None or not self.retry.allows(exc, creates=call.creates, attempt=attempt):
            return None
        delay = self.retry.delay(attempt, self._rng)
        _log.info("retrying %s after %s (try %d of %d) in %.2fs", call.op, _short(exc), attempt + 1,
                  self.retry.attempts, delay)
        return delay


class CaptureClient(_Base):
    """Synchronous client. ``CaptureClient()`` alone reads ``CAPTURE_URL``, ``CAPTURE_CLIENT_ID``,
    ``CAPTURE_CLIENT_SECRET`` and ``CAPTURE_AUTH``. Thread-safe (``bulk_create_all`` uses threads).

    ``insecure=True`` allows plain ``http://`` to a host other than loopback.
    """

    def __init__(self, base_url: str | None = None, auth: httpx.Auth | None = None, *,
                 type_name: str = "user", timeout: float = 10.0, retry: Retry | None = None,
                 transport: httpx.BaseTransport | None = None, insecure: bool = False) -> None:
        super().__init__(base_url, auth, type_name=type_name, timeout=timeout, retry=retry, insecure=insecure)
        self._http = httpx.Client(base_url=self.base_url, auth=self.auth, timeout=timeout, transport=transport,
                                  headers=_HEADERS)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, operation: str, params: Mapping[str, str], *, creates: bool = False) -> dict[str, Any]:
        """Any API call with raw string parameters; the ``stat: "ok"`` body. For fuzzers and QA suites."""
        return self._send(_Call(operation, dict(params), creates))

    def create(self, attributes: Mapping[str, Any], include_record: bool = False) -> Created:
        return self._created(self._send(self._create_call(attributes, include_record)), include_record)

    def bulk_create(self, records: Sequence[Mapping[str, Any]]) -> BulkResult:
        return self._bulk(list(records), 0)

    def bulk_create_all(self, records: Iterable[Mapping[str, Any]], batch_size: int = 100,
                        concurrency: int = 1) -> Iterator[BulkResult]:
        """``bulk_create`` over any iterable, ``batch_size`` records a call, results in input order.

        With ``concurrency > 1`` that many batches are in flight on a thread pool. An envelope
        error (bad auth, batch refused) stops the iteration; the batches yielded before it stand.
        Batches already sent when the caller stops early may still be created, unreported.
        """
        _check_batching(batch_size, concurrency)
        batches = _batches(records, batch_size)
        if concurrency == 1:
            for start, batch in batches:
                yield self._bulk(batch, start)
            return
        pending: deque[Future[BulkResult]] = deque()
        with ThreadPoolExecutor(concurrency, thread_name_prefix="bulk_create") as pool:
            try:
                for start, batch in batches:
                    pending.append(pool.submit(self._bulk, batch, start))
                    if len(pending) >= concurrency:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    @overload
    def entity(self, uuid: str | None = None, id: int | None = None, key: Key | None = None, *,
               attributes: Sequence[str] | None = None, attribute_name: None = None) -> dict[str, Any]: ...

    @overload
    def entity(self, uuid: str | None = None, id: int | None = None, key: Key | None = None, *,
               attributes: Sequence[str] | None = None, attribute_name: str) -> Any: ...

    def entity(self, uuid: str | None = None, id: int | None = None, key: Key | None = None, *,
               attributes: Sequence[str] | None = None, attribute_name: str | None = None) -> Any:
        """One record by ``uuid``, ``id`` or ``key=(attribute, value)``; ``NotFoundError`` if absent.

        ``attribute_name`` (``primaryAddress``, ``statuses#4``, ``/profiles#68507/profile``) returns only
        that part of the record, whatever its JSON type.
        """
        body = self._send(self._entity_call(uuid, id, key, attributes, attribute_name))
        return _part_result(body) if attribute_name is not None else _field(body, "entity", "result", dict)

    def find(self, filter: str | None = None, *, attributes: Sequence[str] | None = None,
             page_size: int = 1000, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Matching records in id order, fetched ``page_size`` at a time by ``id > last`` (never offsets)."""
        pages = Pages(filter, attributes, page_size, limit)
        while (params := pages.next_params()) is not None:
            body = self._send(self._typed("entity.find", params))
            yield from pages.take(_field(body, "entity.find", "results", list))

    def count(self, filter: str | None = None) -> int:
        return _field(self._send(self._count_call(filter)), "entity.count", "total_count", int)

    def update(self, attributes: object, uuid: str | None = None, id: int | None = None, key: Key | None = None,
               *, attribute_name: str | None = None, include_record: bool = False) -> dict[str, Any] | None:
        """Partial update: only the given attributes change; plural elements without an ``id`` are appended.

        With ``attribute_name`` only that part changes, and ``attributes`` is its new value (any JSON:
        an array for a plural). With ``include_record`` the full record after the update is returned.
        """
        call = self._write_call("entity.update", attributes, uuid, id, key, attribute_name, include_record)
        return self._written(call.op, self._send(call), include_record)

    def replace(self, attributes: object, uuid: str | None = None, id: int | None = None, key: Key | None = None,
                *, attribute_name: str | None = None, include_record: bool = False) -> dict[str, Any] | None:
        """Full replace: attributes not given become null (or only the part at ``attribute_name``)."""
        call = self._write_call("entity.replace", attributes, uuid, id, key, attribute_name, include_record)
        return self._written(call.op, self._send(call), include_record)

    def delete(self, uuid: str | None = None, id: int | None = None, key: Key | None = None, *,
               attribute_name: str | None = None) -> None:
        """Permanent deletion of the record, or of only the part at ``attribute_name`` (``statuses#4``).
        After a retried delete, a ``NotFoundError`` may mean the first try worked."""
        self._send(self._delete_call(uuid, id, key, attribute_name))

    def entity_type(self) -> dict[str, Any]:
        """The schema ``{"name": ..., "attr_defs": [...]}`` of this client's entity type."""
        return _field(self._send(self._typed("entityType")), "entityType", "schema", dict)

    def _bulk(self, batch: list[Mapping[str, Any]], start: int) -> BulkResult:
        if not batch:
            return BulkResult([], start, batch)
        return self._bulk_result(self._send(self._bulk_call(batch)), batch, start)

    def _send(self, call: _Call) -> dict[str, Any]:
        attempt = 1
        while True:
            try:
                return self._attempt(call)
            except (CaptureError, TransportError) as exc:
                delay = self._retry_delay(exc, call, attempt)
                if delay is None:
                    raise
            time.sleep(delay)
            attempt += 1

    def _attempt(self, call: _Call) -> dict[str, Any]:
        try:
            response = self._http.post(f"/{call.op}", content=wire.encode_form(call.params))
        except httpx.TransportError as exc:
            raise self._transport_error(exc, call) from exc
        return self._parse(response, call)


class AsyncCaptureClient(_Base):
    """The asyncio twin of ``CaptureClient`` (same methods, awaited; ``aclose`` instead of ``close``).

    httpx's async pool scans every connection per request and slows down as concurrency grows
    (performance.md: 50 tasks run about 3x slower than 10), so at most ``max_concurrency`` calls
    are in flight on one client, whatever the number of tasks using it.
    """

    def __init__(self, base_url: str | None = None, auth: httpx.Auth | None = None, *,
                 type_name: str = "user", timeout: float = 10.0, retry: Retry | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, insecure: bool = False,
                 max_concurrency: int = 10) -> None:
        super().__init__(base_url, auth, type_name=type_name, timeout=timeout, retry=retry, insecure=insecure)
        if max_concurrency < 1:
            raise UsageError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self._gate = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, auth=self.auth, timeout=timeout, transport=transport, headers=_HEADERS,
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, operation: str, params: Mapping[str, str], *, creates: bool = False) -> dict[str, Any]:
        return await self._send(_Call(operation, dict(params), creates))

    async def create(self, attributes: Mapping[str, Any], include_record: bool = False) -> Created:
        return self._created(await self._send(self._create_call(attributes, include_record)), include_record)

    async def bulk_create(self, records: Sequence[Mapping[str, Any]]) -> BulkResult:
        return await self._bulk(list(records), 0)

    async def bulk_create_all(self, records: Iterable[Mapping[str, Any]], batch_size: int = 100,
                              concurrency: int = 1) -> AsyncIterator[BulkResult]:
        """Like ``CaptureClient.bulk_create_all``: at most ``concurrency`` batches in flight, in order."""
        _check_batching(batch_size, concurrency)
        pending: deque[asyncio.Task[BulkResult]] = deque()
        try:
            for start, batch in _batches(records, batch_size):
                pending.append(asyncio.ensure_future(self._bulk(batch, start)))
                if len(pending) >= concurrency:
                    yield await pending.popleft()
            while pending:
                yield await pending.popleft()
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    @overload
    async def entity(self, uuid: str | None = None, id: int | None = None, key: Key | None = None, *,
                     attributes: Sequence[str] | None = None, attribute_name: None = None) -> dict[str, Any]: ...

    @overload
    async def entity(self, uuid: str | None = None, id: int | None = None, key: Key | None = None, *,
                     attributes: Sequence[str] | None = None, attribute_name: str) -> Any: ...

    async def entity(self, uuid: str | None = None, id: int | None = None, key: Key | None = None, *,
                     attributes: Sequence[str] | None = None, attribute_name: str | None = None) -> Any:
        body = await self._send(self._entity_call(uuid, id, key, attributes, attribute_name))
        return _part_result(body) if attribute_name is not None else _field(body, "entity", "result", dict)

    async def find(self, filter: str | None = None, *, attributes: Sequence[str] | None = None,
                   page_size: int = 1000, limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        pages = Pages(filter, attributes, page_size, limit)
        while (params := pages.next_params()) is not None:
            body = await self._send(self._typed("entity.find", params))
            for record in pages.take(_field(body, "entity.find", "results", list)):
                yield record

    async def count(self, filter: str | None = None) -> int:
        return _field(await self._send(self._count_call(filter)), "entity.count", "total_count", int)

    async def update(self, attributes: object, uuid: str | None = None, id: int | None = None,
                     key: Key | None = None, *, attribute_name: str | None = None,
                     include_record: bool = False) -> dict[str, Any] | None:
        call = self._write_call("entity.update", attributes, uuid, id, key, attribute_name, include_record)
        return self._written(call.op, await self._send(call), include_record)

    async def replace(self, attributes: object, uuid: str | None = None, id: int | None = None,
                      key: Key | None = None, *, attribute_name: str | None = None,
                      include_record: bool = False) -> dict[str, Any] | None:
        call = self._write_call("entity.replace", attributes, uuid, id, key, attribute_name, include_record)
        return self._written(call.op, await self._send(call), include_record)

    async def delete(self, uuid: str | None = None, id: int | None = None, key: Key | None = None, *,
                     attribute_name: str | None = None) -> None:
        await self._send(self._delete_call(uuid, id, key, attribute_name))

    async def entity_type(self) -> dict[str, Any]:
        return _field(await self._send(self._typed("entityType")), "entityType", "schema", dict)

    async def _bulk(self, batch: list[Mapping[str, Any]], start: int) -> BulkResult:
        if not batch:
            return BulkResult([], start, batch)
        return self._bulk_result(await self._send(self._bulk_call(batch)), batch, start)

    async def _send(self, call: _Call) -> dict[str, Any]:
        attempt = 1
        while True:
            try:
                async with self._gate:
                    return await self._attempt(call)
            except (CaptureError, TransportError) as exc:
                delay = self._retry_delay(exc, call, attempt)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            attempt += 1

    async def _attempt(self, call: _Call) -> dict[str, Any]:
        try:
            response = await self._http.post(f"/{call.op}", content=wire.encode_form(call.params))
        except httpx.TransportError as exc:
            raise self._transport_error(exc, call) from exc
        return self._parse(response, call)


_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "capture-loadgen"}


# -- request helpers --------------------------------------------------------------------------------

def _record_key(uuid: str | None, id: int | None, key: Key | None) -> dict[str, str]:
    """The parameters that name one record: ``uuid``, ``id`` or ``key_attribute`` + JSON ``key_value``."""
    given = [name for name, value in (("uuid", uuid), ("id", id), ("key", key)) if value is not None]
    if len(given) != 1:
        raise UsageError(f"name the record with exactly one of uuid, id or key (got {', '.join(given) or 'none'})")
    if uuid is not None:
        return {"uuid": uuid}
    if id is not None:
        return {"id": str(int(id))}
    assert key is not None
    attribute, value = key
    return {"key_attribute": attribute, "key_value": wire.dumps(value)}


def _part(attribute_name: str | None) -> dict[str, str]:
    """The ``attribute_name`` parameter that narrows a call to part of a record, if one is named."""
    return {} if attribute_name is None else {"attribute_name": attribute_name}


def _check_batching(batch_size: int, concurrency: int) -> None:
    if batch_size < 1 or concurrency < 1:
        raise UsageError(f"batch_size and concurrency must be at least 1, got {batch_size} and {concurrency}")


def _batches(records: Iterable[Mapping[str, Any]], size: int) -> Iterator[tuple[int, list[Mapping[str, Any]]]]:
    it, start = iter(records), 0
    while batch := list(islice(it, size)):
        yield start, batch
        start += len(batch)


# -- answer helpers ---------------------------------------------------------------------------------

def _malformed(op: str, what: str) -> TransportError:
    """An ``ok`` answer without the shape Capture documents (quoting nothing of it)."""
    return TransportError(f"{op}: {what}")


def _part_result(body: dict[str, Any]) -> Any:
    """The ``result`` of an ``entity`` call with ``attribute_name``: any JSON value, null included."""
    if "result" not in body:
        raise _malformed("entity", "the answer lacks result")
    return body["result"]


def _field(body: dict[str, Any], op: str, name: str, kind: type[T]) -> T:
    """``body[name]`` if it has the type Capture documents, else a ``TransportError``."""
    value = body.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) or (
            isinstance(value, list) and not all(isinstance(item, dict) for item in value)):
        raise _malformed(op, f"the answer lacks {name} ({kind.__name__})")
    return value


def _short(exc: LoadgenError) -> str:
    if isinstance(exc, CaptureError):
        return exc.label
    if isinstance(exc, TransportError) and exc.status is not None:
        return f"HTTP {exc.status}"
    return type(exc.__cause__ or exc).__name__

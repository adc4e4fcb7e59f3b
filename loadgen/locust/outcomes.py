"""Outcomes judged by the response body, because Capture answers HTTP 200 for its errors.

A load tool that trusts the HTTP status reports 0% failures while every request fails. Here each
answer becomes an :class:`Outcome`: ``failure`` is ``None`` for a success, otherwise a short label
of bounded cardinality (``"361 unique_violation"``, ``"HTTP 503"``, ``"non-JSON body"``,
``"timeout"``) so the Locust failure table groups them. No Locust import: the judges take the HTTP
status, the body bytes and the transport exception, and are unit-tested on plain values.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from loadgen.errors import CaptureError, Code, JSONSyntaxError
from loadgen.wire import loads_fast, loads_strict

_NO_FAILURES: Mapping[str, int] = MappingProxyType({})


# Created and Outcome are named tuples, not frozen dataclasses: one of each is made per request on
# the load generator's hot path, and a tuple is built in half the time.
class Created(NamedTuple):
    """One record the server says it created; ``slot`` is its position in the request."""

    id: int
    uuid: str
    slot: int = 0


class Outcome(NamedTuple):
    """What one request achieved.

    ``created`` lists the records made (1 for a create, the ok slots of a bulkCreate);
    ``record_failures`` counts the labels of a bulkCreate's failed slots (read-only when empty).
    """

    failure: str | None = None
    created: tuple[Created, ...] = ()
    record_failures: Mapping[str, int] = _NO_FAILURES

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True, slots=True)
class Expectation:
    """The exact error a deliberately bad request must get to count as a success."""

    code: int = Code.INVALID_ARGUMENT.value
    argument_name: str | None = "attributes"
    attribute_name: str | None = None

    @property
    def label(self) -> str:
        where = self.argument_name or self.attribute_name
        return f"{CaptureError(self.code).label}" + (f" [{where}]" if where else "")


def transport_label(error: BaseException) -> str:
    """A short name for a request that got no answer."""
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    name = type(error).__name__
    if "timeout" in name.lower():
        return "timeout"
    return f"no answer: {name}"


def _body(status: int, content: bytes | None, error: BaseException | None) -> tuple[Any, str | None]:
    """The parsed JSON body, or ``(None, failure label)`` when there is none to judge."""
    if error is not None and not status:
        return None, transport_label(error)
    try:
        body = loads_strict(content or b"")
    except JSONSyntaxError:
        return None, f"HTTP {status}" if status != 200 else "non-JSON body"
    if not isinstance(body, dict):
        return None, "non-object JSON body"
    stat = body.get("stat")
    if stat == "error":
        return body, CaptureError.from_body(body).label
    if status != 200:
        return None, f"HTTP {status}"
    if stat != "ok":
        return None, "body without stat"
    return body, None


def judge_create(status: int, content: bytes | None, error: BaseException | None = None) -> Outcome:
    """``entity.create``: ``{"id": int, "uuid": str, "stat": "ok"}`` or an error object.

    The usual answer, a well-formed ok body, is read by the fast parser; anything else is judged
    by the strict one, which names what is wrong with it.
    """
    if status == 200 and content:
        try:
            fast = loads_fast(content)
        except ValueError:
            fast = None
        if type(fast) is dict and fast.get("stat") == "ok":
            rid, uuid = fast.get("id"), fast.get("uuid")
            if type(rid) is int and type(uuid) is str:
                return Outcome(None, (Created(rid, uuid),))
    body, failure = _body(status, content, error)
    if failure is not None:
        return Outcome(failure)
    rid, uuid = body.get("id"), body.get("uuid")
    if not isinstance(rid, int) or isinstance(rid, bool) or not isinstance(uuid, str):
        return Outcome("ok body without id/uuid")
    return Outcome(None, (Created(rid, uuid),))


def judge_bulk(status: int, content: bytes | None, sent: int, error: BaseException | None = None) -> Outcome:
    """``entity.bulkCreate``: every per-record error is counted.

    The request fails on an envelope error, a malformed answer, or when any record failed (named by
    the most frequent record error); ``record_failures`` counts every failed slot.
    """
    body, failure = _body(status, content, error)
    if failure is not None:
        return Outcome(failure, (), Counter({failure: sent}))
    uuids, ids = body.get("uuid_results"), body.get("results")
    if not isinstance(uuids, list) or not isinstance(ids, list) or len(uuids) != len(ids) or len(ids) != sent:
        label = "ok body with bad result arrays"
        return Outcome(label, (), Counter({label: sent}))
    created: list[Created] = []
    failures: Counter[str] = Counter()
    for slot, (uuid, rid) in enumerate(zip(uuids, ids, strict=True)):
        if isinstance(uuid, dict) and uuid.get("stat") == "error":
            failures[CaptureError.from_body(uuid).label] += 1
        elif isinstance(uuid, str) and isinstance(rid, int) and not isinstance(rid, bool):
            created.append(Created(rid, uuid, slot))
        else:
            failures["bad result slot"] += 1
    worst = failures.most_common(1)[0][0] if failures else None
    return Outcome(worst, tuple(created), failures)


def judge_expected_error(status: int, content: bytes | None, expected: Expectation,
                         error: BaseException | None = None) -> Outcome:
    """A deliberately bad request succeeds only if it got exactly the ``expected`` error."""
    if error is not None and not status:
        return Outcome(transport_label(error))
    try:
        body = loads_strict(content or b"")
    except JSONSyntaxError:
        return Outcome("non-JSON body" if status == 200 else f"HTTP {status}")
    if not isinstance(body, dict):
        return Outcome("non-object JSON body")
    if body.get("stat") == "ok":
        created = (Created(body["id"], body["uuid"]),) if isinstance(body.get("uuid"), str) and \
            isinstance(body.get("id"), int) else ()
        return Outcome(f"accepted a bad request (expected {expected.label})", created)
    if body.get("stat") != "error":
        return Outcome("body without stat")
    got = CaptureError.from_body(body)
    if got.code != expected.code:
        return Outcome(f"got {got.label}, expected {expected.label}")
    for name in ("argument_name", "attribute_name"):
        want = getattr(expected, name)
        if want is not None and getattr(got, name) != want:
            return Outcome(f"got {name} {getattr(got, name)!r}, expected {expected.label}")
    return Outcome(None)

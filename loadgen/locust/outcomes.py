"""Outcomes judged by the response body, because Capture answers HTTP 200 for its errors.

A load tool that trusts the HTTP status reports 0% failures while every request fails. Here each
answer becomes an :class:`Outcome`: ``failure`` is ``None`` for a success, otherwise a short label
of bounded cardinality (``"361 unique_violation"``, ``"HTTP 503"``, ``"non-JSON body"``,
``"timeout"``) so the Locust failure table groups them. No Locust import: the judges take the HTTP
status, the body bytes and the transport exception, and are unit-tested on plain values.

The answer is read by :func:`loadgen.answers.parse_answer`, the parser the client and the conformance
properties use too; ``judge_create`` puts a fast path in front of it for the common ok body.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from loadgen.answers import Answer, BadSlot, Created, bulk_slots, created, parse_answer
from loadgen.errors import TransportError
from loadgen.failures import Expected, describe
from loadgen.wire import loads_fast

_NO_FAILURES: Mapping[str, int] = MappingProxyType({})


# An Outcome is a named tuple, not a frozen dataclass: one is made per request on the load
# generator's hot path, and a tuple is built in half the time.
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


def create_outcome(answer: Answer) -> Outcome:
    """``entity.create`` judged from its parsed answer: ``{"id": int, "uuid": str, "stat": "ok"}`` or a failure."""
    body = answer.ok_body
    if body is None:
        return Outcome(answer.label)
    done = created(body)
    return Outcome(None, (done,)) if done is not None else Outcome("ok body without id/uuid")


def judge_create(status: int, content: bytes | None, error: BaseException | None = None) -> Outcome:
    """``entity.create``: ``{"id": int, "uuid": str, "stat": "ok"}`` or an error object.

    The usual answer, a well-formed ok body, is read by the fast parser; anything else is judged
    by :func:`create_outcome` on the strict parse, which names what is wrong with it (both agree on
    every answer: tests/locust/test_fast_paths.py).
    """
    if status == 200 and content:
        try:
            fast = loads_fast(content)
        except ValueError:
            fast = None
        # Exactly the three keys, in exactly 5 strings (10 quotes): no duplicate key hid from orjson,
        # which keeps the last of them where the strict parser refuses the body.
        if type(fast) is dict and len(fast) == 3 and fast.get("stat") == "ok" and content.count(b'"') == 10:
            rid, uuid = fast.get("id"), fast.get("uuid")
            if type(rid) is int and type(uuid) is str:
                return Outcome(None, (Created(rid, uuid),))
    if error is not None and not status:
        return Outcome(transport_label(error))
    return create_outcome(parse_answer(status, content or b""))


def judge_bulk(status: int, content: bytes | None, sent: int, error: BaseException | None = None) -> Outcome:
    """``entity.bulkCreate``: every per-record error is counted.

    The request fails on an envelope error, a malformed answer, or when any record failed (named by
    the most frequent record error); ``record_failures`` counts every failed slot.
    """
    if error is not None and not status:
        failure = transport_label(error)
        return Outcome(failure, (), Counter({failure: sent}))
    answer = parse_answer(status, content or b"")
    body = answer.ok_body
    if body is None:
        return Outcome(answer.label, (), Counter({str(answer.label): sent}))
    try:
        slots = bulk_slots(body, sent)
    except TransportError:
        label = "ok body with bad result arrays"
        return Outcome(label, (), Counter({label: sent}))
    made: list[Created] = []
    failures: Counter[str] = Counter()
    for slot in slots:
        if isinstance(slot, Created):
            made.append(slot)
        else:
            failures["bad result slot" if isinstance(slot, BadSlot) else slot.label] += 1
    worst = failures.most_common(1)[0][0] if failures else None
    return Outcome(worst, tuple(made), failures)


def judge_expected_error(status: int, content: bytes | None, expected: Expected,
                         error: BaseException | None = None) -> Outcome:
    """A deliberately bad request succeeds only if it got exactly the ``expected`` error: judged by
    ``Expected.met_by`` and named in its words, as the fuzzers and ``loadgen replay`` judge and name it."""
    if error is not None and not status:
        return Outcome(transport_label(error))
    answer = parse_answer(status, content or b"")
    if expected.met_by(status, answer.body):
        return Outcome(None)
    if answer.error is None:
        body = answer.ok_body
        if body is None:
            return Outcome(answer.label)
        done = created(body)
        return Outcome(f"accepted a bad request (expected {expected})", (done,) if done else ())
    return Outcome(f"got {describe(status, answer.body, '')}, expected {expected}")

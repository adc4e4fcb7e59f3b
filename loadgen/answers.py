"""A Capture answer, read once: the client, the Locust users and the conformance properties judge here.

Capture answers HTTP 200 for its errors, so an answer is judged by its body: ``stat: "error"`` is a
:class:`~loadgen.errors.CaptureError` whatever the HTTP status, ``stat: "ok"`` with status 200 is a
success, and anything else is not a Capture answer at all (a :class:`Fault`: an HTML error page, a
proxy's 502, a JSON body without ``stat``). Sans-IO, like the rest of the core: the functions take the
HTTP status and the body bytes and return typed values, so each caller adds only its own policy (the
client raises, Locust counts labels, the properties assert).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeGuard

from loadgen.errors import CaptureError, JSONSyntaxError, TransportError
from loadgen.wire import loads_strict

#: A function that hides secrets in a text the server sent back (``CaptureAuth.redact``).
Redact = Callable[[str], str]


# A named tuple, not a frozen dataclass: the load generator makes one per created record on its hot
# path, and a tuple is built in half the time.
class Created(NamedTuple):
    """One record the server says it created.

    ``record`` is the full stored record when the call asked for it (``include_record``); ``slot`` is
    the record's position in the request (0 for ``entity.create``).
    """

    id: int
    uuid: str
    record: dict[str, Any] | None = None
    slot: int = 0


class Fault(enum.Enum):
    """Why an answer is not a Capture answer; the value is how an error message says it."""

    NOT_JSON = "an answer that is not JSON"
    NOT_OBJECT = "a JSON answer that is not an object"
    BAD_STATUS = "an unexpected HTTP status"
    NO_STAT = 'an answer without "stat": "ok"'


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer, classified: ``ok``, a Capture ``error``, or a ``fault`` (exactly one of the three).

    ``body`` is the JSON object the server sent (None when it sent none), kept for the callers that
    read more of it (``id``, ``result``...).
    """

    status: int
    body: dict[str, Any] | None
    error: CaptureError | None = None
    fault: Fault | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.fault is None

    @property
    def ok_body(self) -> dict[str, Any] | None:
        """The body of an ok answer, None for any other."""
        return self.body if self.ok else None

    @property
    def label(self) -> str | None:
        """A short name of bounded cardinality for what went wrong (None when ok), for load stats:
        ``"361 unique_violation"``, ``"HTTP 503"``, ``"non-JSON body"``."""
        if self.error is not None:
            return self.error.label
        if self.fault is Fault.NOT_JSON:  # an HTML error page is named by its status
            return "non-JSON body" if self.status == 200 else f"HTTP {self.status}"
        if self.fault is Fault.NOT_OBJECT:
            return "non-object JSON body"
        if self.fault is Fault.BAD_STATUS:
            return f"HTTP {self.status}"
        if self.fault is Fault.NO_STAT:
            return "body without stat"
        return None


def parse_answer(status: int, content: bytes, redact: Redact | None = None) -> Answer:
    """Classify one answer. ``redact`` is applied to the error object's texts before they are kept."""
    try:
        body = loads_strict(content)
    except JSONSyntaxError:
        return Answer(status, None, fault=Fault.NOT_JSON)
    if not isinstance(body, dict):
        return Answer(status, None, fault=Fault.NOT_OBJECT)
    stat = body.get("stat")
    if stat == "error":
        return Answer(status, body, error=_error(body, status, redact))
    if status != 200:
        return Answer(status, body, fault=Fault.BAD_STATUS)
    if stat != "ok":
        return Answer(status, body, fault=Fault.NO_STAT)
    return Answer(status, body)


def created(body: Mapping[str, Any], *, include_record: bool = False) -> Created | None:
    """The record an ``entity.create`` ok body names (``id`` integer, ``uuid`` string), else None."""
    id_, uuid = body.get("id"), body.get("uuid")
    if not _is_int(id_) or not isinstance(uuid, str):
        return None
    record = body.get("result") if include_record else None
    return Created(id_, uuid, record if isinstance(record, dict) else None)


class BadSlot(NamedTuple):
    """A ``bulkCreate`` slot that is neither an (id, uuid) pair nor an error object: both values as sent."""

    uuid: object
    id: object


#: What one ``bulkCreate`` slot holds.
Slot = Created | CaptureError | BadSlot


def bulk_slots(body: Mapping[str, Any], sent: int, redact: Redact | None = None) -> list[Slot]:
    """One outcome per input record of an ``entity.bulkCreate`` ok body, in input order.

    The positional ``uuid_results`` / ``results`` arrays hold an error object in both arrays for a
    refused record; the ``uuid_results`` one is taken (as Janrain's bulk loader does), and an error in
    either array alone still marks the slot failed. Arrays that are missing or not ``sent`` long raise
    ``TransportError``: no slot can then be trusted.
    """
    uuids, ids = body.get("uuid_results"), body.get("results")
    if not isinstance(uuids, list) or not isinstance(ids, list):
        raise TransportError("entity.bulkCreate: the answer lacks the uuid_results and results arrays")
    if not len(uuids) == len(ids) == sent:
        raise TransportError(f"entity.bulkCreate: {sent} records sent but {len(uuids)} uuid_results and "
                             f"{len(ids)} results received")
    slots: list[Slot] = []
    for position, (uuid, id_) in enumerate(zip(uuids, ids, strict=True)):
        if isinstance(uuid, str) and _is_int(id_):
            slots.append(Created(id_, uuid, None, position))
            continue
        error = next((s for s in (uuid, id_) if isinstance(s, dict) and s.get("stat") == "error"), None)
        slots.append(_error(error, None, redact) if error is not None else BadSlot(uuid, id_))
    return slots


def _error(obj: Mapping[str, Any], status: int | None, redact: Redact | None) -> CaptureError:
    if redact is not None:
        obj = {k: redact(v) if isinstance(v, str) else v for k, v in obj.items()}
    return CaptureError.from_body(obj, http_status=status)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)

"""When a failed call may be sent again: the client's retry policy and what a broken connection means.

The question is the same for both: did the server perhaps already do what was asked? A refused
connection means no; a connection that broke after the request left, or a late answer, means maybe,
and a create must then not be repeated (it would create the records twice).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from loadgen.errors import CaptureError, Replay, TransientError, TransportError, UsageError

T = TypeVar("T")
#: Capture codes and HTTP statuses a busy or flaky domain answers now and then (:func:`retry_transient`).
TRANSIENT = frozenset({500, 503, 504, 510})
TRANSIENT_ATTEMPTS = 4
TRANSIENT_BACKOFF = 0.5

#: The server refused these without doing anything, so even a create may be repeated.
_NOT_PROCESSED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: The connection broke, or the answer was late, after the request left: the server may have committed it.
_MAYBE_PROCESSED = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout,
                    httpx.WriteTimeout)


def transport_replay(exc: httpx.TransportError) -> Replay | None:
    """Which calls may be repeated after ``exc``: any (nothing reached the server), idempotent ones, or none."""
    if isinstance(exc, _NOT_PROCESSED):
        return Replay.ANY_CALL
    return Replay.IDEMPOTENT if isinstance(exc, _MAYBE_PROCESSED) else None


@dataclass(frozen=True)
class Retry:
    """Repeat calls that failed with a retryable code (510 simultaneous-call limit, 500, 504), a 5xx
    status, a client-side timeout, or a refused or broken connection (``errors.Replay`` decides which).

    ``attempts`` counts the first try. The n-th retry waits ``min(max_backoff, backoff * 2**(n-1))``
    plus up to ``jitter`` times that at random, so many workers hit by one 510 do not return in step.

    Creates are special: ``entity.create`` and ``entity.bulkCreate`` are not idempotent. After a 504
    or a connection reset the server may already have committed the records, and a repeat would
    create them twice (or, with a unique email, fail with 361 and lose the ids of the first
    success), which corrupts exactly the counts a load test or a migration reports. So a create is
    retried only when the server surely did nothing (``Replay.ANY_CALL``: 510, connection refused), unless
    ``retry_creates=True`` says duplicates are acceptable. Load tests pass no ``Retry`` at all: they
    must see every error.
    """

    attempts: int = 3
    backoff: float = 0.25
    jitter: float = 0.5
    max_backoff: float = 8.0
    retry_creates: bool = False

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.jitter < 0 or self.max_backoff < 0:
            raise UsageError(f"bad retry policy {self!r}: attempts >= 1 and non-negative delays")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before the ``retry``-th retry (1-based)."""
        base = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return float(base + rng.uniform(0.0, base * self.jitter))

    def allows(self, exc: CaptureError | TransportError, *, creates: bool, attempt: int) -> bool:
        """Whether the call that failed with ``exc`` on try ``attempt`` may be sent again (``exc.replay``)."""
        if attempt >= self.attempts or exc.replay is None:
            return False
        return exc.replay is Replay.ANY_CALL or not creates or self.retry_creates


def retry_transient(call: Callable[[], T]) -> T:
    """``call()``, tried up to ``TRANSIENT_ATTEMPTS`` times in all while it fails with a transient server error,
    with a doubling pause; then ``TransientError`` from the last one.

    For the tool's own calls around a test (the preflight, cleanup's lookups, the fuzzers' deletes), which
    must survive a busy domain; calls under test take a :class:`Retry` or none. Only for calls that are safe
    to repeat: reads, and deletes (a repeat after one that went through is a not-found, not a harm)."""
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            return call()
        except (CaptureError, TransportError) as exc:
            if not _transient(exc):
                raise
            if attempt == TRANSIENT_ATTEMPTS:
                raise TransientError(str(exc)) from exc
            time.sleep(TRANSIENT_BACKOFF * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # the loop returns or raises


def _transient(exc: CaptureError | TransportError) -> bool:
    """A busy server's answer, or a connection that broke or timed out after the request left (a refused one
    is not: nothing listens there, and waiting would only delay saying so)."""
    if isinstance(exc, CaptureError):
        return exc.code in TRANSIENT or exc.http_status in TRANSIENT
    return exc.status in TRANSIENT or (exc.status is None and exc.replay is Replay.IDEMPOTENT)

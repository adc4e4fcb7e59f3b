"""The fault catalog: what the sandbox can do to a call to rehearse a load test against a bad day.

Each fault is small and independent: added latency, a random error rate, a per-client limit on
simultaneous calls (Capture's 510), and a read-after-write lag for ``entity.find``/``entity.count``.
Faults are drawn before a call touches the database, so an injected error never leaves a write behind
and a retry is always safe.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from loadgen.errors import CaptureError, Code, UsageError, capture_error

_LATENCY = re.compile(
    r"\s*(?:(?P<fixed>\d+(?:\.\d+)?)(?:ms)?"
    r"|uniform:(?P<lo>\d+(?:\.\d+)?)-(?P<hi>\d+(?:\.\d+)?)"
    r"|exp:(?P<mean>\d+(?:\.\d+)?)"
    r"|normal:(?P<mu>\d+(?:\.\d+)?),(?P<sd>\d+(?:\.\d+)?))\s*"
)


def parse_latency(spec: str) -> Callable[[random.Random], float]:
    """A sampler of added latency in seconds from a spec in milliseconds.

    ``"25"`` (fixed), ``"uniform:10-50"``, ``"exp:20"`` (mean) or ``"normal:50,10"`` (never negative).
    """
    m = _LATENCY.fullmatch(spec)
    if m is None:
        raise UsageError(f"faults: bad latency {spec!r} (expected 25, uniform:10-50, exp:20 or normal:50,10)")
    if m["fixed"] is not None:
        fixed = float(m["fixed"]) / 1000
        return lambda rng: fixed
    if m["lo"] is not None:
        lo, hi = float(m["lo"]) / 1000, float(m["hi"]) / 1000
        if hi < lo:
            raise UsageError(f"faults: bad latency {spec!r}: the upper bound is below the lower one")
        return lambda rng: rng.uniform(lo, hi)
    if m["mean"] is not None:
        mean = float(m["mean"]) / 1000
        return lambda rng: rng.expovariate(1 / mean) if mean > 0 else 0.0
    mu, sd = float(m["mu"]) / 1000, float(m["sd"]) / 1000
    return lambda rng: max(0.0, rng.gauss(mu, sd))


@dataclass(frozen=True, slots=True)
class Faults:
    """Fault modes for rehearsing load tests; all off by default.

    ``accept_nan`` is a test switch that deliberately breaks strict JSON parsing, so the fuzzers can
    prove that their properties are able to fail.
    """

    latency: str = ""
    error_rate: float = 0.0
    error_code: int = 500
    concurrency_limit: int = 0
    limit_http_status: bool = False
    read_lag: float = 0.0
    accept_nan: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise UsageError(f"faults: error_rate must be between 0 and 1, got {self.error_rate!r}")
        if self.error_code not in (500, 504):
            raise UsageError(f"faults: error_code must be 500 or 504, got {self.error_code!r}")
        if self.concurrency_limit < 0 or self.read_lag < 0:
            raise UsageError("faults: concurrency_limit and read_lag must not be negative")
        if self.latency:
            parse_latency(self.latency)

    @property
    def active(self) -> bool:
        return self != Faults()


class LimitReached(CaptureError):
    """510 api_limit_error, with the HTTP status the sandbox is set to answer it with."""


class FaultInjector:
    """Applies one client's ``Faults`` to a call; keeps that client's count of calls in flight."""

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        self.faults = faults
        self._rng = rng
        self._latency = parse_latency(faults.latency) if faults.latency else None
        self._in_flight = 0

    @asynccontextmanager
    async def call(self, request_id: str) -> AsyncIterator[None]:
        """Hold a concurrency slot for the whole call, sleep the added latency, maybe fail."""
        limit = self.faults.concurrency_limit
        if limit and self._in_flight >= limit:
            err = capture_error(Code.API_LIMIT_ERROR,
                                "The limit on total number of simultaneous API calls has been reached",
                                request_id=request_id)
            raise LimitReached(err.code, err.error, err.description, request_id=request_id,
                               http_status=510 if self.faults.limit_http_status else 200)
        self._in_flight += 1
        try:
            if self._latency is not None:
                await asyncio.sleep(self._latency(self._rng))
            if self.faults.error_rate and self._rng.random() < self.faults.error_rate:
                if self.faults.error_code == Code.TIMEOUT:
                    raise capture_error(Code.TIMEOUT, "the API call timed out (sandbox fault)",
                                        request_id=request_id)
                raise capture_error(Code.UNEXPECTED_ERROR, "unexpected error (sandbox fault)",
                                    request_id=request_id)
            yield
        finally:
            self._in_flight -= 1

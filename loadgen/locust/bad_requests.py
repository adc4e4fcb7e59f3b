"""The bad requests of the error-path scenario, each with the exact error it must get.

Drawn once per worker from the fuzzing strategies (``loadgen.strategies``), deterministically, so a
run is repeatable and the hot loop only picks from a list: generating examples costs far more than
sending them, and the strategies are the same ones ``loadgen fuzz`` uses, so the load test and the
conformance suite agree on what "bad" means.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, given, settings

from loadgen.errors import Code
from loadgen.locust.outcomes import Expectation
from loadgen.schema import Schema
from loadgen.strategies import ViolationCase, malformed_json, schema_violations
from loadgen.wire import dumps

ATTRIBUTES = Expectation(Code.INVALID_ARGUMENT.value, "attributes")


@dataclass(frozen=True, slots=True)
class BadRequest:
    """The ``attributes`` text to send and the answer that counts as a success."""

    attributes: str
    expected: Expectation
    kind: str


def bad_requests(schema: Schema, *, seed: int = 0, n: int = 40) -> list[BadRequest]:
    """About ``2 * n`` cases (malformed texts, then schema violations), shuffled by ``seed``."""
    cases: list[BadRequest] = []
    config = settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck), deadline=None)

    @config
    @given(malformed_json(schema))
    def draw_malformed(text: str | bytes) -> None:
        if isinstance(text, str):           # invalid UTF-8 cannot travel in a str form field
            cases.append(BadRequest(text, ATTRIBUTES, "malformed"))

    @config
    @given(schema_violations(schema))
    def draw_violation(case: ViolationCase) -> None:
        cases.append(BadRequest(dumps(case.record), Expectation(int(case.code), None, case.path), "violation"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # Hypothesis warns about running @given outside a test runner
        draw_malformed()
        draw_violation()
    random.Random(seed).shuffle(cases)
    return cases

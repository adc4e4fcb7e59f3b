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

from loadgen.errors import Code, UsageError
from loadgen.failures import Expected, read_failures
from loadgen.schema import Schema
from loadgen.strategies import ViolationCase, malformed_json, schema_violations
from loadgen.wire import dumps

ATTRIBUTES = Expected(Code.INVALID_ARGUMENT.value, argument="attributes")


@dataclass(frozen=True, slots=True)
class BadRequest:
    """The ``attributes`` text to send and the answer that counts as a success."""

    attributes: str
    expected: Expected
    kind: str


def corpus_requests(path: str) -> list[BadRequest]:
    """The recorded bad ``entity.create`` requests of a ``failures.jsonl`` (``--corpus``): those whose contract
    is an error, each with that error as its expectation (a request that must succeed is no bad request)."""
    cases = []
    for failure in read_failures(path):
        text = failure.raw_params().get("attributes")
        if failure.operation == "entity.create" and isinstance(text, str) and failure.expected.code is not None:
            cases.append(BadRequest(text, failure.expected, "corpus"))
    if not cases:
        raise UsageError(f"--corpus {path}: no recorded bad entity.create request (one that must get an error)")
    return cases


def bad_requests(schema: Schema, *, seed: int = 0, n: int = 40, extra: list[BadRequest] | None = None
                 ) -> list[BadRequest]:
    """About ``2 * n`` cases (malformed texts, then schema violations), shuffled by ``seed``; ``extra`` ones
    (a corpus) are repeated to make about half of the list, so a short run still sends each of them."""
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
        cases.append(BadRequest(dumps(case.record), Expected(int(case.code), attribute=case.path), "violation"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # Hypothesis warns about running @given outside a test runner
        draw_malformed()
        draw_violation()
    if extra:
        cases += extra * max(1, len(cases) // len(extra))
    random.Random(seed).shuffle(cases)
    return cases

"""The bad requests of the error-path scenario, each with the exact error it must get.

Drawn once per worker from the fuzzing strategies (``loadgen.strategies``), deterministically, so a
run is repeatable and the hot loop only picks from a list. When the strategies are missing, a
built-in set of malformed ``attributes`` texts and schema violations is used instead.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass
from typing import Any

from loadgen.errors import Code
from loadgen.locust.outcomes import Expectation

ATTRIBUTES = Expectation(Code.INVALID_ARGUMENT.value, "attributes")

#: Texts that no strict JSON parser accepts, or not an object: 200 invalid_argument [attributes].
BUILTIN_MALFORMED: tuple[str, ...] = (
    '{"email": "a@example.com"',
    '{"email": NaN}',
    "{'email': 'a@example.com'}",
    '{"email": "a@example.com",}',
    '{"givenName": "A", "givenName": "B"}',
    '{"email" "a@example.com"}',
    '{"birthday": 1999-01-01}',
    "[]",
    '"just a string"',
    '{"email": "a@example.com"} trailing',
)

#: Well-formed records that break the schema: (attributes, code, attribute_name).
BUILTIN_VIOLATIONS: tuple[tuple[dict[str, Any], Code, str], ...] = (
    ({"noSuchAttribute": 1}, Code.UNKNOWN_ATTRIBUTE, "/noSuchAttribute"),
    ({"givenName": {"not": "a string"}}, Code.INVALID_JSON_TYPE, "/givenName"),
    ({"id": 7}, Code.ID_IN_NEW_RECORD, "/id"),
    ({"birthday": "1999-13-45"}, Code.INVALID_DATE_TIME, "/birthday"),
)


@dataclass(frozen=True, slots=True)
class BadRequest:
    """The ``attributes`` text to send and the answer that counts as a success."""

    attributes: str
    expected: Expectation
    kind: str


def builtin_bad_requests() -> list[BadRequest]:
    from loadgen.wire import dumps

    cases = [BadRequest(text, ATTRIBUTES, "malformed") for text in BUILTIN_MALFORMED]
    cases += [BadRequest(dumps(record), Expectation(code.value, None, path), "violation")
              for record, code, path in BUILTIN_VIOLATIONS]
    return cases


def _from_strategies(schema: Any, n: int) -> list[BadRequest] | None:
    """``n`` cases drawn from the fuzzing strategies, or None when they are not available."""
    try:
        from hypothesis import HealthCheck, Phase, given, settings

        from loadgen.strategies import malformed_json, schema_violations
        from loadgen.wire import dumps
    except ImportError:
        return None
    cases: list[BadRequest] = []
    config = settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck), deadline=None)

    @config
    @given(malformed_json(schema))
    def draw_malformed(text: str | bytes) -> None:
        if isinstance(text, str):
            cases.append(BadRequest(text, ATTRIBUTES, "malformed"))

    @config
    @given(schema_violations(schema))
    def draw_violation(case: Any) -> None:
        cases.append(BadRequest(dumps(case.record), Expectation(int(case.code), None, case.path), "violation"))

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draw_malformed()
            draw_violation()
    except Exception:  # a strategy that cannot run here must not stop the load test
        return None
    return cases or None


def bad_requests(schema: Any, *, seed: int = 0, n: int = 40) -> list[BadRequest]:
    """The catalogue of one worker, shuffled by ``seed``: strategy-drawn when possible."""
    cases = (_from_strategies(schema, n) if schema is not None else None) or builtin_bad_requests()
    random.Random(seed).shuffle(cases)
    return cases

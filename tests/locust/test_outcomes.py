"""Outcomes judged by the body: Capture's HTTP 200 errors are failures named by their code."""

from __future__ import annotations

import json
from collections import Counter

from loadgen.answers import Created
from loadgen.errors import Code
from loadgen.failures import Expected
from loadgen.locust.outcomes import (
    judge_bulk,
    judge_create,
    judge_expected_error,
    transport_label,
)


def body(value: object) -> bytes:
    return json.dumps(value).encode()


UNIQUE = {"stat": "error", "code": 361, "error": "unique_violation", "error_description": "dup"}


def test_create_ok() -> None:
    outcome = judge_create(200, body({"id": 7, "uuid": "u-7", "stat": "ok"}))
    assert outcome.ok and outcome.created == (Created(7, "u-7"),)


def test_create_error_at_http_200_is_a_failure_named_by_code() -> None:
    outcome = judge_create(200, body(UNIQUE))
    assert outcome.failure == "361 unique_violation" and not outcome.created


def test_create_transport_and_body_failures() -> None:
    assert judge_create(200, b"<html>oops</html>").failure == "non-JSON body"
    assert judge_create(503, b"Service Unavailable").failure == "HTTP 503"
    assert judge_create(510, body({"stat": "error", "code": 510})).failure == "510 api_limit_error"
    assert judge_create(500, body({"stat": "ok", "id": 1, "uuid": "u"})).failure == "HTTP 500"
    assert judge_create(0, None, TimeoutError("timed out")).failure == "timeout"
    assert judge_create(0, None, ConnectionRefusedError()).failure == "connection refused"
    assert judge_create(200, body({"stat": "ok"})).failure == "ok body without id/uuid"
    assert judge_create(200, body([1])).failure == "non-object JSON body"
    assert judge_create(200, b'{"stat": "ok", "id": NaN}').failure == "non-JSON body"


def test_transport_label_names() -> None:
    class GeventTimeout(Exception):
        pass

    assert transport_label(GeventTimeout()) == "timeout"
    assert transport_label(ConnectionResetError()) == "connection reset"
    assert transport_label(OSError("x")) == "no answer: OSError"


def test_bulk_counts_every_record_error() -> None:
    length = {**UNIQUE, "code": 363, "error": "length_violation"}
    answer = {"stat": "ok", "uuid_results": ["a", UNIQUE, "c", UNIQUE, length],
              "results": [1, UNIQUE, 3, UNIQUE, length]}
    outcome = judge_bulk(200, body(answer), 5)
    assert [(c.id, c.uuid, c.slot) for c in outcome.created] == [(1, "a", 0), (3, "c", 2)]
    assert outcome.record_failures == Counter({"361 unique_violation": 2, "363 length_violation": 1})
    assert outcome.failure == "361 unique_violation"


def test_bulk_all_ok_and_envelope_error() -> None:
    ok = judge_bulk(200, body({"stat": "ok", "uuid_results": ["a", "b"], "results": [1, 2]}), 2)
    assert ok.ok and len(ok.created) == 2 and not ok.record_failures
    env = judge_bulk(200, body({"stat": "error", "code": 200, "error": "invalid_argument",
                                "argument_name": "all_attributes"}), 100)
    assert env.failure == "200 invalid_argument" and env.record_failures == Counter({"200 invalid_argument": 100})
    short = judge_bulk(200, body({"stat": "ok", "uuid_results": ["a"], "results": [1]}), 2)
    assert short.failure == "ok body with bad result arrays"


def test_expected_error_exact_match_only() -> None:
    want = Expected(Code.INVALID_ARGUMENT.value, argument="attributes")
    right = {"stat": "error", "code": 200, "error": "invalid_argument", "argument_name": "attributes"}
    assert judge_expected_error(200, body(right), want).ok
    wrong_arg = {**right, "argument_name": "type_name"}
    assert judge_expected_error(200, body(wrong_arg), want).failure == \
        "got 200 invalid_argument [argument=type_name], expected 200 invalid_argument [argument=attributes]"
    assert judge_expected_error(200, body(UNIQUE), want).failure == \
        "got 361 unique_violation, expected 200 invalid_argument [argument=attributes]"
    accepted = judge_expected_error(200, body({"stat": "ok", "id": 9, "uuid": "z"}), want)
    assert accepted.failure == "accepted a bad request (expected 200 invalid_argument [argument=attributes])"
    assert accepted.created == (Created(9, "z"),)          # still ledgered, so clean-up removes it
    assert judge_expected_error(200, b"nope", want).failure == "non-JSON body"
    assert judge_expected_error(0, None, want, TimeoutError()).failure == "timeout"


def test_expected_violation_checks_the_attribute_path() -> None:
    want = Expected(Code.UNKNOWN_ATTRIBUTE.value, attribute="/nope")
    got = {"stat": "error", "code": 223, "error": "unknown_attribute", "attribute_name": "/nope"}
    assert judge_expected_error(200, body(got), want).ok
    assert not judge_expected_error(200, body({**got, "attribute_name": "/other"}), want).ok

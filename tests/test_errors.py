"""The error vocabulary: one table of codes, the right family for each, and a lossless wire form."""

from __future__ import annotations

import pytest

from loadgen.errors import (
    AuthError,
    CaptureError,
    Code,
    InvalidArgumentError,
    NotFoundError,
    RateLimitError,
    TransportError,
    UsageError,
    capture_error,
)


def test_codes_carry_their_wire_names() -> None:
    assert Code.INVALID_ARGUMENT.error == "invalid_argument"
    assert Code.UNIQUE_VIOLATION.label == "361 unique_violation"
    assert Code(510).error == "api_limit_error"


@pytest.mark.parametrize(
    ("code", "family"),
    [(200, InvalidArgumentError), (402, AuthError), (403, AuthError), (205, AuthError),
     (310, NotFoundError), (222, NotFoundError), (510, RateLimitError), (361, CaptureError)],
)
def test_from_body_picks_the_family(code: int, family: type[CaptureError]) -> None:
    err = CaptureError.from_body({"stat": "error", "code": code, "error": "x", "error_description": "d"})
    assert type(err) is family
    assert err.code == code


def test_wire_form_round_trips() -> None:
    err = capture_error(Code.INVALID_ARGUMENT, "attributes was not valid", argument_name="attributes",
                        request_id="geup8cd3gvcvjjnc")
    body = err.to_body()
    assert body == {"stat": "error", "code": 200, "error": "invalid_argument",
                    "error_description": "attributes was not valid", "request_id": "geup8cd3gvcvjjnc",
                    "argument_name": "attributes"}
    again = CaptureError.from_body(body)
    assert again.to_body() == body
    assert "argument=attributes" in str(again)


def test_garbage_code_is_an_unexpected_error() -> None:
    err = CaptureError.from_body({"stat": "error", "code": "nope"})
    assert err.code == 500
    assert err.retryable


def test_exit_codes_travel_on_the_classes() -> None:
    assert UsageError("x").exit_code == 2
    assert TransportError("down", status=502, snippet="<html>").exit_code == 1
    assert "HTTP 502" in str(TransportError("down", status=502, snippet="<html>"))

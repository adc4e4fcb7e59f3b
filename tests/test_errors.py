"""The error vocabulary: one table of codes, the right family for each, and a lossless wire form."""

from __future__ import annotations

import pytest

from loadgen.client import Retry
from loadgen.errors import (
    AuthError,
    CaptureError,
    Code,
    ContractFailure,
    ExitCode,
    InvalidArgumentError,
    NotFoundError,
    RateLimitError,
    Replay,
    RuntimeFailure,
    TransportError,
    UsageError,
    capture_error,
    status_replay,
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


def test_the_code_table_is_the_sdks() -> None:
    """Every code of Janrain's SDK table (jump.ios JRCaptureError.h), with the wire names we send."""
    table = {100: "missing_argument", 200: "invalid_argument", 201: "duplicate_argument",
             205: "invalid_auth_method", 221: "unknown_application", 222: "unknown_entity_type",
             223: "unknown_attribute", 232: "entity_type_exists", 233: "attribute_exists",
             234: "reserved_attribute", 310: "record_not_found", 320: "id_in_new_record",
             330: "timestamp_mismatch", 340: "invalid_data_format", 341: "invalid_json_type",
             342: "invalid_date_time", 360: "constraint_violation", 361: "unique_violation",
             362: "missing_required_attribute", 363: "length_violation", 380: "email_address_in_use",
             390: "form_validation", 402: "invalid_client_credentials", 403: "client_permission_error",
             414: "access_token_expired", 415: "authorization_code_expired", 416: "verification_code_expired",
             417: "creation_token_expired", 420: "redirect_uri_mismatch", 480: "api_feature_disabled",
             500: "unexpected_error", 504: "timeout", 510: "api_limit_error"}
    assert {c.value: c.error for c in Code} == table
    err = CaptureError.from_body({"stat": "error", "code": 330, "error_description": "x"})
    assert err.error == "timestamp_mismatch" and type(err) is CaptureError and not err.retryable


def test_misuse_runtime_failure_and_outcomes_have_their_own_exit_codes() -> None:
    assert RuntimeFailure("cannot reach x").exit_code == ExitCode.FAILURE == 1
    assert not isinstance(RuntimeFailure("x"), UsageError)
    assert (ExitCode.USAGE, ExitCode.THRESHOLD, ExitCode.INTERRUPTED) == (2, 3, 130)


@pytest.mark.parametrize("code", [c.value for c in Code])
def test_retryable_and_the_client_retry_policy_agree_on_every_code(code: int) -> None:
    err = CaptureError(code)
    retry = Retry(attempts=2)
    assert retry.allows(err, creates=False, attempt=1) == err.retryable
    # a create is repeated only when the server surely did nothing
    assert retry.allows(err, creates=True, attempt=1) == (err.replay is Replay.ANY_CALL)
    assert (err.replay is Replay.ANY_CALL) == (code == 510)


@pytest.mark.parametrize("status", [200, 400, 404, 500, 502, 503, 504, 510])
def test_retryable_and_the_client_retry_policy_agree_on_every_status(status: int) -> None:
    err = TransportError("odd answer", status=status, replay=status_replay(status))
    assert err.retryable == (status >= 500)
    assert Retry(attempts=2).allows(err, creates=False, attempt=1) == err.retryable
    assert Retry(attempts=2).allows(err, creates=True, attempt=1) == (status == 510)


def test_a_contract_failure_carries_its_curl_and_fails_like_an_assert() -> None:
    err = ContractFailure("expected 200 invalid_argument [attributes], got HTTP 200: {}", curl="curl -sS ...")
    assert isinstance(err, AssertionError) and err.exit_code == ExitCode.FAILURE and err.curl == "curl -sS ..."

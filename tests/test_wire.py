"""The shared wire format: strict JSON, form bodies, the janrain signature and Capture's timestamps."""

from __future__ import annotations

import os
import re
import subprocess
import time
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import FormError, JSONSyntaxError
from loadgen.sandbox import Sandbox
from loadgen.signing import Signer, parse_signed_date, signature, string_to_sign, verify_signature
from loadgen.wire import (
    MAX_DEPTH,
    curl_command,
    decode_form,
    dumps,
    encode_form,
    encode_form_lean,
    format_timestamp,
    loads_strict,
    now_timestamp,
    parse_date,
    parse_datetime,
)

# -- strict JSON -----------------------------------------------------------------------------------

def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(("text", "value"), [
    ('{"a": [1, 2.5, null, true, false]}', {"a": [1, 2.5, None, True, False]}),
    ('"\\u00e9\\ud83d\\ude00 \\n"', "é😀 \n"),
    ('"\\\\ud800"', "\\ud800"),  # an escaped backslash, not a surrogate escape
    ("  -0.5e-3 ", -0.0005),
    ("null", None),
    ("[]", []),
    ('{"k": {"k": {}}}', {"k": {"k": {}}}),
    ("9" * 300, int("9" * 300)),
    ("[" * MAX_DEPTH + "]" * MAX_DEPTH, _nested(MAX_DEPTH)),
])
def test_loads_strict_accepts_rfc_8259(text: str, value: Any) -> None:
    assert loads_strict(text) == value
    assert loads_strict(text.encode("utf-8")) == value


@pytest.mark.parametrize(("data", "why"), [
    ('{"a": NaN}', "NaN is not JSON"),
    ("[Infinity]", "Infinity is not JSON"),
    ("-Infinity", "-Infinity is not JSON"),
    ("1e400", "out of range"),
    ("-1e400", "out of range"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('[{"x": {"b": 1, "b": 1}}]', "duplicate key 'b'"),
    ("\ufeff{}", "not syntactically valid"),
    (b"\xef\xbb\xbf{}", "not syntactically valid"),
    ("{} x", "Extra data"),
    ('"a\tb"', "Invalid control character"),
    ("{'a': 1}", "not syntactically valid"),
    ("[1,]", "not syntactically valid"),
    ("[1] // comment", "not syntactically valid"),
    ("", "not syntactically valid"),
    ("   ", "not syntactically valid"),
    (b'{"a": "\xff"}', "invalid UTF-8 at byte 7"),
    (b'"\xed\xa0\x80"', "invalid UTF-8"),
    ('"\\ud800"', "lone surrogate"),
    ('{"a": "x\\uDC00y"}', "lone surrogate"),
    ('{"\\ud83d": 1}', "lone surrogate"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}"),
    ("[" * 100_000, "nested deeper than"),
    ("1" * 5000, "not syntactically valid"),
])
def test_loads_strict_rejects_what_rfc_8259_forbids(data: str | bytes, why: str) -> None:
    with pytest.raises(JSONSyntaxError) as info:
        loads_strict(data)
    assert why in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_late_duplicate_among_many_keys_is_found_in_linear_time() -> None:
    # the sandbox parses untrusted bodies: a quadratic scan took seconds on 20,000 keys
    n = 20_000
    text = "{" + ",".join(f'"k{i}":1' for i in range(n)) + f',"k{n - 1}":2}}'
    started = time.perf_counter()
    with pytest.raises(JSONSyntaxError, match=f"duplicate key 'k{n - 1}'"):
        loads_strict(text)
    assert time.perf_counter() - started < 1.0


def test_dumps_is_compact_utf8_and_refuses_nan() -> None:
    assert dumps({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps({"a": float("nan")})


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(_JSON)
def test_dumps_and_loads_strict_round_trip(value: Any) -> None:
    assert loads_strict(dumps(value)) == value
    assert loads_strict(dumps(value).encode("utf-8")) == value


# -- form bodies -----------------------------------------------------------------------------------

def test_form_round_trip_keeps_unicode_separators_newlines_and_empty_values() -> None:
    params = {"type_name": "user", "attributes": dumps({"givenName": "Zoë & Ann=1+2 \n", "x": "日本"}),
              "empty": "", "spaces": "a b"}
    body = encode_form(params)
    assert body.isascii() and b" " not in body and b"\n" not in body
    assert decode_form(body) == params
    assert decode_form(body.decode("ascii")) == params


def test_decode_form_keeps_blank_fields_and_the_first_of_repeated_ones() -> None:
    assert decode_form("a=1&b=&c&a=2") == {"a": "1", "b": "", "c": ""}
    assert decode_form(b"x=a+b%2Bc") == {"x": "a b+c"}
    assert decode_form("") == {}


def test_decode_form_takes_raw_utf8_like_escaped() -> None:
    assert decode_form("a=José&b=%C3%A9+€".encode()) == {"a": "José", "b": "é €"}


@pytest.mark.parametrize("body", [b"a=%ff", b"a=%ed%a0%80", b"a=\xc3", b"a=\xed\xa0\x80", b"a=\xc3%a9",
                                  "&".join(f"k{i}=1" for i in range(1001)).encode()])
def test_decode_form_rejects_bodies_that_are_not_utf8_forms(body: bytes) -> None:
    with pytest.raises(FormError):
        decode_form(body)


_FORM_PIECES = st.sampled_from(["a", "b", "=", "&", "+", " ", "%", "%2", "%2f", "%2F", "%3D", "%26", "%C3%A9",
                                 "%e9", "%ED%A0%80", "%zz", "%0A", "=\n", "_", "~", ".", "%00", "%7E"])


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.lists(_FORM_PIECES, max_size=25).map("".join))
def test_decode_form_fast_path_agrees_with_parse_qsl(body: str) -> None:
    """Bytes take the fast path, text takes parse_qsl: both must agree, errors included."""
    outcomes: list[dict[str, str] | None] = []
    for data in (body.encode("ascii"), body):
        try:
            outcomes.append(decode_form(data))
        except FormError:
            outcomes.append(None)
    assert outcomes[0] == outcomes[1]


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=30), max_size=6))
def test_any_text_form_round_trips(params: dict[str, str]) -> None:
    assert decode_form(encode_form(params)) == params
    assert decode_form(encode_form_lean(params)) == params  # "=" in a name too


def test_lean_form_escapes_an_equals_sign_only_in_names() -> None:
    assert encode_form_lean({"a=b": '{"k":"x=y"}'}) == b'a%3Db={"k":"x=y"}'


# -- janrain-signed auth ---------------------------------------------------------------------------

VECTOR = {"param1": "this is a string", "param2": "10", "param3": "one=1\ntwo=2,three=3"}


def test_the_documented_signing_test_vector() -> None:
    text = string_to_sign("/entity", "2000-01-01 01:01:01", VECTOR)
    assert text == ("/entity\n2000-01-01 01:01:01\nparam1=this is a string\nparam2=10\n"
                    "param3=one=1\ntwo=2,three=3\n")
    assert signature("bar", "/entity", "2000-01-01 01:01:01", VECTOR) == "G3N5RxCVc0d6rDLmBRGvcg2hCVY="
    headers = Signer("foo", "bar").headers("/entity", VECTOR, now=datetime(2000, 1, 1, 1, 1, 1, tzinfo=UTC))
    assert headers == {"Date": "2000-01-01 01:01:01", "Authorization": "Signature foo:G3N5RxCVc0d6rDLmBRGvcg2hCVY="}


def test_signer_uses_utc_whatever_the_callers_zone() -> None:
    local = datetime(2000, 1, 1, 6, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    signer = Signer("foo", "bar")
    headers = signer.headers("/entity", VECTOR, now=local)
    assert headers["Authorization"] == "Signature foo:G3N5RxCVc0d6rDLmBRGvcg2hCVY="
    fresh = signer.headers("/entity.create", {})
    moment = parse_signed_date(fresh["Date"])
    assert moment is not None and abs((datetime.now(UTC) - moment).total_seconds()) < 2
    assert re.fullmatch(r"Signature foo:[A-Za-z0-9+/]{27}=", fresh["Authorization"])
    # the key is prepared once and copied per request: one signer signs each text on its own
    assert signer.headers("/entity", VECTOR, now=local) == headers
    assert verify_signature(fresh["Authorization"].split(":")[1], "bar", "/entity.create", fresh["Date"], {})
    assert "bar" not in repr(signer)


_KEYS = st.sampled_from(["type_name", "attributes", "a", "a-b", "ab", "attribute_name", "uuid", "key"])


@settings(max_examples=200, derandomize=True)
@given(fixed=st.lists(st.tuples(_KEYS, st.text(max_size=8)), max_size=3), field=_KEYS, value=st.text(max_size=40))
def test_the_streaming_form_signature_is_the_plain_one(fixed: list[tuple[str, str]], field: str, value: str) -> None:
    """``form_headers`` (the load test's: the value never decoded or joined) signs what ``headers`` signs, also
    where a key is a prefix of another and the value takes part in the order (then it signs the plain way)."""
    signer = Signer("foo", "bar")
    params = {**dict(fixed), field: value}
    for _ in range(3):   # both at the same second
        fast = signer.form_headers("/entity.create", tuple(fixed), field, value.encode("utf-8"))
        plain = signer.headers("/entity.create", params)
        if fast["Date"] == plain["Date"]:
            break
    assert fast == plain
    assert verify_signature(fast["Authorization"].split(":")[1], "bar", "/entity.create", fast["Date"], params)


@pytest.mark.parametrize("secret", ["", "s", "x" * 63, "x" * 64, "x" * 65, "é" * 40, "k" * 200])
def test_the_signers_hmac_is_hmac_new_for_any_key_length(secret: str) -> None:
    """The signer keeps RFC 2104's two padded SHA-1 states itself: a key longer than the block is hashed first."""
    moment = datetime(2000, 1, 1, 1, 1, 1, tzinfo=UTC)
    want = signature(secret, "/entity", "2000-01-01 01:01:01", VECTOR)
    assert Signer("id", secret).headers("/entity", VECTOR, now=moment)["Authorization"] == f"Signature id:{want}"


def test_one_signer_signs_many_forms_each_with_its_own_date() -> None:
    """The text before the value is hashed once a second per form: other paths, fields and the next second
    start from their own text."""
    signer = Signer("foo", "bar")
    fixed = (("type_name", "user"),)
    deadline = time.monotonic() + 3.0
    seconds: set[str] = set()
    while len(seconds) < 2 and time.monotonic() < deadline:
        for path, field, value in [("/entity.create", "attributes", '{"a":1}'), ("/entity.update", "attributes", "{}"),
                                   ("/entity.create", "attributes", '{"b":"é"}'), ("/entity", "uuid", "u-1")]:
            fast = signer.form_headers(path, fixed, field, value.encode("utf-8"))
            params = {"type_name": "user", field: value}
            assert verify_signature(fast["Authorization"].split(":")[1], "bar", path, fast["Date"], params)
            seconds.add(fast["Date"])
        time.sleep(0.05)
    assert len(seconds) == 2   # a new second was signed by the same signer


def test_both_sort_orders_and_both_empty_forms() -> None:
    params = {"a": "1", "a-b": "2"}  # "-" sorts before "=", so k=v order and key order differ
    by_kv = string_to_sign("/p", "d", params)
    by_key = string_to_sign("/p", "d", params, sort_keys=True)
    assert by_kv == "/p\nd\na-b=2\na=1\n" and by_key == "/p\nd\na=1\na-b=2\n"
    assert string_to_sign("/p", "d", {}) == "/p\nd\n"
    assert string_to_sign("/p", "d", {}, trailing_newline=True) == "/p\nd\n\n"
    assert string_to_sign("/p", "d", {"a": ""}, trailing_newline=True) == "/p\nd\na=\n"
    forms = {signature("s", "/p", "d", params, sort_keys=k) for k in (False, True)}
    empty = {signature("s", "/p", "d", {}, trailing_newline=t) for t in (False, True)}
    assert len(forms) == 2 and len(empty) == 2
    for sig in forms:
        assert verify_signature(sig, "s", "/p", "d", params)
    for sig in empty:
        assert verify_signature(sig, "s", "/p", "d", {})


def test_verify_signature_rejects_any_change() -> None:
    good = signature("bar", "/entity", "2000-01-01 01:01:01", VECTOR)
    assert verify_signature(good, "bar", "/entity", "2000-01-01 01:01:01", VECTOR)
    assert not verify_signature(good, "baz", "/entity", "2000-01-01 01:01:01", VECTOR)
    assert not verify_signature(good, "bar", "/entity.find", "2000-01-01 01:01:01", VECTOR)
    assert not verify_signature(good, "bar", "/entity", "2000-01-01 01:01:02", VECTOR)
    assert not verify_signature(good, "bar", "/entity", "2000-01-01 01:01:01", {**VECTOR, "param2": "11"})
    assert not verify_signature(good, "bar", "/entity", "2000-01-01 01:01:01", {**VECTOR, "extra": ""})
    assert not verify_signature("", "bar", "/entity", "2000-01-01 01:01:01", VECTOR)
    assert not verify_signature("é" * 28, "bar", "/entity", "2000-01-01 01:01:01", VECTOR)


def test_signatures_cover_unicode_values_and_secrets() -> None:
    params = {"attributes": '{"givenName":"Zoë 日本"}', "type_name": "user"}
    sig = signature("sécret", "/entity.create", "2026-01-01 00:00:00", params)
    assert verify_signature(sig, "sécret", "/entity.create", "2026-01-01 00:00:00", params)
    assert not verify_signature(sig, "secret", "/entity.create", "2026-01-01 00:00:00", params)


@pytest.mark.parametrize(("text", "expected"), [
    ("2000-01-01 01:01:01", datetime(2000, 1, 1, 1, 1, 1, tzinfo=UTC)),
    ("2000-01-01T01:01:01", None),
    ("2000-01-01 01:01", None),
    ("2000-02-30 01:01:01", None),
    ("", None),
])
def test_parse_signed_date(text: str, expected: datetime | None) -> None:
    assert parse_signed_date(text) == expected


# -- timestamps ------------------------------------------------------------------------------------

def test_format_timestamp_is_capture_format_in_utc() -> None:
    assert format_timestamp(datetime(2013, 8, 23, 12, 38, 33, 475581, tzinfo=UTC)) == \
        "2013-08-23 12:38:33.475581 +0000"
    plus2 = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2013, 8, 23, 14, 38, 33, tzinfo=plus2)) == "2013-08-23 12:38:33.000000 +0000"
    assert format_timestamp(datetime(2013, 8, 23, 12, 38, 33)) == "2013-08-23 12:38:33.000000 +0000"
    assert format_timestamp(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01 00:00:00.000000 +0000"
    now = parse_datetime(now_timestamp())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \+0000", now_timestamp())
    assert now is not None and abs((datetime.now(UTC) - now).total_seconds()) < 5


@pytest.mark.parametrize(("text", "expected"), [
    ("2015-12-15T07:36:25Z", datetime(2015, 12, 15, 7, 36, 25, tzinfo=UTC)),
    ("2015-12-15T07:36:25", datetime(2015, 12, 15, 7, 36, 25, tzinfo=UTC)),
    ("2015-12-15 07:36:25", datetime(2015, 12, 15, 7, 36, 25, tzinfo=UTC)),
    ("2015-12-15T07:36:25.5Z", datetime(2015, 12, 15, 7, 36, 25, 500000, tzinfo=UTC)),
    ("2015-12-15T07:36:25.000001+00:00", datetime(2015, 12, 15, 7, 36, 25, 1, tzinfo=UTC)),
    ("2015-12-15T07:36:25+05:30", datetime(2015, 12, 15, 2, 6, 25, tzinfo=UTC)),
    ("2015-12-15T07:36:25-0800", datetime(2015, 12, 15, 15, 36, 25, tzinfo=UTC)),
    ("2013-08-23 12:38:33.475581 +0000", datetime(2013, 8, 23, 12, 38, 33, 475581, tzinfo=UTC)),
    ("2013-08-23 12:38:33 +0000", datetime(2013, 8, 23, 12, 38, 33, tzinfo=UTC)),
    ("2015-12-31T23:30:00-01:00", datetime(2016, 1, 1, 0, 30, tzinfo=UTC)),
    ("2016-02-29T00:00:00Z", datetime(2016, 2, 29, tzinfo=UTC)),
])
def test_parse_datetime_accepts_iso_8601_and_capture_format(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", [
    "2015-12-15", "2015-12-15T07:36", "2015-12-15T24:00:00Z", "2015-12-15T07:60:00Z", "2015-12-15T07:36:61Z",
    "2015-02-29T00:00:00Z", "2015-13-01T00:00:00Z", "2015-12-15T07:36:25.1234567Z", "2015-12-15T07:36:25+24:00",
    "2015-12-15T07:36:25+0060", "2015-12-15T07:36:25+5", "20151215T073625Z", " 2015-12-15T07:36:25Z",
    "2015-12-15T07:36:25Z ", "2015-12-15 07:36:25 ", "2015-12-15T07:36:25  +0000", "٢٠١٥-١٢-١٥T07:36:25Z",
    "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-02:00", "", "yesterday",
])
def test_parse_datetime_rejects_everything_else(text: str) -> None:
    assert parse_datetime(text) is None


def test_parse_datetime_and_parse_date_refuse_non_strings() -> None:
    for value in (None, 20151215, b"2015-12-15", ["2015-12-15"]):
        assert parse_datetime(value) is None  # type: ignore[arg-type]
        assert parse_date(value) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), [
    ("1987-04-12", date(1987, 4, 12)),
    ("1881-01-29 00:00:00", date(1881, 1, 29)),
    ("19780722", date(1978, 7, 22)),  # compact, as a real 2013 call sent it
    ("19780230", None),
    ("1978072", None),
    ("19780722 00:00:00", None),
    ("2000-02-29 23:59:59", date(2000, 2, 29)),
    ("1900-02-29", None),
    ("1987-4-12", None),
    ("1987-04-12T00:00:00", None),
    ("1987-04-12 24:00:00", None),
    ("1987-04-12 00:00", None),
    ("١٩٨٧-٠٤-١٢", None),
    ("0000-01-01", None),
    (" 1987-04-12", None),
])
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)), st.sampled_from(["Z", "+00:00", "", " +0000"]))
def test_timestamps_round_trip(moment: datetime, zone: str) -> None:
    assert parse_datetime(format_timestamp(moment)) == moment
    iso = moment.replace(tzinfo=None).isoformat() + zone
    assert parse_datetime(iso) == moment


def test_the_curl_command_replays_the_request_without_writing_the_secret(sandbox: Sandbox) -> None:
    """The line a contract failure carries, run by a shell with the credentials in its environment."""
    params: dict[str, str | bytes] = {"type_name": "user", "attributes": b'{"email": "a\xff\' b@x"}'}
    line = curl_command(f"{sandbox.url}/entity.create", params)
    assert sandbox.client_secret not in line and "$CAPTURE_CLIENT_SECRET" in line and "\n" not in line
    env = {"PATH": os.environ["PATH"], "CAPTURE_CLIENT_ID": sandbox.client_id,
           "CAPTURE_CLIENT_SECRET": sandbox.client_secret}
    out = subprocess.run(["bash", "-c", line], capture_output=True, env=env, timeout=30, check=True).stdout
    body = loads_strict(out)  # the invalid UTF-8 arrived as sent: refused as Capture refuses it
    assert (body["stat"], body["code"], body["argument_name"]) == ("error", 200, "attributes"), body

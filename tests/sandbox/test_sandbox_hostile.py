"""Hostile input: each request gets a Capture error (HTTP 200, ``stat: error``, the right code), never a
500, and a normal request sent at the same time is still answered."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from loadgen import signing
from loadgen.sandbox import Sandbox

UUID = "1a5b7f5e-6f33-4bb0-9a52-4e5e0b5d0b3c"
A = "email = 'a@x.com'"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Hostile:
    """One hostile request: form ``params`` (or a raw ``body``), what must come back."""

    name: str
    op: str
    code: int
    argument: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    auth: bool = True


def _nested(levels: int, template: str, inner: str = A) -> str:
    for _ in range(levels):
        inner = template.format(inner)
    return inner


def _find(name: str, filter_: str, op: str = "entity.find") -> Hostile:
    return Hostile(name, op, 200, "filter", {"type_name": "user", "filter": filter_})


def _arg(name: str, op: str, argument: str, code: int = 200, **params: str) -> Hostile:
    return Hostile(name, op, code, argument, {"type_name": "user", **params})


def _signed_headers(client_id: str, secret: str, path: str, params: dict[str, str], skew: float) -> dict[str, str]:
    return signing.Signer(client_id, secret).headers(path, params, now=datetime.now(UTC) - timedelta(seconds=skew))


CASES = [
    # filters: nesting, size, numbers
    _find("33 nested nots", "not " * 33 + A),
    _find("40 bangs", "!" * 40 + A),
    _find("33 nested parentheses", "(" * 33 + A + ")" * 33),
    _find("1001 or terms", " or ".join([f"uuid = '{UUID}'"] * 1001)),
    _find("1001 and terms", " and ".join([A] * 1001), op="entity.count"),
    _find("nesting that would overflow SQLite's parser", _nested(12, f"({A} or {A} and not ({{}}))")),
    _find("nested plurals", _nested(12, "(statuses.status = 'x' or not statuses.status = 'y' and ({}))")),
    _find("longer than 65,536 characters", "email = '" + "a" * 70_000 + "'"),
    _find("integer of 5,000 digits", "id = " + "9" * 5000),
    _find("integer of 5,000 digits, count", "id > " + "9" * 5000, op="entity.count"),
    _find("integer beyond 64 bits", "id = 9223372036854775808"),
    _find("negative integer beyond 64 bits", "id > -9223372036854775809"),
    _find("20-digit integer", "id = 99999999999999999999"),
    _find("non-ASCII digits, 5,000", "id = " + "\u0669" * 5000),
    _find("one non-ASCII digit", "id = \u0663"),
    _find("float overflow", "id = 1e999"),
    _find("a NUL byte", "email = '\x00"),
    _find("unterminated string", "email = 'a"),
    _find("ends early", "email = "),
    _find("unknown attribute", "nothing = 1"),
    _find("password attribute", "password = 'x'"),
    _find("plural compared", "statuses = 'x'"),
    _find("trailing garbage", A + " garbage"),
    _find("only not", "not"),
    _find("unbalanced parenthesis", "(" + A),
    _find("5,000 opening parentheses", "(" * 5000),
    # numeric parameters
    _arg("max_results --5", "entity.find", "max_results", max_results="--5"),
    _arg("max_results -5", "entity.find", "max_results", max_results="-5"),
    _arg("max_results 0", "entity.find", "max_results", max_results="0"),
    _arg("max_results above the maximum", "entity.find", "max_results", max_results="10001"),
    _arg("max_results of 5,000 digits", "entity.find", "max_results", max_results="9" * 5000),
    _arg("max_results in non-ASCII digits", "entity.find", "max_results", max_results="\u0663"),
    _arg("max_results 1e3", "entity.find", "max_results", max_results="1e3"),
    _arg("max_results +5", "entity.find", "max_results", max_results="+5"),
    _arg("max_results 0x10", "entity.find", "max_results", max_results="0x10"),
    _arg("first_result -1", "entity.find", "first_result", first_result="-1"),
    _arg("first_result of 30 digits", "entity.find", "first_result", first_result="9" * 30),
    # sort_on
    _arg("2,000 sort_on terms", "entity.find", "sort_on", sort_on=json.dumps(["email"] * 2000)),
    _arg("33 sort_on terms", "entity.find", "sort_on", sort_on=json.dumps(["email"] * 33)),
    _arg("sort_on object", "entity.find", "sort_on", sort_on='{"email": 1}'),
    _arg("sort_on numbers", "entity.find", "sort_on", sort_on="[1, 2]"),
    _arg("sort_on unknown attribute", "entity.find", "sort_on", sort_on='["nothing"]'),
    _arg("sort_on plural", "entity.find", "sort_on", sort_on='["statuses"]'),
    _arg("sort_on not JSON", "entity.find", "sort_on", sort_on="[email"),
    _arg("sort_on nested 100,000 deep", "entity.find", "sort_on", sort_on="[" * 100_000),
    # record keys
    _arg("key_value object", "entity", "key_value", key_attribute="email", key_value='{"a": 1}'),
    _arg("key_value array", "entity", "key_value", key_attribute="email", key_value="[1]"),
    _arg("id key_value object", "entity", "key_value", key_attribute="id", key_value='{"a": 1}'),
    _arg("id key_value string", "entity", "key_value", key_attribute="id", key_value='"1"'),
    _arg("id key_value true", "entity", "key_value", key_attribute="id", key_value="true"),
    _arg("id key_value float", "entity", "key_value", key_attribute="id", key_value="1.5"),
    _arg("id key_value beyond 64 bits", "entity", "key_value", key_attribute="id", key_value="9" * 30),
    _arg("id key_value negative", "entity", "key_value", key_attribute="id", key_value="-1"),
    _arg("uuid key_value array", "entity", "key_value", key_attribute="uuid", key_value="[1]"),
    _arg("uuid key_value number", "entity", "key_value", key_attribute="uuid", key_value="1"),
    _arg("key_value NaN", "entity", "key_value", key_attribute="email", key_value="NaN"),
    _arg("key_value not JSON", "entity", "key_value", key_attribute="email", key_value="{"),
    _arg("id beyond 64 bits", "entity", "id", id="9223372036854775808"),
    _arg("id of 20 digits", "entity.delete", "id", id="99999999999999999999"),
    _arg("id negative", "entity", "id", id="-1"),
    _arg("id in non-ASCII digits", "entity", "id", id="\u0663"),
    _arg("id 0x1", "entity", "id", id="0x1"),
    _arg("id blank", "entity", "id", id=" "),
    _arg("uuid not a uuid", "entity", "uuid", uuid="x" * 5000),
    # record bodies
    _arg("2,001 records", "entity.bulkCreate", "all_attributes", all_attributes="[" + "{}," * 2000 + "{}]"),
    _arg("200,000 {} blocks", "entity.bulkCreate", "all_attributes", all_attributes="[" + "{}," * 200_000 + "{}]"),
    _arg("all_attributes an object", "entity.bulkCreate", "all_attributes", all_attributes="{}"),
    _arg("all_attributes nested", "entity.bulkCreate", "all_attributes", all_attributes="[" * 100_000),
    _arg("100,000 numbers", "entity.bulkCreate", "all_attributes", all_attributes="[" + "1," * 100_000 + "1]"),
    _arg("attributes an array", "entity.create", "attributes", attributes="[]"),
    _arg("attributes nested", "entity.create", "attributes", attributes="[" * 100_000),
    _arg("attributes NaN", "entity.create", "attributes", attributes='{"aboutMe": NaN}'),
    _arg("attributes duplicate keys", "entity.create", "attributes", attributes='{"email": "a", "email": "b"}'),
    _arg("attributes lone surrogate", "entity.create", "attributes", attributes='{"aboutMe": "\\ud800"}'),
    _arg("attributes over 1 MiB", "entity.create", "attributes",
         attributes='{"aboutMe": "' + "a" * (1024 * 1024 + 10) + '"}'),
    _arg("sort_on over 1 MiB", "entity.find", "sort_on", sort_on='["' + "a" * (1024 * 1024 + 10) + '"]'),
    _arg("a record over 1 MiB in a batch", "entity.bulkCreate", "all_attributes",
         all_attributes='[{"aboutMe": [' + ",".join(['"x"'] * 700_000) + "]}]"),
    Hostile("type_name of 5,000 characters", "entity.create", 222, "type_name",
            {"type_name": "u" * 5000, "attributes": "{}"}),
    # the form itself
    Hostile("invalid UTF-8, raw", "entity.create", 200, "attributes", body=b"type_name=user&attributes=\xff\xfe"),
    Hostile("invalid UTF-8, escaped", "entity.create", 200, "attributes", body=b"type_name=user&attributes=%ff"),
    Hostile("surrogate, escaped", "entity.create", 200, "attributes",
            body=b"type_name=user&attributes=%ED%A0%80"),
    Hostile("1,500 fields", "entity.create", 200, "attributes", body=b"a=" + b"&a=" * 1500),
    Hostile("JSON body", "entity.create", 200, body=b'{"type_name": "user"}', headers={"Content-Type": "text/json"}),
    Hostile("GET of a write", "entity.create", 200, params={"type_name": "user"}, method="GET"),
    Hostile("unknown operation", "entity.nothing", 200, params={"type_name": "user"}),
    # credentials
    Hostile("Bearer scheme", "entity.count", 205, params={"type_name": "user"},
            headers={"Authorization": "Bearer x"}, auth=False),
    Hostile("Basic not base64", "entity.count", 402, params={"type_name": "user"},
            headers={"Authorization": "Basic %%%"}, auth=False),
    Hostile("Basic unknown client", "entity.count", 402, params={"type_name": "user"},
            headers={"Authorization": signing.basic_authorization("nobody", "x")}, auth=False),
    Hostile("legacy unknown client", "entity.count", 402,
            params={"type_name": "user", "client_id": "nobody", "client_secret": "x"}, auth=False),
    Hostile("no credentials", "entity.count", 402, params={"type_name": "user"}, auth=False),
    Hostile("signature without a Date", "entity.count", 402, params={"type_name": "user"},
            headers={"Authorization": "Signature nobody:x"}, auth=False),
]


def _send(http: httpx.Client, case: Hostile, sandbox: Sandbox) -> httpx.Response:
    headers = dict(case.headers)
    auth = (sandbox.client_id, sandbox.client_secret) if case.auth else None
    if case.body is not None:
        headers.setdefault("Content-Type", FORM)
        return http.post(f"/{case.op}", content=case.body, headers=headers, auth=auth or httpx.USE_CLIENT_DEFAULT)
    if case.method == "GET":
        return http.get(f"/{case.op}", params=case.params, headers=headers, auth=auth or httpx.USE_CLIENT_DEFAULT)
    return http.post(f"/{case.op}", data=case.params, headers=headers, auth=auth or httpx.USE_CLIENT_DEFAULT)


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def test_the_table_is_long_enough() -> None:
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_request_gets_a_capture_error_and_others_are_served(
        case: Hostile, sandbox: Sandbox, pool: ThreadPoolExecutor) -> None:
    with httpx.Client(base_url=sandbox.url, timeout=30) as hostile, \
            httpx.Client(base_url=sandbox.url, auth=(sandbox.client_id, sandbox.client_secret), timeout=30) as normal:
        attack = pool.submit(_send, hostile, case, sandbox)
        normal_body = normal.post("/entity.count", data={"type_name": "user"}).json()
        response = attack.result(timeout=60)
    assert normal_body["stat"] == "ok"
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert body["stat"] == "error" and body["code"] == case.code, body
    assert re.fullmatch(r"[a-z0-9]{16}", body["request_id"]) and body["error_description"]
    if case.argument is not None:
        assert body.get("argument_name") == case.argument, body


@pytest.mark.parametrize("filter_", [
    "not " * 18 + A,                                                   # 'not not' is dropped
    " or ".join([f"uuid = '{UUID}'"] * 1000),                          # cleanup's chunks of uuids
    " and ".join(["not " + A] * 1000),
    _nested(32, "({})"),
    _nested(32, "not ({})"),
    "id = 9223372036854775807 or id = -9223372036854775808",
])
def test_large_but_legal_filters_are_answered(filter_: str, sandbox: Sandbox, http: httpx.Client) -> None:
    body = http.post("/entity.find", data={"type_name": "user", "filter": filter_}).json()
    assert body["stat"] == "ok", body


def test_a_thousand_uuid_terms_find_their_records(call: object, http: httpx.Client) -> None:
    made = [http.post("/entity.create", data={"type_name": "user", "attributes": json.dumps({"email": f"u{i}@x.com"})})
            .json()["uuid"] for i in range(3)]
    terms = [f"uuid = '{u}'" for u in made] + [f"uuid = '{UUID}'"] * 997
    body = http.post("/entity.find", data={"type_name": "user", "filter": " or ".join(terms)}).json()
    assert sorted(r["uuid"] for r in body["results"]) == sorted(made)


def test_raw_utf8_form_bodies_are_accepted(call: object, http: httpx.Client) -> None:
    """What ``curl -d 'attributes={"givenName":"José"}'`` sends."""
    raw = 'type_name=user&attributes={"givenName":"José","email":"jose@x.com"}'.encode()
    body = http.post("/entity.create", content=raw, headers={"Content-Type": FORM}).json()
    assert body["stat"] == "ok", body
    got = http.post("/entity", data={"type_name": "user", "uuid": body["uuid"]}).json()["result"]
    assert got["givenName"] == "José"


def test_a_signed_request_with_a_bad_date_is_refused_from_its_headers(sandbox: Sandbox, http: httpx.Client) -> None:
    params = {"type_name": "user"}
    for skew, code in [(0, None), (3600, 402)]:
        headers = _signed_headers(sandbox.client_id, sandbox.client_secret, "/entity.count", params, skew)
        body = httpx.post(f"{sandbox.url}/entity.count", data=params, headers=headers).json()
        assert body.get("code") == code, body
    headers = _signed_headers("nobody", "x", "/entity.count", params, 0)
    assert httpx.post(f"{sandbox.url}/entity.count", data=params, headers=headers).json()["code"] == 402

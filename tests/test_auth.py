"""Auth schemes through httpx.MockTransport: the handler checks each request as a server would.

The signed scheme is checked with ``signing.verify_signature``, the function the sandbox verifies with.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen import signing, wire
from loadgen.auth import (
    BasicAuth,
    LegacyParamAuth,
    SignedAuth,
    auth_from_env,
    credentials,
    make_auth,
    resolve_url,
)
from loadgen.errors import UsageError

VECTOR_DATE = datetime(2000, 1, 1, 1, 1, 1, tzinfo=UTC)
VECTOR_PARAMS = {"param1": "this is a string", "param2": "10", "param3": "one=1\ntwo=2,three=3"}
SECRET = "s3cr3t/Value+=="


def _send(auth: httpx.Auth, params: Mapping[str, str], path: str = "/entity",
          method: str = "POST") -> httpx.Request:
    """Send one form request through ``auth`` and return the request as the server received it."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"stat": "ok"})

    with httpx.Client(transport=httpx.MockTransport(handler), base_url="https://capture.test",
                      auth=auth) as http:
        if method == "POST":
            http.post(path, content=wire.encode_form(params),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            http.get(path, params=dict(params))
    assert len(seen) == 1
    return seen[0]


def _verified(request: httpx.Request, secret: str) -> bool:
    scheme, _, credentials = request.headers["Authorization"].partition(" ")
    client_id, _, given_sig = credentials.partition(":")
    params = wire.decode_form(request.content) if request.method == "POST" else dict(request.url.params)
    return scheme == "Signature" and client_id == "foo" and signing.verify_signature(
        given_sig, secret, request.url.path, request.headers["Date"], params)


def test_signed_auth_matches_the_documented_test_vector() -> None:
    request = _send(SignedAuth("foo", "bar", clock=lambda: VECTOR_DATE), VECTOR_PARAMS)
    assert request.headers["Date"] == "2000-01-01 01:01:01"
    assert request.headers["Authorization"] == "Signature foo:G3N5RxCVc0d6rDLmBRGvcg2hCVY="
    assert wire.decode_form(request.content) == VECTOR_PARAMS


def test_signed_auth_uses_the_current_utc_time_by_default() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    request = _send(SignedAuth("foo", "bar"), VECTOR_PARAMS)
    signed_at = signing.parse_signed_date(request.headers["Date"])
    assert signed_at is not None and before <= signed_at <= datetime.now(UTC)
    assert _verified(request, "bar")


@pytest.mark.parametrize("params", [
    {},
    {"attributes": '{"email":"a=b@example.com"}', "type_name": "user"},
    {"value": "line one\nline two\r\nline=three", "eq": "=", "": "empty key"},
    {"givenName": "Zoë", "familyName": "Ōsaka 大阪", "emoji": "🙂", "blank": ""},
])
def test_signed_requests_verify_on_the_server_side(params: dict[str, str]) -> None:
    request = _send(SignedAuth("foo", SECRET), params, path="/entity.create")
    assert _verified(request, SECRET)
    assert not _verified(request, SECRET + "x")


def test_signed_get_signs_the_query_string() -> None:
    request = _send(SignedAuth("foo", "bar"), {"type_name": "user", "filter": "id > 3"},
                    path="/entity.count", method="GET")
    assert _verified(request, "bar")


_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.dictionaries(_text.filter(bool), _text, max_size=6), _text.filter(bool))
def test_any_form_signed_by_the_client_verifies(params: dict[str, str], secret: str) -> None:
    request = _send(SignedAuth("foo", secret), params)
    assert wire.decode_form(request.content) == params
    assert _verified(request, secret)


def test_basic_auth_sends_the_standard_header() -> None:
    request = _send(BasicAuth("cid", SECRET), {"type_name": "user"})
    token = base64.b64encode(f"cid:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    assert wire.decode_form(request.content) == {"type_name": "user"}


def test_legacy_auth_adds_form_fields_and_keeps_the_others() -> None:
    request = _send(LegacyParamAuth("cid", SECRET), {"type_name": "user", "attributes": '{"a":"x&y=z"}'})
    assert wire.decode_form(request.content) == {
        "type_name": "user", "attributes": '{"a":"x&y=z"}', "client_id": "cid", "client_secret": SECRET}
    assert int(request.headers["Content-Length"]) == len(request.content)
    assert "Authorization" not in request.headers


def test_legacy_auth_refuses_to_put_the_secret_in_a_url() -> None:
    with pytest.raises(UsageError, match="only works with POST"):
        _send(LegacyParamAuth("cid", SECRET), {"type_name": "user"}, method="GET")


@pytest.mark.parametrize("auth", [BasicAuth("cid", SECRET), SignedAuth("cid", SECRET),
                                  LegacyParamAuth("cid", SECRET)])
def test_repr_and_redact_hide_the_secret(auth: BasicAuth) -> None:
    token = base64.b64encode(f"cid:{SECRET}".encode()).decode()
    assert SECRET not in repr(auth) and "cid" in repr(auth)
    leaked = f"secret={SECRET} encoded=s3cr3t%2FValue%2B%3D%3D header=Basic {token}"
    redacted = auth.redact(leaked)
    assert SECRET not in redacted and token not in redacted and "%2FValue" not in redacted
    assert redacted.count("***") == 3


def test_redact_finds_the_secret_json_escaped_too() -> None:
    auth = BasicAuth("cid", 'pa"ss\\word')
    echoed = wire.dumps({"error_description": f"bad secret {auth._secret}"})
    assert "pa" not in auth.redact(echoed) and "***" in auth.redact(echoed)


@pytest.mark.parametrize(("scheme", "cls"), [("basic", BasicAuth), ("signed", SignedAuth),
                                             ("janrain-signed", SignedAuth), ("LEGACY", LegacyParamAuth)])
def test_make_auth_by_scheme_name(scheme: str, cls: type) -> None:
    assert type(make_auth(scheme, "cid", SECRET)) is cls


def test_make_auth_rejects_unknown_schemes_and_empty_credentials() -> None:
    with pytest.raises(UsageError, match="unknown auth scheme 'oauth'"):
        make_auth("oauth", "cid", SECRET)
    with pytest.raises(UsageError, match="non-empty"):
        make_auth("basic", "cid", "")


def test_auth_from_env_reads_the_environment() -> None:
    env = {"CAPTURE_CLIENT_ID": "envid", "CAPTURE_CLIENT_SECRET": SECRET, "CAPTURE_AUTH": "signed"}
    auth = auth_from_env(env=env)
    assert isinstance(auth, SignedAuth) and auth.client_id == "envid"
    assert isinstance(auth_from_env(env={**env, "CAPTURE_AUTH": ""}), BasicAuth)
    assert isinstance(auth_from_env("legacy", env=env), LegacyParamAuth)


def test_auth_from_env_names_what_is_missing_and_where_credentials_come_from() -> None:
    """No flag passes credentials, so the message names the environment variables, not "pass them"."""
    with pytest.raises(UsageError) as info:
        auth_from_env(env={"CAPTURE_CLIENT_ID": "cid"})
    assert str(info.value) == ("no client credentials: CAPTURE_CLIENT_SECRET is not set (credentials come only "
                               "from the environment variables CAPTURE_CLIENT_ID and CAPTURE_CLIENT_SECRET)")
    with pytest.raises(UsageError, match=r"^no client credentials: CAPTURE_CLIENT_ID and CAPTURE_CLIENT_SECRET are "):
        auth_from_env(env={})


def test_the_secret_never_shows_in_a_repr() -> None:
    """Tracebacks print frame locals (pytest --showlocals): what holds the secret must not show it."""
    found = credentials(env={"CAPTURE_CLIENT_ID": "cid", "CAPTURE_CLIENT_SECRET": SECRET})
    auth = make_auth("signed", found.client_id, found.secret)
    for shown in (repr(found), str(found.secret), repr(auth), repr(vars(auth))):
        assert SECRET not in shown, shown
    assert found.secret.reveal() == SECRET


@pytest.mark.parametrize("url", ["https://app.us.janraincapture.com", "http://127.0.0.1:8080",
                                 "http://localhost:9000/prefix", "http://[::1]:8000"])
def test_resolve_url_accepts_tls_and_loopback(url: str) -> None:
    assert resolve_url(url) == url


def test_resolve_url_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTURE_URL", "https://env.janraincapture.com")
    assert resolve_url(None) == "https://env.janraincapture.com"
    monkeypatch.delenv("CAPTURE_URL")
    with pytest.raises(UsageError, match=r"^no Capture URL: pass base_url or set CAPTURE_URL$"):
        resolve_url(None)


def test_resolve_url_refuses_clear_text_off_loopback() -> None:
    with pytest.raises(UsageError, match=r"refusing plain http:// to capture\.example\.com"):
        resolve_url("http://capture.example.com")
    assert resolve_url("http://capture.example.com", insecure=True) == "http://capture.example.com"


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://capture.example.com", "bad Capture URL 'ftp://"),
    ("https://cid:hunter2@capture.example.com", "must not carry credentials"),
    ("https://capture.example.com/?client_secret=hunter2", "must not carry a query or fragment"),
    ("https://capture.example.com/#hunter2", "must not carry a query or fragment"),
    ("http://[::1/?hunter2", "must not carry a query"),
    ("http://[::1/", "bad Capture URL 'http://"),
])
def test_resolve_url_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        resolve_url(url)
    assert "hunter2" not in str(info.value)

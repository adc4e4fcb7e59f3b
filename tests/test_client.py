"""CaptureClient and AsyncCaptureClient against a tiny in-memory Capture behind httpx.MockTransport.

The fake speaks just enough of the API (Basic auth, create, bulkCreate with unique emails, entity,
find paged by id, count, delete) to check the client's side of the contract; tests that need
odd answers script them. tests/test_client_sandbox.py runs the same calls against the real sandbox.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from loadgen import wire
from loadgen.auth import BasicAuth, LegacyParamAuth
from loadgen.client import AsyncCaptureClient, BulkResult, CaptureClient, Created, Retry
from loadgen.errors import (
    AuthError,
    CaptureError,
    InvalidArgumentError,
    LoadgenError,
    NotFoundError,
    RateLimitError,
    TransportError,
    UsageError,
)

URL = "https://capture.test"
SECRET = "s3cr3t/Value+=="
TOKEN = base64.b64encode(f"cid:{SECRET}".encode()).decode()
NO_WAIT = Retry(attempts=3, backoff=0.0, jitter=0.0)


def error_body(code: int, error: str, description: str = "", **extra: str) -> dict[str, Any]:
    return {"stat": "error", "code": code, "error": error, "error_description": description,
            "request_id": "r" * 16, **extra}


class FakeCapture:
    """A minimal Capture in memory. ``script`` holds answers (or exceptions) served before normal handling."""

    def __init__(self, delay: float = 0.0) -> None:
        self.records: dict[int, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.script: deque[httpx.Response | Exception] = deque()
        self.delay = delay
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self.answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return self.answer(request)
        finally:
            self.in_flight -= 1

    def answer(self, request: httpx.Request) -> httpx.Response:
        params = wire.decode_form(request.content)
        op = request.url.path.rsplit("/", 1)[-1]
        with self._lock:
            self.calls.append((op, params))
            scripted = self.script.popleft() if self.script else None
        if isinstance(scripted, Exception):
            raise scripted
        if scripted is not None:
            return scripted
        if request.headers.get("Authorization") != f"Basic {TOKEN}":
            return httpx.Response(200, json=error_body(402, "invalid_client_credentials", "bad client"))
        with self._lock:
            body = getattr(self, op.replace(".", "_"))(params)
        return httpx.Response(200, json=body)

    def _store(self, attributes: dict[str, Any]) -> dict[str, Any]:
        email = str(attributes.get("email", "")).casefold()
        if email and any(str(r.get("email", "")).casefold() == email for r in self.records.values()):
            return error_body(361, "unique_violation", "Attempted to update a duplicate value",
                              attribute_name="/email")
        new_id = max(self.records, default=0) + 2  # ids need not be contiguous
        self.records[new_id] = {**attributes, "id": new_id, "uuid": f"uuid-{new_id}"}
        return {"id": new_id, "uuid": f"uuid-{new_id}", "stat": "ok"}

    def entity_create(self, params: dict[str, str]) -> dict[str, Any]:
        body = self._store(wire.loads_strict(params["attributes"]))
        if params.get("include_record") == "true" and body["stat"] == "ok":
            body["result"] = self.records[body["id"]]
        return body

    def entity_bulkCreate(self, params: dict[str, str]) -> dict[str, Any]:
        outcomes = [self._store(a) for a in wire.loads_strict(params["all_attributes"])]
        return {"uuid_results": [o["uuid"] if o["stat"] == "ok" else o for o in outcomes],
                "results": [o["id"] if o["stat"] == "ok" else o for o in outcomes], "stat": "ok"}

    def _find_one(self, params: dict[str, str]) -> dict[str, Any] | None:
        if "uuid" in params:
            return next((r for r in self.records.values() if r["uuid"] == params["uuid"]), None)
        if "id" in params:
            return self.records.get(int(params["id"]))
        value = wire.loads_strict(params["key_value"])
        return next((r for r in self.records.values() if r.get(params["key_attribute"]) == value), None)

    def entity(self, params: dict[str, str]) -> dict[str, Any]:
        record = self._find_one(params)
        return {"result": record, "stat": "ok"} if record else error_body(310, "record_not_found")

    def entity_delete(self, params: dict[str, str]) -> dict[str, Any]:
        record = self._find_one(params)
        if record is None:
            return error_body(310, "record_not_found")
        del self.records[record["id"]]
        return {"stat": "ok"}

    def _matching(self, params: dict[str, str]) -> list[dict[str, Any]]:
        after = re.search(r"id > (\d+)", params.get("filter", ""))
        return [r for i, r in sorted(self.records.items()) if after is None or i > int(after.group(1))]

    def entity_find(self, params: dict[str, str]) -> dict[str, Any]:
        page = self._matching(params)[: int(params["max_results"])]
        return {"result_count": len(page), "results": page, "stat": "ok"}

    def entity_count(self, params: dict[str, str]) -> dict[str, Any]:
        return {"total_count": len(self._matching(params)), "stat": "ok"}

    def entityType(self, params: dict[str, str]) -> dict[str, Any]:
        return {"schema": {"name": params["type_name"], "attr_defs": []}, "stat": "ok"}


@pytest.fixture
def fake() -> FakeCapture:
    return FakeCapture()


def make_client(fake: FakeCapture, **kwargs: Any) -> CaptureClient:
    kwargs.setdefault("auth", BasicAuth("cid", SECRET))
    return CaptureClient(URL, transport=httpx.MockTransport(fake), **kwargs)


def users(n: int, prefix: str = "u") -> list[dict[str, Any]]:
    return [{"email": f"{prefix}{i}@example.com", "givenName": f"N{i}"} for i in range(n)]


# -- calls ------------------------------------------------------------------------------------------

def test_create_returns_ids_and_optionally_the_record(fake: FakeCapture) -> None:
    with make_client(fake) as client:
        created = client.create({"email": "a@example.com"})
        assert created == Created(2, "uuid-2", None)
        full = client.create({"email": "b@example.com"}, include_record=True)
    assert full.record is not None and full.record["email"] == "b@example.com"
    assert fake.calls[0] == ("entity.create", {"type_name": "user", "attributes": '{"email":"a@example.com"}',
                                               "include_record": "false"})


def test_entity_by_uuid_id_or_key_then_delete(fake: FakeCapture) -> None:
    with make_client(fake) as client:
        created = client.create({"email": "k@example.com"})
        assert client.entity(uuid=created.uuid)["id"] == created.id
        assert client.entity(id=created.id)["uuid"] == created.uuid
        assert client.entity(key=("email", "k@example.com"))["id"] == created.id
        assert client.count() == 1
        client.delete(uuid=created.uuid)
        assert client.count() == 0
        with pytest.raises(NotFoundError) as info:
            client.entity(id=created.id)
    assert info.value.code == 310
    assert fake.calls[3][1]["key_value"] == '"k@example.com"'


def test_a_record_key_needs_exactly_one_selector(fake: FakeCapture) -> None:
    with make_client(fake) as client:
        with pytest.raises(UsageError, match="exactly one of uuid, id or key \\(got none\\)"):
            client.entity()
        with pytest.raises(UsageError, match="got uuid, id"):
            client.delete(uuid="u", id=3)
    assert fake.calls == []


def test_entity_type_returns_the_inner_schema(fake: FakeCapture) -> None:
    with make_client(fake, type_name="member") as client:
        assert client.entity_type() == {"name": "member", "attr_defs": []}


def test_find_pages_by_id_and_honours_limit(fake: FakeCapture) -> None:
    with make_client(fake) as client:
        client.bulk_create(users(25))
        fake.calls.clear()
        found = list(client.find(page_size=10))
        assert [r["id"] for r in found] == sorted(fake.records)
        assert [c[1].get("filter") for c in fake.calls] == [None, "id > 20", "id > 40"]
        assert all(c[1]["sort_on"] == '["id"]' for c in fake.calls)
        fake.calls.clear()
        assert len(list(client.find("email is not null", page_size=10, limit=12))) == 12
    assert [(c[1]["filter"], c[1]["max_results"]) for c in fake.calls] == [
        ("email is not null", "10"), ("(email is not null) and id > 20", "2")]


@pytest.mark.parametrize(("page_size", "limit"), [(0, None), (10_001, None), (10, -1)])
def test_find_rejects_bad_paging(fake: FakeCapture, page_size: int, limit: int | None) -> None:
    with make_client(fake) as client, pytest.raises(UsageError, match="page_size must be 1 to 10000"):
        next(client.find(page_size=page_size, limit=limit))
    assert fake.calls == []


def test_find_adds_id_to_a_restricted_attribute_list(fake: FakeCapture) -> None:
    with make_client(fake) as client:
        list(client.find(attributes=["email"]))
    assert fake.calls[0][1]["attributes"] == '["email","id"]'


def test_find_stops_when_the_server_ignores_the_paging_filter(fake: FakeCapture) -> None:
    page = {"results": [{"id": 1}, {"id": 2}], "result_count": 2, "stat": "ok"}
    fake.script.extend([httpx.Response(200, json=page), httpx.Response(200, json=page)])
    with make_client(fake) as client, pytest.raises(TransportError, match="ids do not grow"):
        list(client.find(page_size=2))


# -- errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [200, 400, 403, 500])
def test_a_stat_error_body_raises_capture_error_whatever_the_status(fake: FakeCapture, status: int) -> None:
    fake.script.append(httpx.Response(status, json=error_body(
        200, "invalid_argument", "attributes was not valid", argument_name="attributes")))
    with make_client(fake) as client, pytest.raises(InvalidArgumentError) as info:
        client.create({"email": "x@example.com"})
    err = info.value
    assert (err.code, err.error, err.argument_name, err.request_id, err.http_status) == (
        200, "invalid_argument", "attributes", "r" * 16, status)
    assert err.description == "attributes was not valid"


@pytest.mark.parametrize(("code", "family"), [(402, AuthError), (403, AuthError), (205, AuthError),
                                              (222, NotFoundError), (510, RateLimitError)])
def test_error_families(fake: FakeCapture, code: int, family: type[CaptureError]) -> None:
    fake.script.append(httpx.Response(200, json=error_body(code, "x")))
    with make_client(fake) as client, pytest.raises(family) as info:
        client.count()
    assert info.value.code == code
    assert info.value.retryable == (code == 510)


@pytest.mark.parametrize(("response", "pattern", "status"), [
    (httpx.Response(200, text="<html>maintenance</html>"), "not JSON", 200),
    (httpx.Response(502, text="<html>Bad gateway</html>"), "not JSON", 502),
    (httpx.Response(404, json={"detail": "no route"}), "unexpected HTTP status", 404),
    (httpx.Response(200, json={"total_count": 3}), 'without "stat": "ok"', 200),
    (httpx.Response(200, content=b'{"stat": "ok", "total_count": NaN}'), "not JSON", 200),
])
def test_non_capture_answers_raise_transport_errors(fake: FakeCapture, response: httpx.Response,
                                                    pattern: str, status: int) -> None:
    fake.script.append(response)
    with make_client(fake) as client, pytest.raises(TransportError, match=pattern) as info:
        client.count()
    assert info.value.status == status
    assert info.value.snippet == response.content.decode()[:200]
    assert "https://capture.test/entity.count" in str(info.value)
    assert info.value.retryable == (status >= 500)


def test_wrongly_typed_ok_answers_raise_transport_errors(fake: FakeCapture) -> None:
    fake.script.extend([httpx.Response(200, json={"stat": "ok", "total_count": "3"}),
                        httpx.Response(200, json={"stat": "ok", "id": 3})])
    with make_client(fake) as client:
        with pytest.raises(TransportError, match="lacks total_count"):
            client.count()
        with pytest.raises(TransportError, match="lacks an integer id and a string uuid"):
            client.create({})


def test_quoted_answers_are_redacted_before_they_are_cut(fake: FakeCapture) -> None:
    # the secret straddles the 200th character: cutting first would leave half of it in the message
    fake.script.extend([httpx.Response(500, text="x" * 190 + SECRET),
                        httpx.Response(200, json={"stat": "ok", "id": 3, "echo": SECRET}),
                        httpx.Response(200, json={"stat": "ok", "uuid_results": [
                            {"stat": "error", "code": 361, "error_description": f"dup {SECRET}"}, "u"],
                            "results": [{"stat": "error", "code": 361}, 5]})])
    with make_client(fake) as client:
        with pytest.raises(TransportError) as cut:
            client.count()
        with pytest.raises(TransportError) as shaped:
            client.create({})
        refused = client.bulk_create(users(2)).failed[0][1]
    assert cut.value.snippet == "x" * 190 + "***"
    assert "***" in shaped.value.snippet and SECRET[:6] not in shaped.value.snippet
    assert refused.description == "dup ***"


def test_timeouts_and_refused_connections_name_the_url(fake: FakeCapture) -> None:
    fake.script.append(httpx.ReadTimeout("timed out"))
    with make_client(fake, timeout=2.5) as client, pytest.raises(TransportError) as info:
        client.count()
    assert str(info.value) == "entity.count: no answer from https://capture.test/entity.count within 2.5s (ReadTimeout)"
    with CaptureClient(f"http://127.0.0.1:{_closed_port()}", BasicAuth("cid", SECRET)) as client, \
            pytest.raises(TransportError, match=r"cannot connect to http://127\.0\.0\.1:\d+/entity\.count"):
        client.count()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- bulk outcomes ----------------------------------------------------------------------------------

def test_bulk_create_maps_mixed_outcomes_by_position(fake: FakeCapture) -> None:
    records = [{"email": "a@example.com"}, {"email": "b@example.com"}, {"email": "A@example.com"},
               {"email": "c@example.com"}, {"email": "b@example.com"}]
    with make_client(fake) as client:
        result = client.bulk_create(records)
    assert len(result) == 5 and result.start == 0 and result.records == records
    assert [o.id for o in result.created] == [2, 4, 6]
    assert [(i, e.code, e.attribute_name) for i, e in result.failed] == [(2, 361, "/email"), (4, 361, "/email")]
    assert isinstance(result.outcomes[1], Created) and result.outcomes[1].uuid == "uuid-4"


def test_bulk_error_in_one_array_only_still_fails_that_slot(fake: FakeCapture) -> None:
    err = error_body(363, "length_violation", "too long", attribute_name="/givenName")
    fake.script.append(httpx.Response(200, json={
        "uuid_results": ["u1", err, "u3"], "results": [1, 7, err], "stat": "ok"}))
    with make_client(fake) as client:
        result = client.bulk_create(users(3))
    assert [type(o).__name__ for o in result.outcomes] == ["Created", "CaptureError", "CaptureError"]
    assert all(e.code == 363 and e.attribute_name == "/givenName" for _, e in result.failed)


@pytest.mark.parametrize(("body", "pattern"), [
    ({"uuid_results": ["u1"], "results": [1], "stat": "ok"}, "2 records sent but 1 uuid_results"),
    ({"results": [1, 2], "stat": "ok"}, "lacks the uuid_results and results arrays"),
    ({"uuid_results": ["u1", 5], "results": [1, 2], "stat": "ok"}, "slot 1 is neither"),
])
def test_bulk_answers_that_do_not_match_the_input_raise(fake: FakeCapture, body: dict[str, Any],
                                                        pattern: str) -> None:
    fake.script.append(httpx.Response(200, json=body))
    with make_client(fake) as client, pytest.raises(TransportError, match=pattern):
        client.bulk_create(users(2))


def test_bulk_envelope_error_raises(fake: FakeCapture) -> None:
    fake.script.append(httpx.Response(200, json=error_body(200, "invalid_argument", "batch too large",
                                                           argument_name="all_attributes")))
    with make_client(fake) as client, pytest.raises(InvalidArgumentError, match="all_attributes"):
        client.bulk_create(users(2))


@pytest.mark.parametrize("concurrency", [1, 3])
def test_bulk_create_all_batches_any_iterable_in_order(concurrency: int) -> None:
    fake = FakeCapture(delay=0.01)
    with make_client(fake) as client:
        results = list(client.bulk_create_all(iter(users(250)), batch_size=100, concurrency=concurrency))
    assert [(r.start, len(r)) for r in results] == [(0, 100), (100, 100), (200, 50)]
    assert sum(len(r.created) for r in results) == 250 == len(fake.records)
    assert [r.records[0]["email"] for r in results] == ["u0@example.com", "u100@example.com", "u200@example.com"]
    assert 1 <= fake.max_in_flight <= concurrency


def test_bulk_create_all_bounds_the_work_in_flight() -> None:
    fake = FakeCapture(delay=0.02)
    with make_client(fake) as client:
        results = list(client.bulk_create_all(users(100), batch_size=5, concurrency=4))
    assert len(results) == 20 and fake.max_in_flight == 4


def test_bulk_create_all_rejects_bad_sizes(fake: FakeCapture) -> None:
    with make_client(fake) as client, pytest.raises(UsageError, match="at least 1"):
        list(client.bulk_create_all(users(1), batch_size=0))


# -- retries ----------------------------------------------------------------------------------------

def _limited() -> httpx.Response:
    return httpx.Response(200, json=error_body(510, "api_limit_error", "simultaneous calls"))


def _timeout() -> httpx.Response:
    return httpx.Response(200, json=error_body(504, "timeout", "API timeout"))


def test_no_retry_by_default(fake: FakeCapture) -> None:
    fake.script.append(_limited())
    with make_client(fake) as client, pytest.raises(RateLimitError):
        client.count()
    assert len(fake.calls) == 1


@pytest.mark.parametrize("failure", [_limited, lambda: httpx.ConnectError("refused"),
                                     lambda: httpx.Response(510, text="busy")])
def test_a_create_the_server_never_processed_is_retried(fake: FakeCapture,
                                                        failure: Callable[[], Any]) -> None:
    fake.script.extend([failure(), failure()])
    with make_client(fake, retry=NO_WAIT) as client:
        assert client.create({"email": "r@example.com"}).id == 2
    assert len(fake.calls) == 3


@pytest.mark.parametrize("failure", [_timeout, lambda: httpx.ReadError("connection reset by peer"),
                                     lambda: httpx.RemoteProtocolError("server disconnected"),
                                     lambda: httpx.ReadTimeout("slow"),
                                     lambda: httpx.Response(504, text="gateway timeout")])
def test_a_create_that_may_have_committed_is_not_retried_unless_allowed(
        fake: FakeCapture, failure: Callable[[], Any]) -> None:
    fake.script.append(failure())
    with make_client(fake, retry=NO_WAIT) as client, pytest.raises((CaptureError, TransportError)):
        client.bulk_create(users(2))
    assert len(fake.calls) == 1
    fake.script.append(failure())
    with make_client(fake, retry=Retry(backoff=0, retry_creates=True)) as client:
        assert len(client.bulk_create(users(2)).created) == 2
    assert len(fake.calls) == 3


def test_reads_are_retried_after_resets_and_timeouts_until_attempts_run_out(fake: FakeCapture) -> None:
    fake.script.extend([httpx.ReadError("reset"), _timeout(), _timeout()])
    with make_client(fake, retry=NO_WAIT) as client, pytest.raises(CaptureError) as info:
        client.count()
    assert info.value.code == 504 and len(fake.calls) == 3
    fake.script.extend([httpx.ReadTimeout("slow"), httpx.ReadError("reset")])
    with make_client(fake, retry=NO_WAIT) as client:
        assert client.count() == 0
    assert len(fake.calls) == 6


@pytest.mark.parametrize("response", [httpx.Response(200, json=error_body(361, "unique_violation")),
                                      httpx.Response(404, text="oops"),
                                      httpx.Response(200, json=error_body(402, "invalid_client_credentials"))])
def test_other_failures_are_never_retried(fake: FakeCapture, response: httpx.Response) -> None:
    fake.script.append(response)
    with make_client(fake, retry=NO_WAIT) as client, pytest.raises(LoadgenError):
        client.count()
    assert len(fake.calls) == 1


@pytest.mark.parametrize("response", [httpx.Response(500, text="oops"),
                                      httpx.Response(200, json=error_body(500, "unexpected_error"))])
def test_a_server_error_is_retried_for_a_read_but_not_for_a_create(fake: FakeCapture,
                                                                   response: httpx.Response) -> None:
    """``exc.retryable`` is the policy: a 500 may come after a commit, so only the read is repeated."""
    fake.script.extend([response, httpx.Response(200, json={"stat": "ok", "total_count": 4}), response])
    with make_client(fake, retry=NO_WAIT) as client:
        assert client.count() == 4
        with pytest.raises(LoadgenError) as info:
            client.create({"email": "x@example.com"})
    assert info.value.retryable  # type: ignore[attr-defined]
    assert len(fake.calls) == 3


def test_retry_delays_grow_with_jitter_and_cap() -> None:
    import random
    policy = Retry(attempts=10, backoff=0.5, jitter=0.5, max_backoff=3.0)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(1, 6)]
    for n, delay in enumerate(delays, start=1):
        base = min(3.0, 0.5 * 2 ** (n - 1))
        assert base <= delay <= base * 1.5
    with pytest.raises(UsageError, match="bad retry policy"):
        Retry(attempts=0)


# -- secrets and configuration ----------------------------------------------------------------------

def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


def test_secrets_never_reach_messages_reprs_or_logs(fake: FakeCapture, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    echo = httpx.Response(404, text="")  # not retried (a 5xx would be: NO_WAIT retries reads)

    def echoing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=b"<pre>" + request.content + b"</pre>")

    fake.script.extend([
        httpx.Response(200, json=error_body(402, "invalid_client_credentials", f"bad secret {SECRET}")),
        httpx.Response(404, text=f"Authorization: Basic {TOKEN}"), echo,
    ])
    with make_client(fake, retry=NO_WAIT) as client:
        texts.append(repr(client))
        for _ in range(3):
            with pytest.raises(LoadgenError) as info:
                client.count()
            texts.append(_all_text(info.value))
    legacy = CaptureClient(URL, LegacyParamAuth("cid", SECRET), transport=httpx.MockTransport(echoing))
    with legacy, pytest.raises(TransportError) as info:
        legacy.count()
    assert "client_id=cid" in info.value.snippet and "client_secret=***" in info.value.snippet
    texts.append(_all_text(info.value))
    port = _closed_port()
    for auth in (BasicAuth("cid", SECRET), LegacyParamAuth("cid", SECRET)):
        with CaptureClient(f"http://127.0.0.1:{port}", auth, retry=NO_WAIT) as real, \
                pytest.raises(TransportError) as info:
            real.create({"email": "x@example.com"})
        texts.append(_all_text(info.value) + repr(real))
    texts += [r.getMessage() for r in caplog.records]
    assert any(r.name.startswith("httpcore") for r in caplog.records)  # httpx's own loggers were heard
    assert any("retrying entity.create after ConnectError" in t for t in texts)
    for text in texts:
        for needle in (SECRET, TOKEN, "s3cr3t%2FValue"):
            assert needle not in text


def test_configuration_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake: FakeCapture) -> None:
    monkeypatch.setenv("CAPTURE_URL", URL)
    monkeypatch.setenv("CAPTURE_CLIENT_ID", "cid")
    monkeypatch.setenv("CAPTURE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("CAPTURE_AUTH", "basic")
    with CaptureClient(transport=httpx.MockTransport(fake)) as client:
        assert client.count() == 0
        assert repr(client) == "CaptureClient('https://capture.test', type_name='user', " \
                               "auth=BasicAuth(client_id='cid', secret=***))"
    monkeypatch.delenv("CAPTURE_CLIENT_SECRET")
    with pytest.raises(UsageError, match=r"^no client credentials: CAPTURE_CLIENT_SECRET is not set "):
        CaptureClient()


def test_clear_text_to_a_remote_host_is_refused() -> None:
    with pytest.raises(UsageError, match="refusing plain http://"):
        CaptureClient("http://capture.example.com", BasicAuth("cid", SECRET))
    CaptureClient("http://capture.example.com", BasicAuth("cid", SECRET), insecure=True).close()


# -- async ------------------------------------------------------------------------------------------

def make_async(fake: FakeCapture, **kwargs: Any) -> AsyncCaptureClient:
    kwargs.setdefault("auth", BasicAuth("cid", SECRET))
    return AsyncCaptureClient(URL, transport=httpx.MockTransport(fake.handle_async), **kwargs)


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coro())


def test_async_client_mirrors_the_sync_surface() -> None:
    sync_api = {n for n in dir(CaptureClient) if not n.startswith("_")} - {"close"}
    async_api = {n for n in dir(AsyncCaptureClient) if not n.startswith("_")} - {"aclose"}
    assert sync_api == async_api


def test_async_calls(fake: FakeCapture) -> None:
    async def scenario() -> None:
        async with make_async(fake) as client:
            created = await client.create({"email": "a@example.com"}, include_record=True)
            assert created.record is not None and created.record["email"] == "a@example.com"
            result = await client.bulk_create([*users(3), {"email": "A@example.com"}])
            assert [i for i, _ in result.failed] == [3]
            assert (await client.entity(key=("email", "u1@example.com")))["givenName"] == "N1"
            assert [r["id"] async for r in client.find(page_size=2)] == sorted(fake.records)
            assert await client.count() == 4
            await client.delete(id=created.id)
            with pytest.raises(NotFoundError):
                await client.entity(uuid=created.uuid)
            assert (await client.entity_type())["name"] == "user"

    run(scenario)


def test_async_bulk_create_all_caps_concurrency() -> None:
    fake = FakeCapture(delay=0.01)

    async def scenario() -> None:
        async with make_async(fake, max_concurrency=3) as client:
            results = [r async for r in client.bulk_create_all(users(60), batch_size=5, concurrency=8)]
        assert [r.start for r in results] == list(range(0, 60, 5))
        assert sum(len(r.created) for r in results) == 60

    run(scenario)
    assert fake.max_in_flight == 3


def test_async_retry_and_errors(fake: FakeCapture) -> None:
    async def scenario() -> None:
        fake.script.extend([_limited(), httpx.Response(200, text="not json")])
        async with make_async(fake, retry=NO_WAIT) as client:
            with pytest.raises(TransportError, match="not JSON"):
                await client.create({"email": "z@example.com"})
        assert len(fake.calls) == 2

    run(scenario)


def test_results_are_plain_values() -> None:
    result = BulkResult([Created(1, "u")])
    assert result.created == [Created(1, "u")] and result.failed == []

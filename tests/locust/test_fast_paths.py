"""The load generator's fast paths do exactly what the slow ones did: same bytes, values and counts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from gevent.server import StreamServer
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.answers import Created, parse_answer
from loadgen.locust.load_state import CREATE_CHUNK, LoadState
from loadgen.locust.options import Settings
from loadgen.locust.outcomes import create_outcome, judge_create
from loadgen.locust.poster import FormPoster
from loadgen.profiles import default_factory
from loadgen.report.recorder import HIGHEST_NS, NS_PER_MS, Latency, new_histogram
from loadgen.scenarios import CREATE
from loadgen.signing import verify_signature
from loadgen.wire import (
    decode_form,
    dumps,
    dumps_fast,
    encode_form_lean,
    form_escape_lean,
    loads_fast,
)

ENV = {"CAPTURE_CLIENT_ID": "fast-id", "CAPTURE_CLIENT_SECRET": "fast-secret"}


def test_dumps_fast_writes_the_same_text_as_dumps_for_profiles() -> None:
    factory = default_factory(seed=11, run_id="fast")
    for record in factory.batch(300):
        assert dumps_fast(record) == dumps(record).encode("utf-8")
    assert loads_fast(dumps_fast({"a": [1, "é"]})) == {"a": [1, "é"]}
    with pytest.raises(ValueError):
        loads_fast(b"{nope")


def test_form_escape_lean_matches_encode_form_lean_on_profiles() -> None:
    factory = default_factory(seed=12, run_id="fast")
    non_ascii = 0
    for record in factory.batch(300):
        text = dumps(record)
        non_ascii += not text.isascii()
        body = b"type_name=user&attributes=" + form_escape_lean(text.encode("utf-8"))
        assert decode_form(body) == {"type_name": "user", "attributes": text}
        assert body == encode_form_lean({"type_name": "user", "attributes": text})  # the same bytes
    assert non_ascii > 30  # both paths were taken


@settings(derandomize=True, max_examples=300)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
       | st.text(st.sampled_from("ab =%&+.\t\r\n\x00\x7f\x80é€😀\\\""), max_size=300))
def test_form_escape_lean_round_trips_any_text(text: str) -> None:
    escaped = form_escape_lean(text.encode("utf-8"))
    assert escaped.isascii() and not escaped.translate(None, bytes(range(0x20, 0x7F)))
    assert b"&" not in escaped and b" " not in escaped
    assert decode_form(b"v=" + escaped) == {"v": text}
    assert b"v=" + escaped == encode_form_lean({"v": text})  # both escapers write the same bytes


def test_judge_create_fast_path_agrees_with_the_strict_one() -> None:
    ok = b'{"id":11649,"uuid":"02b0c68d-7d7a-49d8-a88d-022585b0f877","stat":"ok"}'
    assert judge_create(200, ok) == (None, (Created(11649, "02b0c68d-7d7a-49d8-a88d-022585b0f877"),), {})
    # not a well-formed ok body: the strict judge names it, as before
    assert judge_create(200, b'{"id":true,"uuid":"u","stat":"ok"}').failure == "ok body without id/uuid"
    assert judge_create(200, b'{"stat":"ok","id":1,"uuid":"u","x":NaN}').failure == "non-JSON body"
    assert judge_create(500, ok).failure == "HTTP 500"
    assert judge_create(200, b'{"stat":"error","code":361,"error":"unique_violation"}').failure == \
        "361 unique_violation"


#: Answers a load run meets: ok, errors, bulk answers (mixed slots), HTML pages, 5xx, empty, near-misses.
ANSWER_CORPUS: list[tuple[int, bytes]] = [
    (200, b'{"id":11649,"uuid":"02b0c68d-7d7a-49d8-a88d-022585b0f877","stat":"ok"}'),
    (200, b'{"stat":"ok","id":7,"uuid":"u-7","result":{"email":"a@b.c"}}'),
    (200, rb'{"stat": "ok", "id": 7, "uuid": "\u00e9t\u00e9"}'),
    (200, b'{"stat":"ok","id":1.0,"uuid":"u"}'),
    (200, b'{"stat":"ok","id":"1","uuid":"u"}'),
    (200, b'{"stat":"ok","id":1,"uuid":null}'),
    (200, b'{"id":true,"uuid":"u","stat":"ok"}'),
    (200, b'{"stat":"ok","id":1,"uuid":"u","x":NaN}'),
    (200, b'{"stat":"ok","id":1,"uuid":"u"} trailing'),
    (200, b'{"stat":"ok","id":1,"id":2,"uuid":"u"}'),
    (200, b'{"id" : 1, "id":2,"uuid":"u","stat":"ok"}'),
    (200, b'{"stat":"ok","stat":"ok","id":1,"uuid":"u"}'),
    (200, rb'{"stat":"ok","id":1,"uuid":"a\"b"}'),
    (200, rb'{"stat":"ok","id":1,"uuid":"\ud800"}'),
    (200, b'\xef\xbb\xbf{"stat":"ok","id":1,"uuid":"u"}'),
    (200, b'{"stat":"ok","id":1,"uuid":"tab\there"}'),
    (200, b'{"stat":"error","code":361,"error":"unique_violation","error_description":"dup"}'),
    (500, b'{"stat":"error","code":500,"error":"unexpected_error"}'),
    (200, b'{"stat":"error","code":"nope"}'),
    (200, b'{"stat":"ok","uuid_results":["u1",{"stat":"error","code":361}],"results":[1,{"stat":"error","code":361}]}'),
    (200, b'{"total_count":3}'),
    (200, b'[1, 2]'),
    (200, b'"ok"'),
    (200, b"<html><body>maintenance</body></html>"),
    (502, b"<html><head><title>502 Bad Gateway</title></head></html>"),
    (503, b"Service Unavailable"),
    (500, b'{"id":1,"uuid":"u","stat":"ok"}'),
    (404, b'{"detail":"no route"}'),
    (200, b""),
    (204, b""),
    (200, b"\xff\xfe{}"),
]


@pytest.mark.parametrize(("status", "content"), ANSWER_CORPUS)
def test_the_fast_front_gives_what_the_plain_parser_gives(status: int, content: bytes) -> None:
    assert judge_create(status, content) == create_outcome(parse_answer(status, content))


def test_latency_add_fills_the_histogram_as_record_value_does() -> None:
    rng = random.Random(5)
    latency, reference = Latency(), new_histogram()
    scales = (1e-7, 4e-4, 0.3, 1.0, 17.3, 999.9, 3.6e6, 5e6)
    values = [rng.choice(scales) * rng.random() for _ in range(5000)] + [0.0, 1e-9, 3.6e6, 1e7]
    for ms in values:
        latency.add(ms)
        reference.record_value(min(max(round(ms * NS_PER_MS), 1), HIGHEST_NS))
    assert latency.hist.encode() == reference.encode()
    assert latency.hist.get_total_count() == reference.get_total_count() == len(values)
    assert (latency.hist.get_min_value(), latency.hist.get_max_value()) == \
        (reference.get_min_value(), reference.get_max_value())
    assert latency.hist.get_percentile_to_value_dict([1, 50, 99.9, 100]) == \
        reference.get_percentile_to_value_dict([1, 50, 99.9, 100])


def _load_state(tmp_path: Any, auth: str) -> LoadState:
    settings = Settings(create_rate=100.0, run_dir=str(tmp_path), run_id="fast", capture_auth=auth)
    return LoadState(settings, endpoints=[CREATE.name], worker=0, workers=1, env=ENV)


@pytest.mark.parametrize("auth", ["basic", "signed"])
def test_swarm_form_body_and_headers(tmp_path: Any, auth: str) -> None:
    load = _load_state(tmp_path, auth)
    record = load.factory.make()
    body, headers = load.form("/entity.create", "attributes", dumps_fast(record))
    params = decode_form(body)
    assert params == {"type_name": "user", "attributes": dumps(record)}
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    again = load.form("/entity.create", "attributes", "{}")[1]
    if auth == "basic":
        assert again is headers and headers["Authorization"].startswith("Basic ")
    else:
        assert again is not headers and load.signed
        assert verify_signature(headers["Authorization"].rpartition(":")[2], ENV["CAPTURE_CLIENT_SECRET"],
                                "/entity.create", headers["Date"], params)
    load.close()


@pytest.mark.parametrize("auth", ["basic", "signed", "legacy"])
def test_fresh_creates_are_the_profiles_and_bodies_of_one_make_per_request(tmp_path: Any, auth: str) -> None:
    """Profiles made a chunk at a time are the ones ``make()`` makes one per request, in the same order,
    with the bytes ``form`` builds from their JSON (several chunks, so the refill is crossed)."""
    chunked, plain = _load_state(tmp_path / "a", auth), _load_state(tmp_path / "b", auth)
    for _ in range(3 * CREATE_CHUNK + 5):
        record, body, headers = chunked.fresh_create()
        expected = plain.factory.make()
        want_body, want_headers = plain.form(CREATE.path, CREATE.field, dumps_fast(expected))
        assert record == expected and body == want_body
        if auth == "signed":  # signed at the current second: the same text signed, checked by the verifier
            params = decode_form(body)
            assert verify_signature(headers["Authorization"].rpartition(":")[2], ENV["CAPTURE_CLIENT_SECRET"],
                                    CREATE.path, headers["Date"], params)
            assert params == {"type_name": "user", "attributes": dumps(record)}
        else:
            assert headers == want_headers
    chunked.close()
    plain.close()


def test_fresh_creates_stay_unique_across_workers(tmp_path: Any) -> None:
    settings = Settings(create_rate=100.0, run_dir=str(tmp_path), run_id="fast")
    loads = [LoadState(settings, endpoints=[CREATE.name], worker=w, workers=2, env=ENV) for w in (0, 1)]
    emails = [load.fresh_create()[0]["email"].casefold() for load in loads for _ in range(2 * CREATE_CHUNK + 1)]
    assert len(set(emails)) == len(emails) == 2 * (2 * CREATE_CHUNK + 1)
    for load in loads:
        load.close()


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[bytes]]]:
    """A gevent server on 127.0.0.1 that keeps every request's raw bytes and answers an ok body."""
    seen: list[bytes] = []
    answer = b'{"id":1,"uuid":"u-1","stat":"ok"}'

    def handle(sock: Any, _: Any) -> None:
        buffer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    break
                seen.append(head + b"\r\n\r\n" + rest[:length])
                buffer = rest[length:]
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(answer)).encode() + b"\r\n\r\n" + answer)

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.stop(timeout=1)


def test_form_poster_sends_the_bytes_the_library_sends(raw_server: tuple[str, list[bytes]]) -> None:
    url, seen = raw_server
    poster = FormPoster(url, network_timeout=5, connection_timeout=5)
    basic = {"Authorization": "Basic Zm9vOmJhcg==", "Content-Type": "application/x-www-form-urlencoded"}
    sent: list[tuple[bytes, dict[str, str]]] = [(b"type_name=user&attributes=%7B%7D", basic),
                                                (b"x=" + b"y" * 5000, basic), (b"", basic)]
    for i in range(3):  # signed: the same names, new values every time
        sent.append((b"a=%d" % i, {"Date": f"2026-11-25 19:50:0{i}", "Authorization": f"Signature id:sig{i}=",
                                   "Content-Type": "application/x-www-form-urlencoded"}))
    sent.append((b"b=1", {"Authorization": "Basic\tWeird"}))          # a tab: the library's own path
    try:
        with gevent.Timeout(10):
            for body, headers in sent:
                assert poster.post("/entity.create", body, headers) == (200, b'{"id":1,"uuid":"u-1","stat":"ok"}')
        library = [poster.client._build_request("POST", "/entity.create", body=body, headers=headers)
                   .encode("latin-1") + body for body, headers in sent]
    finally:
        poster.close()
    assert seen == library                                   # byte for byte what the library sends
    assert len(poster._templates) == 3 and b"Date: 2026-11-25 19:50:02\r\n" in seen[5]


def test_a_body_larger_than_the_socket_buffer_arrives_whole(raw_server: tuple[str, list[bytes]]) -> None:
    """One ``send`` takes what the socket buffer holds; the rest goes out by ``sendall``, byte for byte."""
    url, seen = raw_server
    poster = FormPoster(url, network_timeout=10, connection_timeout=5)
    body = bytes(range(256)) * 32768  # 8 MiB: more than one send of a loopback socket takes
    headers = {"Authorization": "Basic Zm9vOmJhcg==", "Content-Type": "application/x-www-form-urlencoded"}
    try:
        with gevent.Timeout(20):
            assert poster.post("/entity.create", body, headers)[0] == 200
            assert poster.post("/entity.create", b"a=1", headers)[0] == 200  # the connection is still in step
    finally:
        poster.close()
    assert [request.partition(b"\r\n\r\n")[2] for request in seen] == [body, b"a=1"]

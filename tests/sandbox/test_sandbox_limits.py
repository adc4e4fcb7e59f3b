"""Bounded resources and ordering: body, header, write and connection limits; permission before faults;
admin endpoints for owners only; options refused in one line; no stall and no lasting memory from big bodies."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from loadgen import signing, wire
from loadgen.sandbox import ClientSpec, Sandbox, serve

Factory = Callable[..., Sandbox]
LOADGEN = str(Path(sys.executable).with_name("loadgen"))
OWNER = ClientSpec("owner", "owner-secret", frozenset({"owner"}))
READER = ClientSpec("reader", "reader-secret", frozenset({"direct_read_access"}))


def _port(sb: Sandbox) -> int:
    return int(sb.url.rsplit(":", 1)[1])


def _head(path: str, sb: Sandbox, length: int, extra: str = "") -> bytes:
    auth = signing.basic_authorization(sb.client_id, sb.client_secret)
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n{extra}"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n").encode()


def _read_all(sock: socket.socket, limit: float = 10.0) -> bytes:
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def test_permission_is_checked_before_faults(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(clients=(OWNER, READER), faults={"error_rate": 1.0})
    write = {"type_name": "user", "attributes": '{"email": "r@x.com"}'}
    for _ in range(5):
        body = httpx.post(f"{sb.url}/entity.create", data=write, auth=("reader", "reader-secret")).json()
        assert body["code"] == 403, body                      # not the injected 500
    read = httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"}, auth=("reader", "reader-secret")).json()
    assert read["code"] == 500                                 # allowed, so the fault applies


def test_admin_endpoints_need_an_owner_client(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(clients=(OWNER, READER))
    assert httpx.get(f"{sb.url}/_sandbox/stats").json()["code"] == 402
    assert httpx.post(f"{sb.url}/_sandbox/reset").json()["code"] == 402
    assert httpx.get(f"{sb.url}/_sandbox/stats", auth=("owner", "wrong")).json()["code"] == 402
    assert httpx.get(f"{sb.url}/_sandbox/stats", auth=("reader", "reader-secret")).json()["code"] == 403
    assert httpx.post(f"{sb.url}/_sandbox/reset", auth=("reader", "reader-secret")).json()["code"] == 403
    assert "records" in httpx.get(f"{sb.url}/_sandbox/stats", auth=("owner", "owner-secret")).json()
    signed = signing.Signer("owner", "owner-secret").headers("/_sandbox/reset", {})
    assert httpx.post(f"{sb.url}/_sandbox/reset", headers=signed).json() == {"stat": "ok"}
    legacy = {"client_id": "owner", "client_secret": "owner-secret"}
    assert httpx.post(f"{sb.url}/_sandbox/reset", data=legacy).json() == {"stat": "ok"}
    assert sb.stats()["records"] == {"user": 0}                # Sandbox.stats() sends its owner's credentials


@pytest.mark.parametrize("option", ["--skew=nan", "--skew=0", "--skew=-5", "--max-batch=0", "--max-body=-1",
                                    "--max-connections=0", "--header-timeout=0", "--body-timeout=inf",
                                    "--write-timeout=-1", "--keep-alive=0", "--max-unread=0"])
def test_bad_limits_are_one_line_and_exit_2(option: str) -> None:
    result = subprocess.run([LOADGEN, "sandbox", "--db", ":memory:", "--port", "0", option],
                            capture_output=True, text=True, timeout=30)
    name = option.split("=")[0]
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {name} must be")


def test_a_body_too_large_or_too_slow_is_refused_and_the_connection_closed(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(max_body=64 * 1024, body_timeout=1.0)
    with socket.create_connection(("127.0.0.1", _port(sb)), 5) as sock:   # declared: refused unread
        sock.sendall(_head("/entity.create", sb, 10 * 1024 * 1024) + b"type_name=user")
        reply = _read_all(sock)
    assert b'"code":200' in reply and b"larger than 65536 bytes" in reply and b"connection: close" in reply
    chunks = (b"x" * 4096 for _ in range(100))                              # chunked: refused past the limit
    body = httpx.post(f"{sb.url}/entity.create", content=chunks, auth=(sb.client_id, sb.client_secret),
                      headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
    assert body["code"] == 200 and body["argument_name"] == "attributes"
    with socket.create_connection(("127.0.0.1", _port(sb)), 5) as sock:   # slow: refused after body_timeout
        sock.sendall(_head("/entity.create", sb, 1000) + b"type_name=user")
        start = time.monotonic()
        reply = _read_all(sock)
    assert b"did not arrive within 1 s" in reply and 0.9 < time.monotonic() - start < 8


def test_idle_and_slow_connections_and_huge_heads_are_closed(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(header_timeout=0.5)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", _port(sb)), 5) as idle:
        assert _read_all(idle) == b""                          # never sent a byte: closed
    with socket.create_connection(("127.0.0.1", _port(sb)), 5) as slow:
        slow.sendall(b"POST /entity.count HTTP/1.1\r\nHost: x\r\n")
        assert _read_all(slow) == b""                          # headers never finished: closed
    assert time.monotonic() - start < 8
    with socket.create_connection(("127.0.0.1", _port(sb)), 5) as huge:
        huge.sendall(b"GET /entity.count?" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_all(huge).startswith(b"HTTP/1.1 400")
    longest = " or ".join(["uuid = '1a5b7f5e-6f33-4bb0-9a52-4e5e0b5d0b3c'"] * 1000)   # about 50,000 characters
    body = httpx.get(f"{sb.url}/entity.find", params={"type_name": "user", "filter": longest},
                     auth=(sb.client_id, sb.client_secret)).json()
    assert body["stat"] == "ok"                                  # a GET with a long filter still fits


def test_an_answer_left_unread_drops_the_connection(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(write_timeout=1.0)
    auth = (sb.client_id, sb.client_secret)
    big = [{"email": f"u{i}@x.com", "aboutMe": "x" * 5000} for i in range(1000)]
    assert httpx.post(f"{sb.url}/entity.bulkCreate", auth=auth, timeout=60,
                      data={"type_name": "user", "all_attributes": wire.dumps(big)}).json()["stat"] == "ok"
    request = wire.encode_form({"type_name": "user", "max_results": "1000"})
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)    # the kernel buffers little of the answer
    with sock:
        sock.connect(("127.0.0.1", _port(sb)))
        sock.sendall(_head("/entity.find", sb, len(request)) + request)
        time.sleep(3)                                           # not reading, past write_timeout
        received = _read_all(sock)
    assert 0 < len(received) < 5_000_000                        # cut off: the answer is over 5 MB
    assert httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"}, auth=auth).json()["total_count"] == 1000


def test_connections_beyond_the_limit_get_503(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(max_connections=4)
    held = [socket.create_connection(("127.0.0.1", _port(sb)), 5) for _ in range(4)]
    try:
        time.sleep(0.2)
        response = httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"},
                              auth=(sb.client_id, sb.client_secret))
        assert response.status_code == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"},
                              auth=(sb.client_id, sb.client_secret))
        if response.status_code == 200:
            break
        time.sleep(0.1)
    assert response.json()["stat"] == "ok"


def _hostile_body(size: int) -> bytes:
    return b"type_name=user&all_attributes=[" + b"{}," * (size // 3) + b"{}]"


def test_normal_requests_are_answered_while_a_16_mb_body_is_processed(sandbox_factory: Factory) -> None:
    sb = sandbox_factory()
    body = _hostile_body(16 * 1024 * 1024 - 1024)
    done = threading.Event()
    replies: list[bytes] = []

    def attack() -> None:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", _port(sb)), 30) as sock:
                sock.sendall(_head("/entity.bulkCreate", sb, len(body)) + body)
                replies.append(_read_all(sock, 30))
        done.set()

    latencies: list[float] = []
    thread = threading.Thread(target=attack)
    thread.start()
    with httpx.Client(base_url=sb.url, auth=(sb.client_id, sb.client_secret), timeout=30) as c:
        while not done.is_set() and len(latencies) < 2000:
            start = time.perf_counter()
            assert c.post("/entity.count", data={"type_name": "user"}).json()["stat"] == "ok"
            latencies.append(time.perf_counter() - start)
    thread.join(60)
    assert len(replies) == 3 and all(b"more than 2000 elements" in r for r in replies)
    assert len(latencies) >= 10 and max(latencies) < 1.0        # loose: CI machines are noisy


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_memory_comes_back_after_a_round_of_big_bodies(tmp_path: Path) -> None:
    with serve(db=tmp_path / "rss.db", process=True) as sb:
        pid = sb.pid
        assert pid is not None
        auth = (sb.client_id, sb.client_secret)
        assert httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"}, auth=auth).json()["stat"] == "ok"
        before = _rss(pid)
        samples: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append(_rss(pid))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        bodies = [_hostile_body(16 * 1024 * 1024 - 1024),
                  b"type_name=user&attributes=" + b"[" * (16 * 1024 * 1024 - 1024),
                  b"client_id=x&client_secret=y&attributes=" + b"A" * (16 * 1024 * 1024 - 1024)]
        for body in bodies * 2:
            with socket.create_connection(("127.0.0.1", _port(sb)), 30) as sock:
                sock.sendall(_head("/entity.create", sb, len(body)) + body)
                assert b'"stat":"error"' in _read_all(sock, 30)
        stop.set()
        sampler.join(10)
        time.sleep(0.5)
        after = _rss(pid)
    peak = max(samples)
    assert peak > before + 16 * 1024 * 1024                      # the round did take memory (the body alone)
    assert after < before + 48 * 1024 * 1024, (before, peak, after)  # and gave it back


def test_the_default_limits_take_a_datalib_batch_of_2000_realistic_records(sandbox: Sandbox) -> None:
    from loadgen.profiles import ProfileFactory
    from loadgen.schema import default_schema

    sandbox.reset()
    records = [dict(r, aboutMe="x" * 700) for r in ProfileFactory(default_schema(), seed=10).batch(2000)]
    body = {"type_name": "user", "all_attributes": wire.dumps(records)}
    assert 3_000_000 < len(wire.encode_form(body)) < 16 * 1024 * 1024    # about 1.6 KB a record, as sent
    answer = httpx.post(f"{sandbox.url}/entity.bulkCreate", data=body, auth=(sandbox.client_id, sandbox.client_secret),
                        timeout=120).json()
    assert answer["stat"] == "ok" and all(isinstance(u, str) for u in answer["uuid_results"]), str(answer)[:300]
    assert sandbox.stats()["records"]["user"] == 2000

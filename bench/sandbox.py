"""Sandbox speed: entity.create/s and bulkCreate records/s, against a bare starlette + SQLite skeleton.

Each server runs alone in a child process (one uvicorn worker, uvloop + httptools, WAL with
synchronous=NORMAL on a temporary file); the load comes from a small asyncio raw-socket loop with
pre-encoded keep-alive requests, so the client costs as little CPU as possible. Loopback only, each
phase bounded in time. Ratios measured in one run are what count (the machine is shared and noisy);
work per CPU-second of the server process is printed too, as it depends less on other load.

    .venv/bin/python bench/sandbox.py [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loadgen.sandbox import serve
from loadgen.wire import decode_form, now_timestamp


def skeleton_app(db: str) -> Starlette:
    """The bare baseline: parse the form and the JSON, insert one row, answer id and uuid."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS e (id INTEGER PRIMARY KEY, uuid TEXT UNIQUE, created TEXT, data TEXT)")

    async def create(request: Request) -> Response:
        params = decode_form(await request.body())
        record = json.loads(params["attributes"])
        new_uuid = str(uuid.uuid4())
        cur = conn.execute("INSERT INTO e (uuid, created, data) VALUES (?, ?, ?)",
                           (new_uuid, now_timestamp(), json.dumps(record)))
        body = json.dumps({"id": cur.lastrowid, "uuid": new_uuid, "stat": "ok"})
        return Response(body.encode(), media_type="application/json")

    return Starlette(routes=[Route("/entity.create", create, methods=["POST"])])


def _run_skeleton(db: str, port: int, ready: Any) -> None:
    server = uvicorn.Server(uvicorn.Config(skeleton_app(db), host="127.0.0.1", port=port, loop="uvloop",
                                           http="httptools", log_level="warning", access_log=False))
    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets=sockets)
        ready.set()

    server.startup = startup  # type: ignore[method-assign]
    server.run()


def _profile(n: int, tag: str) -> dict[str, Any]:
    return {"email": f"user{n}.{tag}@example.com", "givenName": "Ann", "familyName": "Lee",
            "birthday": "1980-02-03", "gender": "female",
            "primaryAddress": {"city": "Lyon", "zip": "69001", "country": "FR"},
            "statuses": [{"status": "active", "statusCreated": "2015-12-15T07:36:25Z"}]}


def _request(path: str, params: dict[str, str], auth: str) -> bytes:
    body = urlencode(params).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _load(port: int, requests: list[bytes], seconds: float, connections: int) -> tuple[int, int, float]:
    """Send the requests over keep-alive connections until they run out or time is up: (ok, errors, s)."""
    queue = iter(requests)
    ok = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal ok, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for req in queue:
                if time.perf_counter() > deadline:
                    break
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                if b'"stat":"error"' in body[:40] or (b'"code"' in body and b'"results"' not in body):
                    errors += 1
                else:
                    ok += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return ok, errors, time.perf_counter() - start


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), to report work per CPU-second as well."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(port: int, pid: int, requests: list[bytes], seconds: float,
             connections: int) -> tuple[int, int, float, float]:
    """(ok, errors, wall seconds, server CPU seconds) for one bounded phase after a short warm-up."""
    warm = max(1, len(requests) // 50)
    asyncio.run(_load(port, requests[:warm], seconds, connections))
    cpu = _cpu_seconds(pid)
    ok, errors, wall = asyncio.run(_load(port, requests[warm:], seconds, connections))
    return ok, errors, wall, _cpu_seconds(pid) - cpu


def _bench(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    """Run both servers on databases in ``tmp``: the figures by name."""
    n_create = int(20_000 * args.seconds)
    results: dict[str, float] = {}

    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    with socket.socket() as probe:  # a free port for the skeleton (the sandbox picks its own)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = ctx.Process(target=_run_skeleton, args=(str(tmp / "skeleton.db"), port, ready), daemon=True)
    proc.start()
    try:
        ready.wait(20)
        reqs = [_request("/entity.create", {"type_name": "user", "attributes": json.dumps(_profile(i, "s"))}, "x")
                for i in range(n_create)]
        assert proc.pid is not None
        ok, err, secs, cpu = _measure(port, proc.pid, reqs, args.seconds, args.connections)
        results["skeleton create/s"] = ok / secs
        results["skeleton create/CPU-s"] = ok / cpu
    finally:
        proc.terminate()
        proc.join(10)

    with serve(db=tmp / "sandbox.db", process=True, admin=False) as sb:
        auth = "Basic " + base64.b64encode(f"{sb.client_id}:{sb.client_secret}".encode()).decode()
        sb_port = int(sb.url.rsplit(":", 1)[1])
        reqs = [_request("/entity.create", {"type_name": "user", "attributes": json.dumps(_profile(i, "c"))}, auth)
                for i in range(n_create)]
        assert sb.pid is not None
        ok, err, secs, cpu = _measure(sb_port, sb.pid, reqs, args.seconds, args.connections)
        results["sandbox create/s"] = ok / secs
        results["sandbox create/CPU-s"] = ok / cpu
        if err:
            print(f"warning: {err} create errors", file=sys.stderr)
        batches = [_request("/entity.bulkCreate", {"type_name": "user", "all_attributes": json.dumps(
            [_profile(b * 100 + i, "b") for i in range(100)])}, auth) for b in range(int(800 * args.seconds))]
        ok, err, secs, cpu = _measure(sb_port, sb.pid, batches, args.seconds, min(args.connections, 4))
        results["sandbox bulkCreate records/s"] = ok * 100 / secs
        results["sandbox bulkCreate records/CPU-s"] = ok * 100 / cpu
        if err:
            print(f"warning: {err} bulkCreate errors", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="loadgen-bench-"))
    try:  # the databases (and a WAL of up to 160 MB) go with it
        results = _bench(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, value in results.items():
        print(f"{name:32s} {value:10,.0f}")
    ratio = results["sandbox create/s"] / results["skeleton create/s"]
    print(f"{'create ratio (target >= 0.50)':32s} {ratio:10.2f}")
    cpu_ratio = results["sandbox create/CPU-s"] / results["skeleton create/CPU-s"]
    print(f"{'create ratio per CPU-second':32s} {cpu_ratio:10.2f}")
    met = "met" if results["sandbox bulkCreate records/s"] >= 30_000 else "MISSED"
    print(f"{'bulkCreate target 30,000/s':32s} {met:>10s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

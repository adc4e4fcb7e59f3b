"""Sandbox speed: entity.create/s and bulkCreate records/s, against a bare starlette + SQLite skeleton.

Each server runs alone in a child process (one uvicorn worker, uvloop + httptools, WAL with
synchronous=NORMAL on a temporary file); the load comes from a small asyncio raw-socket loop with
pre-encoded keep-alive requests, so the client costs as little CPU as possible. Loopback only, each
phase bounded in time. Both servers run at once and their phases interleave round by round
(``bench/_paired.py``); only ratios are judged: creates >= 0.50 of the skeleton's, and bulkCreate
records >= 2.8x the skeleton's creates (issue 4's 30,000 records/s on the reference machine, where the
skeleton made 10,700 creates/s).

    .venv/bin/python bench/sandbox.py [--seconds 3] [--rounds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from _paired import Ratio, Target, finish, interleave, ratio
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


def _subject(port: int, make: Callable[[int], list[bytes]], per_request: int, seconds: float,
             connections: int) -> Callable[[], float]:
    """A subject for ``interleave``: one bounded load phase on fresh requests (unique emails each round),
    built before the clock starts; returns records per second."""
    made = 0

    def phase() -> float:
        nonlocal made
        requests = make(made)
        made += len(requests)
        ok, errors, wall = asyncio.run(_load(port, requests, seconds, connections))
        if errors:
            print(f"warning: {errors} errors", file=sys.stderr)
        return ok * per_request / wall

    return phase


def _bench(args: argparse.Namespace, tmp: Path) -> list[Ratio]:
    """Both servers up at once, their phases interleaved round by round: the paired ratios."""
    n_create = int(20_000 * args.seconds)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    with socket.socket() as probe:  # a free port for the skeleton (the sandbox picks its own)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = ctx.Process(target=_run_skeleton, args=(str(tmp / "skeleton.db"), port, ready), daemon=True)
    proc.start()
    try:
        ready.wait(20)
        with serve(db=tmp / "sandbox.db", process=True, admin=False) as sb:
            auth = "Basic " + base64.b64encode(f"{sb.client_id}:{sb.client_secret}".encode()).decode()
            sb_port = int(sb.url.rsplit(":", 1)[1])

            def creates(tag: str, who: str) -> Callable[[int], list[bytes]]:
                return lambda first: [_request("/entity.create", {"type_name": "user", "attributes": json.dumps(
                    _profile(first + i, tag))}, who) for i in range(n_create)]

            def batches(first: int) -> list[bytes]:
                return [_request("/entity.bulkCreate", {"type_name": "user", "all_attributes": json.dumps(
                    [_profile(first * 100 + b * 100 + i, "b") for i in range(100)])}, auth)
                    for b in range(int(800 * args.seconds))]

            values = interleave({
                "skeleton create": _subject(port, creates("s", "x"), 1, args.seconds, args.connections),
                "sandbox create": _subject(sb_port, creates("c", auth), 1, args.seconds, args.connections),
                "sandbox bulkCreate": _subject(sb_port, batches, 100, args.seconds, min(args.connections, 4)),
            }, args.rounds, "records/s")
    finally:
        proc.terminate()
        proc.join(10)
    return [ratio("sandbox.py", "sandbox create / skeleton create", values, "sandbox create", "skeleton create",
                  Target(0.5), "records/s"),
            ratio("sandbox.py", "sandbox bulkCreate records / skeleton create", values, "sandbox bulkCreate",
                  "skeleton create", Target(2.8), "records/s")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="loadgen-bench-"))
    try:  # the databases (and a WAL of up to 160 MB) go with it
        return finish(_bench(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())

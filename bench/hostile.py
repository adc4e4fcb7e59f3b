"""Do hostile bodies stall other clients? Their p99 latency, in quiet rounds and in rounds under attack.

The sandbox runs in a child process (uvloop + httptools, a temporary SQLite file). Normal clients
(``--clients`` keep-alive connections, each sending a small ``entity.create`` or ``entity.count``
every ``--pace`` seconds) run throughout; in every other round one hostile client also sends, back to
back, bodies of about 16 MB: garbage from an unknown client (refused from its headers), an unknown
legacy client (its body must be read and decoded), a bulkCreate of millions of ``{}``, a 16 MB string,
16 MB of nesting and an object of a million keys. Quiet and hostile rounds interleave
(``bench/_paired.py``), so a change in the machine's load hits both; the verdict is the median of the
per-round ratios of p99 latency under attack to quiet p99 (at most ``TARGET``), and a hostile body
answered without a Capture error body fails the run too. Loopback only, each round bounded in time.

    .venv/bin/python bench/hostile.py [--rounds 5] [--seconds 3] [--clients 4] [--pace 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from _paired import Target, finish, interleave, ratio

from loadgen.sandbox import serve
from loadgen.wire import encode_form_lean

TARGET = 10.0  # a body parsed on the event loop stalls everyone for 100s of ms: far above 10x quiet p99
_SIZE = 16 * 1024 * 1024 - 4096  # just under the default max_body: every byte of it is read


def _head(path: str, auth: str | None, length: int) -> bytes:
    auth_line = f"Authorization: {auth}\r\n" if auth else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth_line}"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n").encode()


def _hostile_bodies(auth: str) -> list[tuple[str, bytes]]:
    """(name, whole request) of each hostile kind, each body about ``_SIZE`` bytes."""
    def form(params: dict[str, str]) -> bytes:
        return encode_form_lean(params)

    def fill(prefix: str, unit: str, suffix: str) -> str:
        return prefix + unit * ((_SIZE - len(prefix) - len(suffix) - 64) // len(unit)) + suffix

    kinds = [
        ("unknown client, Basic", "/entity.create", "Basic " + base64.b64encode(b"nobody:nothing").decode(),
         b"x=" + b"A" * (_SIZE - 2)),
        ("unknown client, legacy", "/entity.create", None,
         form({"client_id": "nobody", "client_secret": "nothing", "attributes": fill("", "A", "")})),
        ("bulkCreate of {} blocks", "/entity.bulkCreate", auth,
         form({"type_name": "user", "all_attributes": fill("[", "{},", "{}]")})),
        ("16 MB string", "/entity.create", auth,
         form({"type_name": "user", "attributes": fill('{"givenName":"', "a", '"}')})),
        ("16 MB of nesting", "/entity.create", auth, form({"type_name": "user", "attributes": "[" * (_SIZE - 64)})),
        ("a million keys", "/entity.create", auth,
         form({"type_name": "user", "attributes": "{" + ",".join(f'"k{i}":0' for i in range(_SIZE // 13)) + "}"})),
    ]
    return [(name, _head(path, who, len(body)) + body) for name, path, who, body in kinds]


def _hostile(port: int, requests: list[tuple[str, bytes]], stop: threading.Event, sent: list[str]) -> None:
    """Send the hostile requests back to back until ``stop``, each on a new connection."""
    while not stop.is_set():
        for name, request in requests:
            if stop.is_set():
                return
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                with contextlib.suppress(OSError):  # refused from its headers: closed before the whole body
                    sock.sendall(request)
                reply = b""
                try:
                    while b'"stat"' not in reply and len(reply) < 65536:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        reply += chunk
                except OSError:
                    pass
            sent.append(name if b'"stat":"error"' in reply else f"{name} (NO ERROR BODY)")


async def _normal(port: int, auth: str, clients: int, pace: float, seconds: float) -> list[float]:
    """Latencies (s) of paced small requests over ``clients`` keep-alive connections for ``seconds``."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = 0
        try:
            while time.perf_counter() < deadline:
                i += 1
                if i % 2:
                    record = {"email": f"n{n}.{i}.{time.time_ns()}@example.com", "givenName": "Ann"}
                    body = urlencode({"type_name": "user", "attributes": json.dumps(record)}).encode()
                    request = _head("/entity.create", auth, len(body)) + body
                else:
                    body = b"type_name=user"
                    request = _head("/entity.count", auth, len(body)) + body
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                answer = await reader.readexactly(length)
                latencies.append(time.perf_counter() - start)
                if b'"stat":"ok"' not in answer:
                    raise RuntimeError(f"a normal request failed: {answer[:200]!r}")
                await asyncio.sleep(pace)
        finally:
            writer.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="pairs of quiet and hostile rounds")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each round")
    parser.add_argument("--clients", type=int, default=4, help="normal keep-alive connections")
    parser.add_argument("--pace", type=float, default=0.02, help="pause between a normal client's requests (s)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="loadgen-hostile-"))
    sent: list[str] = []
    try:
        with serve(db=tmp / "hostile.db", process=True, admin=False) as sb:
            auth = "Basic " + base64.b64encode(f"{sb.client_id}:{sb.client_secret}".encode()).decode()
            port = int(sb.url.rsplit(":", 1)[1])
            requests = _hostile_bodies(auth)

            def quiet() -> float:
                return _quantile(asyncio.run(_normal(port, auth, args.clients, args.pace, args.seconds)), 0.99) * 1000

            def hostile() -> float:
                stop = threading.Event()
                attacker = threading.Thread(target=_hostile, args=(port, requests, stop, sent), daemon=True)
                attacker.start()
                try:
                    return quiet()
                finally:
                    stop.set()
                    attacker.join(60)

            asyncio.run(_normal(port, auth, args.clients, args.pace, 1.0))  # warm-up
            values = interleave({"quiet": quiet, "hostile": hostile}, args.rounds, "ms p99", warmup=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"hostile bodies answered: {len(sent)} ({sum('NO ERROR' in s for s in sent)} without an error body)")
    for name in dict.fromkeys(n for n, _ in requests):
        print(f"  {name:30s} {sum(s.startswith(name) for s in sent):4d}")
    result = ratio("hostile.py", "p99 under attack / quiet p99", values, "hostile", "quiet",
                   Target(TARGET, at_most=True), "ms p99")
    return finish([result]) or int(any("NO ERROR" in s for s in sent))

if __name__ == "__main__":
    sys.exit(main())

"""Requests/s per core: our paced, body-checking create user vs a bare FastHttpUser.

Both post to the same fixed-response loopback server (raw asyncio + uvloop in its own process, so
it is not the bottleneck) with one Locust process each. The bare user posts one pre-encoded body of
the same size as ours and reads nothing; ours generates a profile per request, encodes and signs it
(Basic by default, ``--signed`` for janrain-signed), paces arrivals (offered more than it can send,
so it runs flat out as the bare user does), judges the body, feeds the recorder and writes the
ledger. Each Locust process measures its own CPU time between test start and stop, so start-up costs
do not count. The bare user, ours with Basic auth and ours janrain-signed run in interleaved rounds
(``bench/_paired.py``); targets (issue 19): each of ours >= 90% of bare, per core.

    .venv/bin/python bench/locust_overhead.py [--seconds 5] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from _paired import Target, finish, interleave, number, ratio

#: Ours is offered this much of what its probes sent: enough to keep it busy through the machine's swings.
OVERLOAD = 1.25

OK_BODY = b'{"id":11649,"uuid":"02b0c68d-7d7a-49d8-a88d-022585b0f877","stat":"ok"}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(OK_BODY)).encode() + b"\r\n\r\n" + OK_BODY)

MEASURE = textwrap.dedent('''
    import json, os, time
    from locust import events

    _t = {}

    @events.test_start.add_listener
    def _start(environment, **_):
        _t["cpu"], _t["wall"] = time.process_time(), time.monotonic()

    @events.test_stop.add_listener
    def _stop(environment, **_):
        entry = environment.runner.stats.get(NAME, "POST")
        result = {"requests": entry.num_requests, "failures": entry.num_failures,
                  "cpu": time.process_time() - _t["cpu"], "wall": time.monotonic() - _t["wall"]}
        with open(os.environ["BENCH_OUT"], "w") as out:
            json.dump(result, out)
''')

BARE = textwrap.dedent('''
    from locust import FastHttpUser, constant, task
    NAME = "/entity.create"
    BODY = open(os.environ["BENCH_BODY"], "rb").read()
    HEADERS = {"Authorization": "Basic aWQ6c2VjcmV0", "Content-Type": "application/x-www-form-urlencoded"}

    class Bare(FastHttpUser):
        wait_time = constant(0)

        @task
        def create(self):
            self.client.post("/entity.create", data=BODY, headers=HEADERS)
''')

OURS = textwrap.dedent('''
    from loadgen.locust.users import CreateUser
    NAME = "create"

    class Ours(CreateUser):
        pass
''')


class _Fixed(asyncio.Protocol):
    """Answers every request on a keep-alive connection with the same ok body."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15:].split(b"\r\n", 1)[0])
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


def serve(port: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(_Fixed, "127.0.0.1", port, backlog=512))
    try:
        loop.run_forever()
    finally:
        server.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _body_like_ours() -> bytes:
    """A form body of the size our user sends (mean of 200 generated profiles, escaped the lean way)."""
    from loadgen.profiles import ProfileFactory
    from loadgen.schema import default_schema
    from loadgen.wire import dumps, encode_form_lean

    factory = ProfileFactory(default_schema(), seed=1, run_id="bench", worker=0)
    bodies = [encode_form_lean({"type_name": "user", "attributes": dumps(factory.make())}) for _ in range(200)]
    size = sum(map(len, bodies)) // len(bodies)
    body = min(bodies, key=lambda b: abs(len(b) - size))
    return body + b"&pad=" + b"x" * max(0, size - len(body) - 5) if len(body) < size else body


def run_one(kind: str, url: str, seconds: float, folder: Path, *, rate: float, signed: bool) -> dict[str, float]:
    name = "Bare" if kind == "bare" else "Ours"
    source = (BARE if kind == "bare" else OURS) + MEASURE
    locustfile = folder / f"{kind}.py"
    locustfile.write_text("import os\n" + source, encoding="utf-8")
    out = folder / f"{kind}.json"
    env = {**os.environ, "BENCH_OUT": str(out), "BENCH_BODY": str(folder / "body.bin"),
           "CAPTURE_CLIENT_ID": "bench-client", "CAPTURE_CLIENT_SECRET": "bench-secret"}
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url, "-u", "20",
           "-r", "100", "-t", f"{seconds:g}s", "--only-summary", "--loglevel", "ERROR", name]
    if kind == "ours":   # a run folder of its own each time: a folder holding another run's ledger is refused
        run_id = f"bench{time.time_ns()}"
        cmd += ["--create-rate", f"{rate:.0f}", "--run-dir", str(folder / run_id), "--run-id", run_id]
        if signed:
            cmd += ["--capture-auth", "signed"]
    out.unlink(missing_ok=True)   # never read an earlier run's figures
    done = subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=seconds + 60)
    if not out.exists():
        raise RuntimeError(f"{kind} run wrote no figures (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    result: dict[str, float] = json.loads(out.read_text())
    result["per_core"] = result["requests"] / result["cpu"] if result["cpu"] else 0.0
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    port = _free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        time.sleep(1.0)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            body = _body_like_ours()
            (folder / "body.bin").write_bytes(body)
            url = f"http://127.0.0.1:{port}"
            bare = run_one("bare", url, 3.0, folder, rate=0, signed=False)["per_core"]

            def ours(signed: bool) -> Callable[[], float]:
                # Calibrate once, then offer a quarter more than the median of three probes: ours runs flat out
                # in every round, as the bare user does (a closed loop with no wait). Offered just under its
                # probes (0.95, before), ours idled whenever the shared machine ran faster than it had during
                # the probes: bare took the speed-up and ours could not (one run: bare 7,184 and 7,733 req/s per
                # core in two rounds, ours held at its offered 5,089/s, ratio 0.85). The excess arrivals are
                # dropped and counted in bulk (one subtraction per claim), and that work is in ours' CPU time.
                probes = [run_one("ours", url, 3.0, folder, rate=bare, signed=signed)["per_core"] for _ in range(3)]
                rate = OVERLOAD * statistics.median(probes)
                print(f"create user{' (signed)' if signed else ''}: probes {', '.join(map(number, probes))} "
                      f"req/s per core at {number(bare)}/s offered; its rounds are offered {number(rate)}/s")
                return lambda: run_one("ours", url, args.seconds, folder, rate=rate, signed=signed)["per_core"]

            print(f"body size: {len(body)} bytes, {args.rounds} rounds of {args.seconds:g}s per subject")
            values = interleave({"bare FastHttpUser": lambda: run_one("bare", url, args.seconds, folder, rate=0,
                                                                      signed=False)["per_core"],
                                 "create user": ours(False), "create user (signed)": ours(True)},
                                args.rounds, "req/s per core", warmup=False)
    finally:
        server.terminate()
        server.wait()
    return finish([ratio("locust_overhead.py", f"{name} / bare FastHttpUser", values, name, "bare FastHttpUser",
                         Target(0.9), "req/s per core") for name in ("create user", "create user (signed)")])

if __name__ == "__main__":
    sys.exit(main())

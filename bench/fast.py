"""The speed tricks in ``loadgen/_fast`` against their plain twins: is each still worth its risk?

Each trick and its twin run in this one process in interleaved rounds (fast, plain, plain, fast, ...),
each a fixed amount of work per round timed in this process's CPU seconds; the ratio is taken round by
round, so the shared machine's drift cancels out. Printed: every round, the median ratio and its spread. A trick
whose median gain is below ``--keep`` (default 1.05x, on the whole operation it serves) fails the run.

- ``http_head``: one POST of a profile-sized form body on a keep-alive connection, signed headers
  (the server is a tiny fixed-answer server in a child process, so only the client's work counts);
- ``hdr``: ``Latency.add`` with the inline counts index against one using ``record_value``;
- ``json_text``: the sandbox's compact JSON of generated profiles;
- ``builder``: ``ProfileFactory.make`` with the generated builder against the loop.
- ``csv_rows``: chunks of ``generate --format csv`` with the generated row function against the loop.

    .venv/bin/python bench/fast.py [--rounds 21] [--keep 1.05]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from _paired import Ratio, Target, finish, interleave, ratio

from loadgen._fast import builder, csv_rows, hdr, json_text
from loadgen.profiles import Profile, default_factory
from loadgen.report import recorder
from loadgen.schema import default_schema
from loadgen.wire import dumps, encode_form_lean

Work = Callable[[], None]
ANSWER = b'{"id":1,"uuid":"u-1","stat":"ok"}'
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(ANSWER), ANSWER)


def paired(name: str, fast: Work, plain: Work, rounds: int, keep: float) -> Ratio:
    """Interleave both for ``rounds`` rounds, each timed in this process's CPU seconds (a preempted round
    does not count the other process's time; the HTTP server is a child): the median of fast/plain speed."""
    def cpu_speed(work: Work) -> Callable[[], float]:
        def run() -> float:
            start = time.process_time()
            work()
            return 1 / (time.process_time() - start)
        return run

    values = interleave({"fast": cpu_speed(fast), "plain": cpu_speed(plain)}, rounds, "runs/CPU-s")
    return ratio("fast.py", f"{name}: fast / plain", values, "fast", "plain", Target(keep), "runs/CPU-s")


class _Fixed(asyncio.Protocol):
    """Answers every request on a keep-alive connection with the same ok body."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(RESPONSE)


def _serve(port: int) -> None:
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_server(_Fixed, "127.0.0.1", port))
    loop.run_forever()


def bench_http_head(rounds: int, requests: int, keep: float) -> Ratio:
    import gevent  # only here: the other subjects run without gevent

    from loadgen._fast import http_head
    from loadgen.locust.poster import FormPoster

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        fast_poster = FormPoster(url, network_timeout=10, connection_timeout=10)
        plain_poster = FormPoster(url, network_timeout=10, connection_timeout=10)
        factory = default_factory(seed=1, run_id="bench")
        body = encode_form_lean({"type_name": "user", "attributes": dumps(factory.make())})
        headers = [{"Date": f"2026-12-02 20:{i // 60:02d}:{i % 60:02d}", "Authorization": f"Signature id:s{i}=",
                    "Content-Type": "application/x-www-form-urlencoded"} for i in range(requests)]

        def fast() -> None:
            for h in headers:
                fast_poster.post("/entity.create", body, h)

        def plain() -> None:
            for h in headers:
                http_head.post_plain(plain_poster.client, "/entity.create", body, h).read()

        with gevent.Timeout(600):
            return paired("http_head", fast, plain, rounds, keep)
    finally:
        server.terminate()
        server.join(5)


def bench_hdr(rounds: int, n: int, keep: float) -> Ratio:
    values = [0.2 + (i * 7919 % 1000) / 37 for i in range(n)]
    fast_latency = recorder.Latency()
    plain_latency = recorder.Latency()

    def fast() -> None:
        add = fast_latency.add
        for ms in values:
            add(ms)

    def plain() -> None:
        saved = recorder._record
        recorder._record = hdr.record_plain
        try:
            add = plain_latency.add
            for ms in values:
                add(ms)
        finally:
            recorder._record = saved

    return paired("hdr", fast, plain, rounds, keep)


def bench_json_text(rounds: int, n: int, keep: float) -> Ratio:
    records = default_factory(seed=2, run_id="bench").batch(n)
    compact = json_text.compact_dumps()

    def fast() -> None:
        for record in records:
            compact(record)

    def plain() -> None:
        for record in records:
            json_text.compact_dumps_plain(record)

    return paired("json_text", fast, plain, rounds, keep)


def bench_builder(rounds: int, n: int, keep: float) -> Ratio:
    from loadgen import _profile_compiler

    fast_factory = default_factory(seed=3, run_id="bench")
    _profile_compiler.builder = builder.builder_plain  # every object and plural element, not only the top
    try:
        plain_factory = default_factory(seed=3, run_id="bench")
    finally:
        _profile_compiler.builder = builder.builder

    def fast() -> None:
        make = fast_factory.make
        for _ in range(n):
            make()

    def plain() -> None:
        make = plain_factory.make
        for _ in range(n):
            make()

    return paired("builder", fast, plain, rounds, keep)


def bench_csv_rows(rounds: int, n: int, keep: float) -> Ratio:
    from loadgen import _profile_compiler, generation

    def encoder() -> generation._Encoder:
        return generation._Encoder(generation.Generation(default_schema(), Profile(), "csv", 0, seed=4))

    fast_encoder = encoder()
    _profile_compiler.row_builder = csv_rows.row_builder_plain
    try:
        plain_encoder = encoder()
    finally:
        _profile_compiler.row_builder = csv_rows.row_builder

    def fast() -> None:
        for i in range(n // generation.CHUNK):
            fast_encoder.chunk(i, generation.CHUNK)

    def plain() -> None:
        for i in range(n // generation.CHUNK):
            plain_encoder.chunk(i, generation.CHUNK)

    return paired("csv_rows", fast, plain, rounds, keep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--keep", type=float, default=1.05, help="smallest median gain that keeps a trick")
    args = parser.parse_args(argv)
    return finish([
        bench_hdr(args.rounds, 50_000, args.keep),
        bench_json_text(args.rounds, 2_000, args.keep),
        bench_builder(args.rounds, 5_000, args.keep),
        bench_csv_rows(args.rounds, 5_000, args.keep),
        bench_http_head(args.rounds, 1_000, args.keep),
    ])

if __name__ == "__main__":
    sys.exit(main())

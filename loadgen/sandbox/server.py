"""Running the sandbox: in a background thread (tests), a child process (``loadgen run``) or the foreground.

A thread shares the caller's process, which is what tests want (fast start, ``:memory:`` works). A
process keeps the sandbox away from gevent's monkey-patching when Locust runs in the caller, and lets
a test ``kill -9`` it. Both hand back a ``Sandbox`` once the socket is listening.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

import httpx
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from loadgen.errors import RuntimeFailure, UsageError
from loadgen.sandbox.app import create_app
from loadgen.sandbox.config import SandboxConfig
from loadgen.schema import Schema, load_schema

_START_TIMEOUT = 20.0
#: In a process of its own, the sandbox lets a thread waiting for the GIL in after 0.5 ms (Python's
#: default: 5 ms), so its event loop is not kept waiting while the worker parses a large body.
_SWITCH_INTERVAL = 0.0005


@dataclass
class Sandbox:
    """A running sandbox: where it listens and the owner client to call it with."""

    url: str
    client_id: str
    client_secret: str = field(repr=False)
    pid: int | None = None

    def stats(self) -> dict[str, Any]:
        """Records per type, requests per operation, errors per code (needs ``admin`` and an owner client)."""
        response = httpx.get(f"{self.url}/_sandbox/stats", auth=(self.client_id, self.client_secret), timeout=10)
        result: dict[str, Any] = response.json()
        if "records" not in result:
            raise _admin_error(result)
        return result

    def reset(self) -> None:
        """Delete all records and counters (needs ``admin`` and an owner client)."""
        body = httpx.post(f"{self.url}/_sandbox/reset", auth=(self.client_id, self.client_secret), timeout=10).json()
        if body.get("stat") != "ok" or "code" in body:
            raise _admin_error(body)


def _admin_error(body: dict[str, Any]) -> UsageError:
    if body.get("code") in (402, 403):
        return UsageError(f"the sandbox refused its admin endpoint: {body.get('error_description', '')}")
    return UsageError("the sandbox runs without admin endpoints (start it with admin=True)")


def build_config(*, schema: Schema | str | os.PathLike[str] | None = None, db: str | os.PathLike[str] = ":memory:",
                 admin: bool = True, config: SandboxConfig | None = None, **overrides: Any) -> SandboxConfig:
    """A ``SandboxConfig`` from ``serve``'s keyword arguments."""
    base = config or SandboxConfig()
    changes: dict[str, Any] = {"db": str(db), "admin": admin, **overrides}
    if schema is not None:
        changes["schemas"] = (schema if isinstance(schema, Schema) else load_schema(schema),)
    return base.replace(**changes)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RuntimeFailure(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


#: Bytes of request line and headers a request may send (httptools sets no limit of its own): room for a
#: GET with the longest filter (65,536 characters, percent-encoded).
MAX_HEAD = 256 * 1024


class _GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits it lacks, from ``limits`` (a subclass per server).

    uvicorn times out only idle keep-alive connections: here a connection must also send each request's
    headers within ``header_timeout`` (an idle new one is closed then too), at most ``MAX_HEAD`` bytes
    of them. uvicorn queues a whole answer for a client that does not read it: here an answer left
    unread for ``write_timeout`` seconds drops the connection, and when the answers waiting for slow
    readers pass ``max_unread`` bytes altogether, the largest holder is dropped at once.
    """

    limits: ClassVar[SandboxConfig]
    slow: ClassVar[set[_GuardedProtocol]]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._head = 0
        super().connection_made(transport)
        self._expect_head()

    def _expect_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head = 0
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._drop)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._expect_head()

    def _count_head(self, size: int) -> None:
        self._head += size
        if self._head > MAX_HEAD:
            raise ValueError("request head too large")  # httptools stops; uvicorn answers 400 and closes

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.slow.add(self)
        self._write_timer = self.loop.call_later(self.limits.write_timeout, self._drop)
        held = {p: p.transport.get_write_buffer_size() for p in self.slow}
        if sum(held.values()) > self.limits.max_unread:
            max(held, key=held.__getitem__)._drop()

    def resume_writing(self) -> None:
        self._stop_write_timer()
        super().resume_writing()

    def _stop_write_timer(self) -> None:
        self.slow.discard(self)
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_write_timer()
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _drop(self) -> None:
        """Close at once, dropping whatever answer is still queued for the client."""
        self._stop_write_timer()
        self.transport.abort()


def uvicorn_server(config: SandboxConfig, *, log_level: str = "warning") -> tuple[uvicorn.Server, Any]:
    """A uvicorn server (uvloop + httptools, one worker) for the app, and the app's state."""
    app = create_app(config)
    protocol = type("SandboxProtocol", (_GuardedProtocol,), {"limits": config, "slow": set()})
    server = uvicorn.Server(uvicorn.Config(app, loop="uvloop", http=protocol, lifespan="on",
                                           log_level=log_level, access_log=False, timeout_graceful_shutdown=3,
                                           limit_concurrency=config.max_connections,
                                           timeout_keep_alive=config.keep_alive))
    return server, app.state.sandbox


@contextmanager
def _in_thread(config: SandboxConfig, host: str, port: int) -> Iterator[Sandbox]:
    sock = _listen(host, port)
    server, state = uvicorn_server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeFailure("the sandbox did not start")
        time.sleep(0.005)
    bound = sock.getsockname()
    try:
        yield Sandbox(f"http://{bound[0]}:{bound[1]}", state.client.client_id, state.client.secret)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def when_started(server: uvicorn.Server, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the server listens and handles signals (so a Ctrl-C from then on is clean)."""
    original = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original(sockets=sockets)
        callback()

    server.startup = startup  # type: ignore[method-assign]


def _child(config: SandboxConfig, host: str, port: int, conn: Connection, parent_pid: int) -> None:
    """Entry point of the sandbox process: listen, report the address and client, serve until SIGTERM.

    It runs in its own session, so a terminal's Ctrl-C reaches only its parent, which stops it last
    (after Locust's in-flight requests are answered). It also stops if that parent dies without a word.
    """
    os.setsid()
    sys.setswitchinterval(_SWITCH_INTERVAL)
    sock = _listen(host, port)
    server, state = uvicorn_server(config)
    _stop_with_parent(server, parent_pid)
    bound = sock.getsockname()

    def announce() -> None:
        conn.send({"url": f"http://{bound[0]}:{bound[1]}", "client_id": state.client.client_id,
                   "client_secret": state.client.secret})
        conn.close()

    when_started(server, announce)
    server.run(sockets=[sock])


def _stop_with_parent(server: uvicorn.Server, parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        server.should_exit = True

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@contextmanager
def _in_process(config: SandboxConfig, host: str, port: int) -> Iterator[Sandbox]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(config, host, port, child, os.getpid()), name="loadgen-sandbox",
                       daemon=True)
    proc.start()
    child.close()
    try:
        try:
            if not parent.poll(_START_TIMEOUT):
                raise RuntimeFailure("the sandbox process did not start (see its output above)")
            info = parent.recv()
        except EOFError:
            raise RuntimeFailure("the sandbox process exited while starting (see its output above)") from None
        finally:
            parent.close()
        yield Sandbox(info["url"], info["client_id"], info["client_secret"], pid=proc.pid)
    finally:  # also when it failed to start: it ignores the terminal's Ctrl-C, so it is stopped here
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)


@contextmanager
def serve(*, schema: Schema | str | os.PathLike[str] | None = None, db: str | os.PathLike[str] = ":memory:",
          port: int = 0, admin: bool = True, process: bool = False, host: str = "127.0.0.1",
          config: SandboxConfig | None = None, **overrides: Any) -> Iterator[Sandbox]:
    """Run a sandbox for the duration of a ``with`` block; yields a ``Sandbox`` once it listens.

    ``overrides`` are ``SandboxConfig`` fields (``faults={"read_lag": 1}`` merges into the faults).
    ``process=True`` starts it in a spawned child process (``db`` must then be a file to outlive it).
    """
    cfg = build_config(schema=schema, db=db, admin=admin, config=config, **overrides)
    if cfg.db != ":memory:":
        Path(cfg.db).parent.mkdir(parents=True, exist_ok=True)
    runner = _in_process if process else _in_thread
    with runner(cfg, host, port) as sandbox:
        yield sandbox


def run_foreground(config: SandboxConfig, host: str, port: int) -> tuple[uvicorn.Server, socket.socket, Any]:
    """Bind and build the server for ``loadgen sandbox``; the caller prints the client and calls ``run``."""
    sys.setswitchinterval(_SWITCH_INTERVAL)
    sock = _listen(host, port)
    server, state = uvicorn_server(config, log_level="info")
    return server, sock, state


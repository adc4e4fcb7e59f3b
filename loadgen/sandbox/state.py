"""The sandbox's shared state: config, store, clients, fault injectors, counters and the worker thread.

Its own module so that imports run one way: ``app`` -> ``operations`` -> ``state``. The app builds the
``Operations`` over a ``SandboxState``; the state knows nothing of the operations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from loadgen.sandbox.auth import Authenticator
from loadgen.sandbox.config import ClientSpec, SandboxConfig
from loadgen.sandbox.faults import FaultInjector, Faults
from loadgen.sandbox.store import Store
from loadgen.schema import Schema, default_schema

T = TypeVar("T")

_rng = random.SystemRandom()


class _Worker:
    """A thread running its own event loop, where large requests are decoded, parsed and answered.

    One thread, so large requests queue among themselves instead of taking turns with the server's loop
    for the GIL; pure-Python work there lets the server's loop in every switch interval (5 ms by default,
    0.5 ms in a sandbox process), and large inputs are handled in slices between such points.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox-worker", daemon=True)
            self._thread.start()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def close(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


class SandboxState:
    """Everything the routes share: config, store, clients, fault injectors and counters."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        schemas = config.schemas or (default_schema(),)
        self.schemas: dict[str, Schema] = {s.name: s for s in schemas}
        self.store = Store(config.db, self.schemas)
        clients = config.clients or (self.store.demo_client(),)
        self.client: ClientSpec = next((c for c in clients if "owner" in c.features), clients[0])
        self.auth = Authenticator({c.client_id: c for c in clients}, skew=config.skew, legacy=config.legacy_auth)
        self._injectors: dict[str, FaultInjector] = {}
        self._fault_rng = random.Random(_rng.getrandbits(64))
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._lock = asyncio.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-db")
        self.worker = _Worker()
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, set when the app starts

    def faults_for(self, client: ClientSpec) -> Faults:
        return client.faults if client.faults is not None else self.config.faults

    def injector(self, client: ClientSpec) -> FaultInjector | None:
        faults = self.faults_for(client)
        if not (faults.latency or faults.error_rate or faults.concurrency_limit):
            return None
        inj = self._injectors.get(client.client_id)
        if inj is None:
            inj = self._injectors[client.client_id] = FaultInjector(faults, self._fault_rng)
        return inj

    async def db(self, fn: Callable[..., T], *args: Any, offload: bool = False, **kwargs: Any) -> T:
        """Run a store method, one at a time. Writes run inline (cheaper than a thread hop); ``offload``
        moves scans of unbounded length (find, count) to the DB thread, where SQLite runs without the GIL.
        A call from the worker's loop (a large request) is handed to the server's loop and offloaded."""
        if self.loop is not None and asyncio.get_running_loop() is not self.loop:
            future = asyncio.run_coroutine_threadsafe(self.db(fn, *args, offload=True, **kwargs), self.loop)
            return await asyncio.wrap_future(future)
        if not offload and not self._lock.locked():  # nothing on the DB thread, and no await until done
            return fn(*args, **kwargs)
        async with self._lock:
            if not offload:
                return fn(*args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.worker.close()
        self._pool.shutdown(wait=True)
        self.store.close()

    def set_latency(self, spec: str) -> None:
        """Change the added latency of every client without faults of its own, now (``POST
        /_sandbox/latency``): a latency spike in the middle of a run, which window gates must catch.
        Calls in flight finish with the old latency, and a concurrency limit counts afresh from here."""
        self.config = dataclasses.replace(self.config, faults=dataclasses.replace(self.config.faults, latency=spec))
        for client_id in [c for c in self._injectors if c not in self._own_faults()]:
            del self._injectors[client_id]

    def _own_faults(self) -> set[str]:
        return {c.client_id for c in self.config.clients if c.faults is not None}

    def reset(self) -> None:
        self.store.reset()
        self.requests.clear()
        self.errors.clear()

    def stats(self) -> dict[str, Any]:
        return {"records": self.store.records_per_type(), "requests": dict(self.requests),
                "errors": dict(self.errors)}

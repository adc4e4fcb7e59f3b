"""The starlette app: routes, the request pipeline and the turning of errors into Capture error bodies.

Pipeline of every API call, in capture-api.md's classification order: read and decode the form
(query string and body), authenticate (402/205), apply the client's faults (510/500/504, latency),
check the permission table (403), then the operation itself: missing parameters (100), ``type_name``
(222), parsing (200), validation (223...234), uniqueness (361). Every API error is HTTP 200 with the
Capture error object; the only exception is the optional HTTP 510 of the concurrency-limit fault.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loadgen import wire
from loadgen.errors import CaptureError, Code, FormError, capture_error
from loadgen.sandbox.auth import PERMISSIONS, Authenticator, authorize
from loadgen.sandbox.config import ClientSpec, Faults, SandboxConfig
from loadgen.sandbox.faults import FaultInjector
from loadgen.sandbox.operations import Operations
from loadgen.sandbox.store import Store, compact_json
from loadgen.schema import Schema, default_schema

log = logging.getLogger("loadgen.sandbox")
T = TypeVar("T")

_rng = random.SystemRandom()

#: The form field that a too-large or undecodable body is blamed on, per operation.
_BODY_ARGUMENT = {"entity.bulkCreate": "all_attributes", "entity.create": "attributes",
                  "entity.update": "attributes", "entity.replace": "attributes"}
_READS = frozenset({"entity", "entity.find", "entity.count", "entityType"})
_FORM = "application/x-www-form-urlencoded"


def new_request_id() -> str:
    """16 random lowercase alphanumerics, like Capture's ``request_id`` (base32 of 80 random bits)."""
    return base64.b32encode(os.urandom(10)).decode("ascii").lower()


def _json_response(body: dict[str, Any], status: int = 200) -> Response:
    text = compact_json(body)
    return Response(text.encode("utf-8", "surrogatepass"), status_code=status, media_type="application/json")


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
        self.ops = Operations(self)

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
        moves scans of unbounded length (find, count) to the DB thread, where SQLite runs without the GIL."""
        if not offload and not self._lock.locked():  # nothing on the DB thread, and no await until done
            return fn(*args, **kwargs)
        async with self._lock:
            if not offload:
                return fn(*args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()

    def reset(self) -> None:
        self.store.reset()
        self.requests.clear()
        self.errors.clear()

    def stats(self) -> dict[str, Any]:
        return {"records": self.store.records_per_type(), "requests": dict(self.requests),
                "errors": dict(self.errors)}


async def _read_body(request: Request, limit: int, op: str, request_id: str) -> bytes:
    """The body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise _too_big(limit, op, request_id)
        return await request.body()  # the HTTP parser stops at the declared length
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_big(limit, op, request_id)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(limit: int, op: str, request_id: str) -> CaptureError:
    return capture_error(Code.INVALID_ARGUMENT, f"the request body is larger than {limit} bytes",
                         argument_name=_BODY_ARGUMENT.get(op), request_id=request_id)


async def _params(request: Request, state: SandboxState, op: str, request_id: str) -> dict[str, str]:
    """Query string and form body, decoded strictly (a body field wins over a query one)."""
    try:
        query = request.scope.get("query_string")
        params = wire.decode_form(query) if query else {}
        if request.method == "POST":
            body = await _read_body(request, state.config.max_body, op, request_id)
            ctype = request.headers.get("content-type", _FORM).split(";")[0].strip().lower()
            if body and ctype != _FORM:
                raise capture_error(Code.INVALID_ARGUMENT, f"the body must be {_FORM}, not {ctype[:60]!r}",
                                    request_id=request_id)
            if body:
                params.update(wire.decode_form(body))
    except FormError as exc:
        raise capture_error(Code.INVALID_ARGUMENT, str(exc), argument_name=_BODY_ARGUMENT.get(op),
                            request_id=request_id) from None
    return params


async def _call(state: SandboxState, op: str, request: Request) -> Response:
    request_id = new_request_id()
    state.requests[op] += 1
    try:
        if request.method != "POST" and op not in _READS:
            raise capture_error(Code.INVALID_ARGUMENT, f"{op} must be called with POST", request_id=request_id)
        params = await _params(request, state, op, request_id)
        headers = request.headers
        client = state.auth.authenticate(headers.get("authorization"), headers.get("date"),
                                         request.scope["path"], params, request_id)
        injector = state.injector(client)
        if injector is None:
            authorize(client, op, request_id)
            body = await state.ops.run(op, params, client, request_id)
        else:
            async with injector.call(request_id):
                authorize(client, op, request_id)
                body = await state.ops.run(op, params, client, request_id)
        return _json_response(body)
    except CaptureError as exc:
        return _error_response(state, exc, request_id)
    except Exception:  # a bug or a broken database: still a Capture error object, never a traceback page
        log.exception("sandbox: unexpected error in %s", op)
        return _error_response(state, capture_error(Code.UNEXPECTED_ERROR, "unexpected error"), request_id)


def _error_response(state: SandboxState, exc: CaptureError, request_id: str) -> Response:
    if exc.request_id is None:
        exc.request_id = request_id
    state.errors[str(exc.code)] += 1
    return _json_response(exc.to_body(), exc.http_status or 200)


def _endpoint(state: SandboxState, op: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await _call(state, op, request)
    return endpoint


def create_app(config: SandboxConfig) -> Starlette:
    """The sandbox as an ASGI app. ``app.state.sandbox`` is its ``SandboxState`` (client, store, stats)."""
    state = SandboxState(config)

    async def unknown(request: Request) -> Response:
        request_id = new_request_id()
        state.requests["unknown"] += 1
        err = capture_error(Code.INVALID_ARGUMENT, f"unknown operation {request.scope['path'][:100]!r}",
                            request_id=request_id)
        return _error_response(state, err, request_id)

    async def stats(request: Request) -> Response:
        return _json_response(await state.db(state.stats))

    async def reset(request: Request) -> Response:
        await state.db(state.reset)
        return _json_response({"stat": "ok"})

    async def on_capture_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CaptureError)
        return _error_response(state, exc, exc.request_id or new_request_id())

    routes = [Route(f"/{op}", _endpoint(state, op), methods=["GET", "POST"]) for op in PERMISSIONS]
    if config.admin:
        routes += [Route("/_sandbox/stats", stats, methods=["GET"]),
                   Route("/_sandbox/reset", reset, methods=["POST"])]
    routes.append(Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = Starlette(routes=routes, exception_handlers={CaptureError: on_capture_error}, lifespan=lifespan)
    app.state.sandbox = state
    return app

"""The starlette app: routes, the request pipeline and the turning of errors into Capture error bodies.

Pipeline of every API call, in capture-api.md's classification order: check what the headers alone
settle (Basic credentials and their permission, or a signed request's client, Date and skew: 402/205/403
before any body is read), read the body (bounded in size and time) and decode the form (query string
and body), check the signature or legacy credentials and the permission (402/403), apply the client's
faults (510/500/504, latency), then the operation itself: missing parameters (100), ``type_name`` (222),
parsing (200), validation (223...234), uniqueness (361). Every API error is HTTP 200 with the Capture
error object; the only exception is the optional HTTP 510 of the concurrency-limit fault.

No request may stall the others: a large one (body or query above ``_INLINE`` bytes, and every
``entity.find``, which renders rows) is decoded, parsed, validated and answered on the worker thread's
event loop, while the server's loop goes on serving; its store calls come back to the server's loop.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loadgen import wire
from loadgen._fast.json_text import compact_json
from loadgen.errors import CaptureError, Code, FormError, UsageError, capture_error
from loadgen.sandbox.auth import PERMISSIONS, authorize
from loadgen.sandbox.config import ClientSpec, SandboxConfig
from loadgen.sandbox.faults import Faults
from loadgen.sandbox.operations import Operations
from loadgen.sandbox.state import SandboxState

log = logging.getLogger("loadgen.sandbox")

#: The form field that a too-large or undecodable body is blamed on, per operation.
_BODY_ARGUMENT = {"entity.bulkCreate": "all_attributes", "entity.create": "attributes",
                  "entity.update": "attributes", "entity.replace": "attributes"}
_READS = frozenset({"entity", "entity.find", "entity.count", "entityType"})
_FORM = "application/x-www-form-urlencoded"
#: Bodies and query strings up to this size are served on the server's loop (a thread hop costs more).
_INLINE = 64 * 1024
#: No JSON parameter but ``all_attributes`` may be longer, and ``all_attributes`` must end an object in
#: every run of this length: no record is that large, and the JSON parser, one C call (holding the GIL)
#: from one Python callback to the next, then never keeps the server's loop waiting for long.
_MAX_FIELD = 1024 * 1024
_JSON_FIELDS = frozenset({"attributes", "value", "key_value", "sort_on"})


def new_request_id() -> str:
    """16 random lowercase alphanumerics, like Capture's ``request_id`` (base32 of 80 random bits)."""
    return base64.b32encode(os.urandom(10)).decode("ascii").lower()


def _json_response(body: dict[str, Any], status: int = 200, *, close: bool = False) -> Response:
    text = compact_json(body)
    headers = {"connection": "close"} if close else None
    return Response(text.encode("utf-8", "surrogatepass"), status_code=status, media_type="application/json",
                    headers=headers)


class _BodyError(Exception):
    """The body is too large or too slow: answered with ``connection: close``, the rest never read."""

    def __init__(self, error: CaptureError) -> None:
        self.error = error


async def _read_body(request: Request, config: SandboxConfig, op: str, request_id: str) -> bytes:
    """The body, refusing more than ``max_body`` bytes without reading them, or a body slower than
    ``body_timeout`` seconds."""
    limit = config.max_body
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and (len(declared) > 15 or int(declared) > limit):
        raise _body_error(f"the request body is larger than {limit} bytes", op, request_id)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(config.body_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _body_error(f"the request body is larger than {limit} bytes", op, request_id)
                chunks.append(chunk)
    except TimeoutError:
        raise _body_error(f"the request body did not arrive within {config.body_timeout:g} s", op,
                          request_id) from None
    return b"".join(chunks)


def _body_error(message: str, op: str, request_id: str) -> _BodyError:
    return _BodyError(capture_error(Code.INVALID_ARGUMENT, message, argument_name=_BODY_ARGUMENT.get(op),
                                    request_id=request_id))


def _form(query: bytes, body: bytes, ctype: str, op: str, request_id: str) -> dict[str, str]:
    """Query string and form body, decoded strictly (a body field wins over a query one)."""
    try:
        params = wire.decode_form(query) if query else {}
        if body and ctype != _FORM:
            raise capture_error(Code.INVALID_ARGUMENT, f"the body must be {_FORM}, not {ctype[:60]!r}",
                                request_id=request_id)
        if body:
            params.update(wire.decode_form(body))
    except FormError as exc:
        raise capture_error(Code.INVALID_ARGUMENT, str(exc), argument_name=_BODY_ARGUMENT.get(op),
                            request_id=request_id) from None
    return params


async def _request(state: SandboxState, request: Request, op: str, request_id: str,
                   client: ClientSpec | None) -> tuple[dict[str, str], ClientSpec, bool]:
    """The parameters and the authenticated (not yet authorised) client, and whether the call is large
    (see the module doc)."""
    query: bytes = request.scope.get("query_string") or b""
    body = await _read_body(request, state.config, op, request_id) if request.method == "POST" else b""
    ctype = request.headers.get("content-type", _FORM).split(";")[0].strip().lower()
    large = len(body) + len(query) > _INLINE
    path: str = request.scope["path"]

    async def decode() -> tuple[dict[str, str], ClientSpec]:
        params = _form(query, body, ctype, op, request_id)
        headers = request.headers
        return params, client or state.auth.authenticate(headers.get("authorization"), headers.get("date"), path,
                                                         params, request_id)

    params, found = await (state.worker.run(decode()) if large else decode())
    return params, found, large or op == "entity.find"


def _screen(params: dict[str, str], request_id: str) -> None:
    """Refuse the JSON fields ``_MAX_FIELD`` rules out (checked on large requests, before they are parsed)."""
    for name, value in params.items():
        if len(value) <= _MAX_FIELD or (name not in _JSON_FIELDS and name != "all_attributes"):
            continue
        if name != "all_attributes":
            raise capture_error(Code.INVALID_ARGUMENT, f"{name} is longer than {_MAX_FIELD} characters",
                                argument_name=name, request_id=request_id)
        if any("}" not in value[at:at + _MAX_FIELD] for at in range(0, len(value) - _MAX_FIELD + 1, _MAX_FIELD)):
            raise capture_error(Code.INVALID_ARGUMENT, f"all_attributes holds a record longer than {_MAX_FIELD} "
                                "characters", argument_name=name, request_id=request_id)


async def _answer(ops: Operations, op: str, params: dict[str, str], client: ClientSpec,
                  request_id: str, large: bool) -> Response:
    if large:
        _screen(params, request_id)
    return _json_response(await ops.run(op, params, client, request_id))


async def _call(state: SandboxState, ops: Operations, op: str, request: Request) -> Response:
    request_id = new_request_id()
    state.requests[op] += 1
    state.loop = state.loop or asyncio.get_running_loop()  # the lifespan sets it; an app run without one too
    try:
        if request.method != "POST" and op not in _READS:
            raise capture_error(Code.INVALID_ARGUMENT, f"{op} must be called with POST", request_id=request_id)
        client = state.auth.from_headers(request.headers.get("authorization"), request.headers.get("date"),
                                         request_id)
        if client is not None:
            authorize(client, op, request_id)  # before the body is read, and before any fault
        params, client, large = await _request(state, request, op, request_id, client)
        authorize(client, op, request_id)
        injector = state.injector(client)
        answer = partial(_answer, ops, op, params, client, request_id, large)
        if injector is None:
            return await (state.worker.run(answer()) if large else answer())
        async with injector.call(request_id):
            return await (state.worker.run(answer()) if large else answer())
    except _BodyError as exc:
        return _error_response(state, exc.error, request_id, close=True)
    except CaptureError as exc:
        return _error_response(state, exc, request_id)
    except Exception:  # a bug or a broken database: still a Capture error object, never a traceback page
        log.exception("sandbox: unexpected error in %s", op)
        return _error_response(state, capture_error(Code.UNEXPECTED_ERROR, "unexpected error"), request_id)


def _error_response(state: SandboxState, exc: CaptureError, request_id: str, *, close: bool = False) -> Response:
    if exc.request_id is None:
        exc.request_id = request_id
    state.errors[str(exc.code)] += 1
    return _json_response(exc.to_body(), exc.http_status or 200, close=close)


def _endpoint(state: SandboxState, ops: Operations, op: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await _call(state, ops, op, request)
    return endpoint


def _latency_route(state: SandboxState, admin: Callable[[Request, Callable[[], dict[str, Any]]], Awaitable[Response]],
                   ) -> Callable[[Request], Awaitable[Response]]:
    """``POST /_sandbox/latency?latency=50`` (a fault spec, "" for none): the added latency from now on."""
    async def latency(request: Request) -> Response:
        spec = request.query_params.get("latency", "")
        try:
            Faults(latency=spec)
        except UsageError as exc:
            request_id = new_request_id()
            return _error_response(state, capture_error(Code.INVALID_ARGUMENT, str(exc), argument_name="latency",
                                                        request_id=request_id), request_id)

        def changed() -> dict[str, Any]:
            state.set_latency(spec)
            return {"stat": "ok", "latency": spec}

        return await admin(request, changed)
    return latency


def create_app(config: SandboxConfig) -> Starlette:
    """The sandbox as an ASGI app. ``app.state.sandbox`` is its ``SandboxState`` (client, store, stats)."""
    state = SandboxState(config)
    ops = Operations(state)

    async def unknown(request: Request) -> Response:
        request_id = new_request_id()
        state.requests["unknown"] += 1
        err = capture_error(Code.INVALID_ARGUMENT, f"unknown operation {request.scope['path'][:100]!r}",
                            request_id=request_id)
        return _error_response(state, err, request_id)

    async def admin(request: Request, action: Callable[[], dict[str, Any]]) -> Response:
        """An admin endpoint: for an owner client only (Basic or signed, 402/403 otherwise)."""
        request_id = new_request_id()
        try:
            client = state.auth.from_headers(request.headers.get("authorization"), request.headers.get("date"),
                                             request_id)
            if client is None:
                client = (await _request(state, request, "_sandbox", request_id, None))[1]
            if "owner" not in client.features:
                raise capture_error(Code.CLIENT_PERMISSION_ERROR, "the admin endpoints need an owner client",
                                    request_id=request_id)
            return _json_response(await state.db(action))
        except _BodyError as exc:
            return _error_response(state, exc.error, request_id, close=True)
        except CaptureError as exc:
            return _error_response(state, exc, request_id)

    def cleared() -> dict[str, Any]:
        state.reset()
        return {"stat": "ok"}

    async def stats(request: Request) -> Response:
        return await admin(request, state.stats)

    async def reset(request: Request) -> Response:
        return await admin(request, cleared)

    async def on_capture_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CaptureError)
        return _error_response(state, exc, exc.request_id or new_request_id())

    routes = [Route(f"/{op}", _endpoint(state, ops, op), methods=["GET", "POST"]) for op in PERMISSIONS]
    if config.admin:
        routes += [Route("/_sandbox/stats", stats, methods=["GET"]),
                   Route("/_sandbox/reset", reset, methods=["POST"]),
                   Route("/_sandbox/latency", _latency_route(state, admin), methods=["POST"])]
    routes.append(Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        yield
        state.close()

    app = Starlette(routes=routes, exception_handlers={CaptureError: on_capture_error}, lifespan=lifespan)
    app.state.sandbox = state
    return app

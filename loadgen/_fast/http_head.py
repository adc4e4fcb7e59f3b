"""A POST's request head built once per path and header names, then filled in for each request.

Why: geventhttpclient's ``HTTPClient.request`` merges and validates the headers into a new request head
on every call: 8 µs or more, a tenth of what a whole request costs the load generator. But our requests
to a path always carry the same header names: only their values change (a signature, a date) and the
``Content-Length``. :func:`template` has the library build the head once, with placeholder values, through
its private ``HTTPClient._build_request`` (so the library orders and validates it, and the bytes on the
wire are the ones it would send); :func:`fill` puts in each request's values and length, and :func:`send`
writes it on a socket of the client's private ``_connection_pool`` and reads the answer with the library's
own response parser. Together they replace :func:`post_plain` (``HTTPClient.request``). Checked against
geventhttpclient 2.6.1 (pinned ``>=2.6,<2.7`` in pyproject.toml); a head that does not look as expected
(a proxy, another version) gives no template, and the caller takes the plain path.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence

import gevent.socket
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPSocketPoolResponse

#: What the library ends the head of an empty POST with; a template keeps the part before the length.
_EMPTY_LENGTH = "Content-Length: 0\r\n\r\n"
#: Headers that change how the library frames the request: those requests take its own path.
_FRAMING = frozenset({"content-length", "transfer-encoding", "expect", "host"})

#: The head as (text before the first value, (text after each value...)).
Template = tuple[str, tuple[str, ...]]


def post_plain(client: HTTPClient, target: str, body: bytes, headers: Mapping[str, str]) -> HTTPSocketPoolResponse:
    """One POST through the library's public method (it validates the headers and raises on bad ones)."""
    return client.request("POST", target, body=body, headers=headers)


def template(client: HTTPClient, target: str, names: Sequence[str]) -> Template | None:
    """The head of a POST to ``target`` with headers ``names``, or None where only the library may build it."""
    if any(name.lower() in _FRAMING for name in names) or client.version != HTTPClient.HTTP_11:
        return None
    marks = {name: f"<loadgen-value-{i}>" for i, name in enumerate(names)}
    head = client._build_request("POST", target, body=b"", headers=marks)
    if not head.endswith(_EMPTY_LENGTH):
        return None
    rest = head[: -len(_EMPTY_LENGTH)] + "Content-Length: "
    pieces = []
    for mark in marks.values():
        before, found, rest = rest.partition(mark)
        if not found or mark in rest:
            return None
        pieces.append(before)
    pieces.append(rest)
    return pieces[0], tuple(pieces[1:])


def fill(head: Template, values: Sequence[str], body: bytes) -> bytes | None:
    """The whole request: the template with ``values`` (in the names' order) and ``body``, or None when a
    value is not printable ASCII (the library validates those, and refuses some: its own path)."""
    joined = "".join(values)
    if not (joined.isascii() and joined.isprintable()):
        return None
    text, tails = head
    for value, tail in zip(values, tails, strict=True):
        text += value + tail
    return text.encode("latin-1") + str(len(body)).encode("ascii") + b"\r\n\r\n" + body


def send(client: HTTPClient, request: bytes) -> HTTPSocketPoolResponse:
    """What ``HTTPClient.request`` does for a POST with a plain body: no retry once sent.

    One ``send`` puts a profile-sized request into the socket buffer; gevent's ``sendall`` would first
    ask the kernel for the buffer's size (a system call) and time its loop (its share shows in
    ``bench/fast.py``'s ``http_head`` ratio). Only what the buffer did not take goes through ``sendall``.
    """
    pool = client._connection_pool
    sock = pool.get_socket()
    try:
        sent = sock.send(request)
        if sent < len(request):
            sock.sendall(memoryview(request)[sent:])
    except gevent.socket.error as exc:
        if exc.errno not in (errno.ECONNRESET, errno.EPIPE):
            pool.release_socket(sock)
            raise
        # the server may have answered early and closed: read that answer (the response
        # releases the socket whether it succeeds or not)
    return HTTPSocketPoolResponse(sock, pool, block_size=client.block_size, method="POST",
                                  headers_type=client.headers_type)

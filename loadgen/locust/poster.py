"""One keep-alive connection that POSTs form bodies, with the request head built from a template.

geventhttpclient's ``HTTPClient.request`` merges and validates the headers into a new request head
on every call: 8 µs or more, a tenth of what a whole request costs the load generator. But our
requests to a path always carry the same header names: only their values change (a signature, a
date) and the ``Content-Length``. So :class:`FormPoster` has the library build the head once per
path and header names, with placeholder values (the library orders and validates it, so the bytes
on the wire are the ones it would send), and then fills in each request's values and length and
sends it on a pooled socket, reading the answer with the library's own response parser.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping

import gevent.socket
import gevent.ssl
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPSocketPoolResponse

#: What the library ends the head of an empty POST with; a template keeps the part before the length.
_EMPTY_LENGTH = "Content-Length: 0\r\n\r\n"
#: Headers that change how the library frames the request: those requests take its own path.
_FRAMING = frozenset({"content-length", "transfer-encoding", "expect", "host"})

#: The head as (text before the first value, (text after each value...)); None: use the library.
_Template = tuple[str, tuple[str, ...]] | None


class FormPoster:
    """POSTs to one origin over one keep-alive connection: ``post(target, body, headers)``."""

    def __init__(self, url: str, *, network_timeout: float, connection_timeout: float) -> None:
        self.client = HTTPClient.from_url(url, concurrency=1, network_timeout=network_timeout,
                                          connection_timeout=connection_timeout,
                                          ssl_context_factory=gevent.ssl.create_default_context)
        self._templates: dict[tuple[str, tuple[str, ...]], _Template] = {}

    def post(self, target: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """Send one POST of ``body`` to ``target``: (status, response body). Transport errors raise."""
        key = (target, tuple(headers))
        template = self._templates.get(key)
        if template is None and key not in self._templates:
            template = self._templates[key] = self._template(target, key[1])
        values = tuple(headers.values())
        joined = "".join(values)
        if template is None or not (joined.isascii() and joined.isprintable()):
            response = self.client.request("POST", target, body=body, headers=headers)  # validates, raises
        else:
            head, tails = template
            for value, tail in zip(values, tails, strict=True):
                head += value + tail
            response = self._send(head.encode("latin-1") + str(len(body)).encode("ascii") + b"\r\n\r\n" + body)
        content: bytes = response.read()
        return response.status_code, content

    def close(self) -> None:
        self.client.close()

    def _template(self, target: str, names: tuple[str, ...]) -> _Template:
        if any(name.lower() in _FRAMING for name in names) or self.client.version != HTTPClient.HTTP_11:
            return None
        marks = {name: f"<loadgen-value-{i}>" for i, name in enumerate(names)}
        head = self.client._build_request("POST", target, body=b"", headers=marks)
        if not head.endswith(_EMPTY_LENGTH):  # a proxy, another library version...: its own path
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

    def _send(self, request: bytes) -> HTTPSocketPoolResponse:
        """What ``HTTPClient.request`` does for a POST with a plain body: no retry once sent."""
        client = self.client
        pool = client._connection_pool
        sock = pool.get_socket()
        try:
            sock.sendall(request)
        except gevent.socket.error as exc:
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE):
                pool.release_socket(sock)
                raise
            # the server may have answered early and closed: read that answer (the response
            # releases the socket whether it succeeds or not)
        return HTTPSocketPoolResponse(sock, pool, block_size=client.block_size, method="POST",
                                      headers_type=client.headers_type)

"""One keep-alive connection that POSTs form bodies, with the request head built from a template.

geventhttpclient's ``HTTPClient.request`` builds and validates a new request head on every call, a
tenth of what a whole request costs the load generator; our requests to a path always carry the same
header names. So :class:`FormPoster` keeps one head template per path and header names and fills it in
(``loadgen._fast.http_head``, which leans on the library's internals and says why); a request the
template cannot serve takes the library's own path.
"""

from __future__ import annotations

from collections.abc import Mapping

import gevent.ssl
from geventhttpclient import HTTPClient

from loadgen._fast import http_head


class FormPoster:
    """POSTs to one origin over one keep-alive connection: ``post(target, body, headers)``."""

    def __init__(self, url: str, *, network_timeout: float, connection_timeout: float) -> None:
        self.client = HTTPClient.from_url(url, concurrency=1, network_timeout=network_timeout,
                                          connection_timeout=connection_timeout,
                                          ssl_context_factory=gevent.ssl.create_default_context)
        self._templates: dict[tuple[str, tuple[str, ...]], http_head.Template | None] = {}

    def post(self, target: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """Send one POST of ``body`` to ``target``: (status, response body). Transport errors raise."""
        key = (target, tuple(headers))
        template = self._templates.get(key)
        if template is None and key not in self._templates:
            template = self._templates[key] = http_head.template(self.client, target, key[1])
        request = None if template is None else http_head.fill(template, tuple(headers.values()), body)
        if request is None:
            response = http_head.post_plain(self.client, target, body, headers)  # validates, raises
        else:
            response = http_head.send(self.client, request)
        content: bytes = response.read()
        return response.status_code, content

    def close(self) -> None:
        self.client.close()

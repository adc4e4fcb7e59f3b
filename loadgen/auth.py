"""The three ways a client proves who it is to Capture, as httpx ``Auth`` classes.

- ``BasicAuth``: ``Authorization: Basic base64(client_id:secret)`` (Capture's recommended scheme).
- ``SignedAuth``: janrain-signed, a ``Date`` header and ``Authorization: Signature id:HMAC-SHA1`` over
  the decoded form fields. It signs with ``loadgen.signing.Signer``, whose twin ``signing.verify_signature``
  the sandbox checks with, so client and server cannot drift apart.
- ``LegacyParamAuth``: ``client_id`` and ``client_secret`` as extra form fields (old clients).

Every class keeps the secret as a :class:`Secret` (whose ``repr()`` is ``***``, so a traceback that prints
frame locals cannot show it) and offers ``redact(text)`` so that error messages quoting a server's answer
can never echo it back. Configuration: the URL argument, else ``CAPTURE_URL`` (``resolve_url``); the
credentials only from ``CAPTURE_CLIENT_ID`` and ``CAPTURE_CLIENT_SECRET`` (``credentials``), the scheme from
``CAPTURE_AUTH`` (basic|signed|legacy; ``auth_from_env``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote, quote_plus

import httpx

from loadgen import signing, wire
from loadgen.errors import FormError, UsageError

_FORM = "application/x-www-form-urlencoded"


class Secret:
    """A client secret that never shows itself: ``repr()`` and ``str()`` are ``Secret('***')``.

    pytest's long tracebacks (``--tb=long``, ``--showlocals``) print the arguments and locals of every
    frame, and so do other tools' crash reports: a secret held as a plain ``str`` would be printed with
    them. :meth:`reveal` is the one way to the value, called where a request is signed.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def reveal(self) -> str:
        return self._value


@dataclass(frozen=True)
class Credentials:
    """A client id and its secret, as :func:`credentials` reads them from the environment."""

    client_id: str
    secret: Secret


class CaptureAuth(httpx.Auth):
    """Common base: holds the credentials, keeps the secret out of ``repr()`` and redacts it.

    ``requires_request_body`` is set so httpx reads the body before ``auth_flow`` runs: the signed
    scheme signs the form fields and the legacy scheme rewrites them.
    """

    requires_request_body = True
    scheme: ClassVar[str]

    def __init__(self, client_id: str, secret: Secret | str) -> None:
        if not client_id or not secret:
            raise UsageError(f"{self.scheme} auth needs a non-empty client id and client secret")
        self.client_id = client_id
        self._secret = secret if isinstance(secret, Secret) else Secret(secret)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, secret=***)"

    def redact(self, text: str) -> str:
        """``text`` with the secret (raw, URL-encoded, inside a Basic header) replaced by ``***``."""
        for needle in self._needles():
            if needle:
                text = text.replace(needle, "***")
        return text

    def _needles(self) -> tuple[str, ...]:
        secret = self._secret.reveal()
        token = signing.basic_authorization(self.client_id, secret).removeprefix("Basic ")
        quoted_json = wire.dumps(secret)[1:-1]  # as it stands inside a JSON answer that is quoted back
        return (token, secret, quote_plus(secret), quote(secret, safe=""), quoted_json)


class BasicAuth(CaptureAuth):
    """HTTP Basic with the client id and secret, Capture's recommended scheme."""

    scheme = "basic"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = signing.basic_authorization(self.client_id, self._secret.reveal())
        yield request


class SignedAuth(CaptureAuth):
    """janrain-signed auth: ``Date: YYYY-MM-DD HH:MM:SS`` and ``Signature id:base64(hmac_sha1)``.

    The signature covers the URL path, the date and the decoded form fields (or the query of a
    GET), sorted as ``k=v`` strings as janrain-python-api sorts them. ``clock`` exists so tests
    can pin the date; it must return an aware UTC datetime.
    """

    scheme = "signed"

    def __init__(self, client_id: str, secret: Secret | str, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(client_id, secret)
        self._clock = clock
        self._signer = signing.Signer(client_id, self._secret.reveal())

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        params = _request_params(request)
        now = self._clock() if self._clock is not None else None
        request.headers.update(self._signer.headers(request.url.path, params, now=now))
        yield request


class LegacyParamAuth(CaptureAuth):
    """``client_id`` and ``client_secret`` as form fields, the way old clients authenticate.

    Only POST bodies carry them: a secret in a query string would end up in access logs and in
    httpx's own request log line.
    """

    scheme = "legacy"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if request.method != "POST":
            raise UsageError("legacy auth sends the secret in the form body, so it only works with POST")
        params = _request_params(request)
        params.update(client_id=self.client_id, client_secret=self._secret.reveal())
        headers = httpx.Headers(request.headers)
        headers.pop("Content-Length", None)
        headers["Content-Type"] = _FORM
        yield httpx.Request("POST", request.url, headers=headers, content=wire.encode_form(params),
                            extensions=request.extensions)


def _request_params(request: httpx.Request) -> dict[str, str]:
    """The decoded parameters of a Capture request: the form body of a POST, else the query string."""
    if request.method == "POST":
        try:
            return wire.decode_form(request.content)
        except FormError as exc:
            raise UsageError(f"cannot sign {request.url.path}: {exc}") from None
    return dict(request.url.params.items())


def make_auth(scheme: str, client_id: str, secret: Secret | str) -> CaptureAuth:
    """The auth object for a scheme name: ``basic``, ``signed`` (or ``janrain-signed``) or ``legacy``."""
    name = {"janrain-signed": "signed"}.get(scheme.strip().lower(), scheme.strip().lower())
    cls = next((c for c in (BasicAuth, SignedAuth, LegacyParamAuth) if c.scheme == name), None)
    if cls is None:
        raise UsageError(f"unknown auth scheme {scheme!r} (expected basic, signed or legacy)")
    return cls(client_id, secret)


def credentials(*, env: Mapping[str, str] | None = None) -> Credentials:
    """``CAPTURE_CLIENT_ID`` and ``CAPTURE_CLIENT_SECRET`` (``env`` stands in for ``os.environ`` in tests).

    The one place the environment's credentials are read (the client, ``loadgen run``, ``cleanup``, the
    pytest plugin and every Locust process). The secret is wrapped as it is read, so no frame here holds
    it as a plain ``str``. A missing value raises a one-line ``UsageError`` naming the variable to set.
    """
    found = Credentials((os.environ if env is None else env).get("CAPTURE_CLIENT_ID", ""),
                        Secret((os.environ if env is None else env).get("CAPTURE_CLIENT_SECRET", "")))
    missing = [name for name, value in (("CAPTURE_CLIENT_ID", found.client_id),
                                        ("CAPTURE_CLIENT_SECRET", found.secret)) if not value]
    if missing:
        are = "is not set" if len(missing) == 1 else "are not set"
        raise UsageError(f"no client credentials: {' and '.join(missing)} {are} (credentials come only from "
                         "the environment variables CAPTURE_CLIENT_ID and CAPTURE_CLIENT_SECRET)")
    return found


def auth_from_env(scheme: str | None = None, *, env: Mapping[str, str] | None = None) -> CaptureAuth:
    """The environment's credentials (:func:`credentials`) with ``scheme``, else ``CAPTURE_AUTH``, else basic."""
    found = credentials(env=env)
    return make_auth(scheme or (os.environ if env is None else env).get("CAPTURE_AUTH", "") or "basic",
                     found.client_id, found.secret)


def resolve_url(base_url: str | None, *, insecure: bool = False) -> str:
    """``base_url``, else ``CAPTURE_URL``, checked: http(s), no credentials inside, no clear text off loopback.

    Plain ``http://`` to another host would send the client secret across the network in clear,
    so it needs ``insecure=True``. A query or fragment is refused: the URL appears in every error
    message, in ``repr()`` and in httpx's request log, so nothing secret may ride in it.
    """
    url = (base_url or os.environ.get("CAPTURE_URL", "")).strip()
    if not url:
        raise UsageError("no Capture URL: pass base_url or set CAPTURE_URL")
    shown = url.split("?", 1)[0].split("#", 1)[0]  # what a message may quote: a query can hold anything
    if "@" in shown:
        raise UsageError("the Capture URL must not carry credentials; set CAPTURE_CLIENT_ID/CAPTURE_CLIENT_SECRET")
    if shown != url:
        raise UsageError(f"the Capture URL must not carry a query or fragment: use {shown!r}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UsageError(f"bad Capture URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(f"bad Capture URL {url!r}: expected https://<app>.janraincapture.com")
    if parsed.scheme == "http" and not insecure and not is_loopback(parsed.host):
        raise UsageError(f"refusing plain http:// to {parsed.host}: the client secret would cross the "
                         "network in clear (use https://, or --insecure; insecure=True in Python)")
    return url


def is_loopback(host: str) -> bool:
    """localhost, *.localhost or a loopback address: where a sandbox runs, never a real domain."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

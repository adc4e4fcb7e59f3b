"""Who is calling, and may they: Basic, janrain-signed and legacy form credentials, then the permission table.

Verification uses ``signing.verify_signature``, the same code the client signs with, so the two sides
cannot drift. Secrets are compared in constant time, and an unknown Basic or legacy client id is
compared against a dummy secret so that timing does not reveal which ids exist. A signed request's
client id, Date and skew are checked from its headers before its body is read (an unknown id answers
like a wrong signature); the HMAC, which covers the body, after.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from loadgen import signing
from loadgen.errors import Code, capture_error
from loadgen.sandbox.config import ClientSpec

_WRITE = frozenset({"owner", "direct_access"})
_READ = _WRITE | {"direct_read_access"}
_TYPE = _READ | {"access_issuer", "login_client"}

#: The features that may make each call (capture-api.md, "Client permissions").
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "entity.create": _WRITE, "entity.bulkCreate": _WRITE, "entity.update": _WRITE,
    "entity.replace": _WRITE, "entity.delete": _WRITE,
    "entity": _READ, "entity.find": _READ, "entity.count": _READ,
    "entityType": _TYPE,
}

_DUMMY_SECRET = "sandbox-dummy-secret-for-constant-time-compares"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


class Authenticator:
    """Maps request credentials to a ``ClientSpec`` or raises the matching Capture error."""

    def __init__(self, clients: Mapping[str, ClientSpec], *, skew: float = 900.0, legacy: bool = True) -> None:
        self._clients = dict(clients)
        self.skew = skew
        self.legacy = legacy

    def _check(self, client_id: str, secret: str, request_id: str) -> ClientSpec:
        client = self._clients.get(client_id)
        ok = _same(secret, client.secret if client else _DUMMY_SECRET)
        if client is None or not ok:
            raise capture_error(Code.INVALID_CLIENT_CREDENTIALS, "client_id or client_secret is not valid",
                                request_id=request_id)
        return client

    def from_headers(self, authorization: str | None, date_header: str | None, request_id: str,
                     now: datetime | None = None) -> ClientSpec | None:
        """What the headers alone settle, before any body is read: the client of Basic credentials, or
        None when the proof is in the form (a signature over it, or legacy parameters).

        A wrong scheme, Basic credentials, signed client id, Date or skew is refused here (402/205), so
        an unknown client's 16 MB body is never read; only the HMAC waits for the body it covers.
        """
        if not authorization:
            return None
        scheme, _, rest = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return self._basic(rest.strip(), request_id)
        if scheme == "signature":
            self._signer(rest.strip(), date_header, request_id, now)
            return None
        raise capture_error(Code.INVALID_AUTH_METHOD, f"the {scheme[:20]!r} authorization scheme is not "
                            "accepted (use Basic or janrain-signed)", request_id=request_id)

    def authenticate(self, authorization: str | None, date_header: str | None, path: str,
                     params: Mapping[str, str], request_id: str, now: datetime | None = None) -> ClientSpec:
        """The calling client. 402 for bad credentials or signature, 205 for an unaccepted scheme."""
        client = self.from_headers(authorization, date_header, request_id, now)
        if client is not None:
            return client
        if authorization:  # a signature, whose client, Date and skew from_headers has checked
            client, given = self._signer(authorization.strip().partition(" ")[2].strip(), date_header,
                                         request_id, now)
            assert date_header is not None
            if not signing.verify_signature(given, client.secret, path, date_header, params):
                raise capture_error(Code.INVALID_CLIENT_CREDENTIALS, "the signature is not valid",
                                    request_id=request_id)
            return client
        if "client_id" in params or "client_secret" in params:
            if not self.legacy:
                raise capture_error(Code.INVALID_AUTH_METHOD, "client credentials as parameters are disabled "
                                    "(use Basic or janrain-signed)", request_id=request_id)
            return self._check(params.get("client_id", ""), params.get("client_secret", ""), request_id)
        raise capture_error(Code.INVALID_CLIENT_CREDENTIALS, "no client credentials were given",
                            request_id=request_id)

    def _basic(self, token: str, request_id: str) -> ClientSpec:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise capture_error(Code.INVALID_CLIENT_CREDENTIALS, "the Basic credentials are not valid base64",
                                request_id=request_id) from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise capture_error(Code.INVALID_CLIENT_CREDENTIALS, "the Basic credentials lack a ':'",
                                request_id=request_id)
        return self._check(client_id, secret, request_id)

    def _signer(self, token: str, date_header: str | None, request_id: str,
                now: datetime | None) -> tuple[ClientSpec, str]:
        """The client a Signature header names and the signature it gives, once its Date is within the skew.

        An unknown id gets the answer of a wrong signature, so the two cannot be told apart.
        """
        client_id, sep, given = token.rpartition(":")
        if not sep or not client_id:
            raise capture_error(Code.INVALID_CLIENT_CREDENTIALS, "the Signature header must be id:signature",
                                request_id=request_id)
        moment = signing.parse_signed_date(date_header or "")
        if moment is None:
            raise capture_error(Code.INVALID_CLIENT_CREDENTIALS,
                                "a signed request needs a Date header as YYYY-MM-DD HH:MM:SS (UTC)",
                                request_id=request_id)
        drift = abs(((now or datetime.now(UTC)) - moment).total_seconds())
        if drift > self.skew:
            raise capture_error(Code.INVALID_CLIENT_CREDENTIALS,
                                f"the Date header is {drift:.0f} s away from the server clock "
                                f"(at most {self.skew:.0f} s allowed)", request_id=request_id)
        client = self._clients.get(client_id)
        if client is None:
            raise capture_error(Code.INVALID_CLIENT_CREDENTIALS, "the signature is not valid",
                                request_id=request_id)
        return client, given


def authorize(client: ClientSpec, operation: str, request_id: str) -> None:
    """403 client_permission_error unless one of the client's features allows ``operation``."""
    if not client.features & PERMISSIONS.get(operation, frozenset()):
        raise capture_error(Code.CLIENT_PERMISSION_ERROR,
                            f"this client may not call {operation} (features: {', '.join(sorted(client.features))})",
                            request_id=request_id)

"""The janrain signature and Basic credentials: what an ``Authorization`` header says, on both sides.

The client and the load users sign with :class:`Signer`; the sandbox verifies with :func:`verify_signature`,
the same text-to-sign, so the two cannot drift apart. Kept apart from :mod:`loadgen.wire` (bodies and
timestamps): a signature covers the decoded form fields, not the bytes on the wire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _hashlib import HASH as Hash

#: The ``Date`` header of a signed request.
SIGNED_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def string_to_sign(path: str, date_header: str, params: Mapping[str, str], *,
                   sort_keys: bool = False, trailing_newline: bool = False) -> str:
    """The text that janrain-signed auth signs.

    ``path + "\\n" + date + "\\n" + "k=v\\n"`` for each parameter, sorted as ``k=v`` strings (as
    janrain-python-api does) or, with ``sort_keys``, by key. ``trailing_newline`` adds the extra
    ``"\\n"`` that some clients send after an empty parameter list.
    """
    if sort_keys:
        lines = [f"{k}={params[k]}\n" for k in sorted(params)]
    else:
        lines = sorted(f"{k}={v}\n" for k, v in params.items())
    tail = "".join(lines)
    if not tail and trailing_newline:
        tail = "\n"
    return f"{path}\n{date_header}\n{tail}"


def signature(secret: str, path: str, date_header: str, params: Mapping[str, str], *,
              sort_keys: bool = False, trailing_newline: bool = False) -> str:
    """base64(HMAC-SHA1(secret, string_to_sign)).

    >>> p = {"param1": "this is a string", "param2": "10", "param3": "one=1\\ntwo=2,three=3"}
    >>> signature("bar", "/entity", "2000-01-01 01:01:01", p)
    'G3N5RxCVc0d6rDLmBRGvcg2hCVY='
    """
    return _sign(secret, string_to_sign(path, date_header, params, sort_keys=sort_keys,
                                        trailing_newline=trailing_newline))


def _sign(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


#: HMAC-SHA1 (RFC 2104): the block size, and the key's inner and outer paddings as ``bytes.translate`` tables.
_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))

#: The ways a client proves who it is (``loadgen.auth``), the names of ``--auth`` and the Locust users' schemes.
AUTH_SCHEMES = ("basic", "signed", "legacy")


class Signer:
    """The ``Date`` and ``Authorization`` headers of janrain-signed requests for one client.

    Cheap enough for every request of a load test: the ``Date`` is formatted once per second, and the
    HMAC (RFC 2104, as :func:`signature` computes it with ``hmac.new``) is kept as its two SHA-1 states
    with the padded key already fed in, which a request copies: ``hashlib`` objects straight, without the
    ``hmac`` module's Python wrapper around each copy, update and digest (a fifth of a signature's cost).

    >>> Signer("foo", "bar").headers("/entity", {"param2": "10"}, now=datetime(2000, 1, 1, 1, 1, 1, tzinfo=UTC))
    {'Date': '2000-01-01 01:01:01', 'Authorization': 'Signature foo:4zuA0e63BZdHZITM9d8clnF5tf4='}
    """

    def __init__(self, client_id: str, secret: str) -> None:
        self.client_id = client_id
        key = secret.encode("utf-8")
        key = (hashlib.sha1(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha1(key.translate(_IPAD))
        self._outer = hashlib.sha1(key.translate(_OPAD))
        self._prefix = f"Signature {client_id}:"
        self._second, self._date = -1, ""
        self._plans: dict[tuple[tuple[tuple[str, str], ...], str], tuple[bytes, bytes] | None] = {}
        #: this second's HMAC of each form's text up to its field's value, and the text after it
        self._started: dict[tuple[str, tuple[tuple[str, str], ...], str], tuple[Hash, bytes]] = {}

    def __repr__(self) -> str:
        return f"<Signer {self.client_id}>"

    def _now(self) -> str:
        """The ``Date`` of the current UTC second (a new second starts the forms' HMACs afresh)."""
        second = int(time.time())
        if second != self._second:
            self._second, self._date = second, time.strftime(SIGNED_DATE_FORMAT, time.gmtime(second))
            self._started = {}
        return self._date

    def _signed(self, date_header: str, inner: Hash) -> dict[str, str]:
        """The headers, from the inner hash that has been fed the whole text to sign."""
        outer = self._outer.copy()
        outer.update(inner.digest())
        digest = binascii.b2a_base64(outer.digest(), newline=False).decode("ascii")
        return {"Date": date_header, "Authorization": self._prefix + digest}

    def headers(self, path: str, params: Mapping[str, str], now: datetime | None = None) -> dict[str, str]:
        """Sign ``path`` and ``params`` at ``now`` (default: the current UTC second)."""
        if now is None:
            date_header = self._now()
        else:  # the header is UTC whatever zone the caller's clock is in
            date_header = (now.astimezone(UTC) if now.tzinfo is not None else now).strftime(SIGNED_DATE_FORMAT)
        inner = self._inner.copy()
        inner.update(string_to_sign(path, date_header, params).encode("utf-8"))
        return self._signed(date_header, inner)

    def form_headers(self, path: str, fixed: tuple[tuple[str, str], ...], field: str, value: bytes) -> dict[str, str]:
        """:meth:`headers` of ``fixed`` params plus ``field`` = ``value`` (UTF-8 text), at the current second:
        the same signature, with the value fed to the HMAC as it is, never decoded, sorted or joined.

        A load test signs a 1-2 KB profile per request; decoding it, sorting the ``k=v`` lines and encoding
        the text again cost twice the HMAC itself. The lines' order is fixed by the keys alone whenever
        no key is a prefix of another (``type_name`` and ``attributes``), so it is worked out once, and
        the text before the value (path, date and the lines before the field's) is fed to an HMAC once a
        second: a request copies that HMAC and feeds it the value and the lines after it. Otherwise the
        value takes part in the order and the plain path signs.
        """
        date_header = self._now()
        started = self._started.get((path, fixed, field))
        if started is None:
            plan = self._plans.get((fixed, field))
            if plan is None and (fixed, field) not in self._plans:
                plan = self._plans[(fixed, field)] = _split_text(fixed, field)
            if plan is None:
                return self.headers(path, {**dict(fixed), field: value.decode("utf-8")})
            head = self._inner.copy()
            head.update(f"{path}\n{date_header}\n".encode() + plan[0])
            started = self._started[(path, fixed, field)] = (head, plan[1])
        inner = started[0].copy()
        inner.update(value)
        inner.update(started[1])
        return self._signed(date_header, inner)


def _split_text(fixed: tuple[tuple[str, str], ...], field: str) -> tuple[bytes, bytes] | None:
    """The signed text's parameter lines around the field's value: (the lines before it and ``field=``,
    the value's newline and the lines after it); None when the value could change the lines' order (a
    key that is a prefix of another, or a repeated key)."""
    keys = [k for k, _ in fixed] + [field]
    if len(set(keys)) != len(keys) or any(a != b and b.startswith(a) for a in keys for b in keys):
        return None
    lines = sorted([(f"{k}=", f"{k}={v}\n") for k, v in fixed] + [(f"{field}=", "")])
    at = next(i for i, (_, line) in enumerate(lines) if not line)
    before = "".join(line for _, line in lines[:at]) + f"{field}="
    after = "\n" + "".join(line for _, line in lines[at + 1:])
    return before.encode("utf-8"), after.encode("utf-8")


def basic_authorization(client_id: str, secret: str) -> str:
    """The ``Authorization`` value of Basic auth: ``Basic base64(client_id:secret)``."""
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
    return f"Basic {token}"


def verify_signature(given: str, secret: str, path: str, date_header: str, params: Mapping[str, str]) -> bool:
    """True if ``given`` matches any of the four forms real clients produce (constant-time compare).

    Both sort orders (``k=v`` strings or keys) and both empty-parameter forms are accepted. The four
    forms usually collapse to one text (the orders differ only when a key is a prefix of another, the
    newline only without parameters), so each distinct text is signed once: this runs on every
    signed request the sandbox serves.
    """
    texts = {string_to_sign(path, date_header, params, sort_keys=sort_keys) for sort_keys in (False, True)}
    if not params:
        texts.add(string_to_sign(path, date_header, params, trailing_newline=True))
    wanted = given.encode("utf-8", "replace")
    ok = False
    for text in texts:
        ok |= hmac.compare_digest(_sign(secret, text).encode("ascii"), wanted)
    return ok


def parse_signed_date(value: str) -> datetime | None:
    """The ``Date`` header of a signed request as an aware UTC datetime, or None if badly formatted."""
    try:
        return datetime.strptime(value, SIGNED_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None

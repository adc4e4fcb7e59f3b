"""The wire format that both sides share: strict JSON, form bodies, the janrain signature, timestamps.

One implementation serves the client (which signs and encodes) and the sandbox (which verifies and
parses), so the two can never drift apart. Imports nothing of the project but ``errors``. The
``*_fast`` functions (orjson) serve only the load generator's hot path; the sandbox stays strict.
"""

from __future__ import annotations

import binascii
import codecs
import json
import re
import shlex
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

import orjson

from loadgen.errors import FormError, JSONSyntaxError

#: Nesting deeper than this is rejected as invalid_argument (never a RecursionError, never a 500).
MAX_DEPTH = 64

#: The ``Date`` header format of janrain-signed auth (UTC).

def _reject_constant(name: str) -> Any:
    raise JSONSyntaxError(f"{name} is not JSON")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # one pass with a set, never list.count: a body may hold 100,000 keys
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONSyntaxError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONSyntaxError(f"number {text[:20]} is out of range")
    return value


_STRICT = json.JSONDecoder(strict=True, parse_constant=_reject_constant, parse_float=_finite_float,
                           object_pairs_hook=_unique_pairs)


def loads_strict(data: str | bytes, *, max_depth: int = MAX_DEPTH, max_items: int | None = None) -> Any:
    """Parse RFC 8259 JSON and nothing else.

    Python's ``json`` accepts NaN and Infinity, keeps the last of duplicate keys and lets lone
    surrogates (``"\\ud800"``) through; each of those is rejected here, as are a BOM, trailing
    garbage, control characters in strings, invalid UTF-8 and nesting deeper than ``max_depth``.
    ``max_items`` bounds the elements of a top-level array: parsing stops at the first one past it, so
    two million tiny elements cost no more than ``max_items`` of them.

    >>> loads_strict('{"a": [1, 2.5, null]}')
    {'a': [1, 2.5, None]}
    >>> loads_strict('{"a": NaN}')
    Traceback (most recent call last):
    ...
    loadgen.errors.JSONSyntaxError: the JSON is not syntactically valid: NaN is not JSON
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONSyntaxError(f"the JSON is not syntactically valid: invalid UTF-8 at byte {exc.start}") from None
    else:
        text = data
    try:
        value = _STRICT.decode(text) if max_items is None else _bounded(text, max_items)
    except _TooMany:
        raise JSONSyntaxError(f"the array holds more than {max_items} elements") from None
    except JSONSyntaxError as exc:
        raise JSONSyntaxError(f"the JSON is not syntactically valid: {exc}") from None
    except RecursionError:
        raise JSONSyntaxError(f"the JSON is nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, and int() refusing absurdly long numbers
        raise JSONSyntaxError(f"the JSON is not syntactically valid: {exc}") from None
    if len(text) > 2 * max_depth and _depth(text, max_depth) > max_depth:  # deeper needs 2 chars a level
        raise JSONSyntaxError(f"the JSON is nested deeper than {max_depth} levels")
    if "\\u" in text and re.search(r"\\u[dD][89a-fA-F]", text) and not _utf8_clean(value):
        raise JSONSyntaxError("the JSON is not syntactically valid: a lone surrogate escape")
    return value


class _TooMany(Exception):
    pass


_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace


def _skip(text: str, at: int) -> int:
    """The index of the first non-whitespace character from ``at`` on."""
    space = _SPACE.match(text, at)
    return space.end() if space else at


def _bounded(text: str, max_items: int) -> Any:
    """``_STRICT.decode(text)``, element by element if it is an array, raising ``_TooMany`` past ``max_items``."""
    at = _skip(text, 0)
    if not text.startswith("[", at):
        return _STRICT.decode(text)
    items: list[Any] = []
    at = _skip(text, at + 1)
    if text.startswith("]", at):
        end = at + 1
    else:
        while True:
            item, at = _STRICT.raw_decode(text, at)
            items.append(item)
            if len(items) > max_items:
                raise _TooMany
            at = _skip(text, at)
            if text.startswith("]", at):
                end = at + 1
                break
            if not text.startswith(",", at):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = _skip(text, at + 1)
    if _skip(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return items


#: ``_depth`` keeps quotes and brackets only, with objects folded into arrays (nesting is nesting).
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_ARRAYS = bytes.maketrans(b"{}", b"[]")


def _depth(text: str, limit: int) -> int:
    """Nesting depth of already parsed JSON text, stopping as soon as it passes ``limit``.

    Works on the text with C-speed bytes operations (a walk of the parsed value costs ten times more on
    a bulkCreate body): drop escaped backslashes and quotes, keep only quotes and brackets, drop any two
    adjacent quotes (an empty string, or a string end and the next start: nothing between them to keep),
    drop brackets that remain inside strings, then peel the innermost ``[]`` pairs, one level a round.
    """
    raw = text.encode("utf-8", "surrogatepass")
    if b"\\" in raw:  # valid JSON has backslashes only in strings, each one starting an escape
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = raw.translate(_ARRAYS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])
    depth = 0
    while skeleton and depth <= limit:
        depth += 1
        skeleton = skeleton.replace(b"[]", b"")
    return depth


def _utf8_clean(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_utf8_clean(k) and _utf8_clean(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_utf8_clean(v) for v in value)
    return True


def dumps(value: Any) -> str:
    """Compact JSON as Capture clients send it (UTF-8 text, no spaces, NaN refused)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# -- form bodies -------------------------------------------------------------------------------------

def encode_form(params: Mapping[str, str]) -> bytes:
    """``application/x-www-form-urlencoded`` bytes of string parameters."""
    return urlencode(params).encode("ascii")


def curl_command(url: str, params: Mapping[str, str | bytes], *, scheme: str = "basic") -> str:
    """A one-line ``curl`` that POSTs ``params`` as a form to ``url``, authenticated from the environment.

    The credentials stay ``$CAPTURE_CLIENT_ID`` / ``$CAPTURE_CLIENT_SECRET`` (expanded by the shell that
    runs the line, never written into it): as Basic auth, or with ``scheme="legacy"`` as two more form
    fields. A signed request cannot be a fixed line (its signature covers a Date that moves): ``"signed"``
    is refused with ``ValueError``. Values may be bytes that are not UTF-8, sent as they were.
    """
    body = urlencode(params)  # only [A-Za-z0-9_.~%+=&-]: safe inside single quotes
    if scheme == "basic":
        auth = '-u "$CAPTURE_CLIENT_ID:$CAPTURE_CLIENT_SECRET" '
    elif scheme == "legacy":  # curl joins its -d pieces with "&"
        auth = ('--data-urlencode "client_id=$CAPTURE_CLIENT_ID" '
                '--data-urlencode "client_secret=$CAPTURE_CLIENT_SECRET" ')
    else:
        raise ValueError(f"no fixed curl line for {scheme!r} requests")
    return (f"curl -sS {auth}"
            f"-H 'Content-Type: application/x-www-form-urlencoded' --data-binary '{body}' {shlex.quote(url)}")


_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")


def _lean(value: str) -> str:
    value = value.replace("%", "%25").replace("&", "%26").replace("+", "%2B").replace(" ", "+")
    if not value.isascii() or not value.isprintable():
        value = _NOT_PRINTABLE_ASCII.sub(lambda m: _percent(m.group().encode()).decode("ascii"), value)
    return value


def encode_form_lean(params: Mapping[str, str]) -> bytes:
    """A form body that escapes only what form decoding needs: ``%``, ``&``, ``+``, space, and bytes
    outside printable ASCII. ``=`` and JSON's ``{"":,[]}`` stay raw, as ``curl -d`` sends them.

    Every form parser decodes it to the same values as :func:`encode_form` (they split on ``&``, the
    first ``=`` and percent-decode the rest), at a tenth of the cost on a JSON value: the load
    generator's hot path uses it.
    """
    # a name ends at its first "=", so only in names is "=" escaped
    return "&".join(f"{_lean(k).replace('=', '%3D')}={_lean(v)}" for k, v in params.items()).encode("ascii")


def dumps_fast(value: Any) -> bytes:
    """:func:`dumps` as UTF-8 bytes, about 10x faster (orjson): the load generator's hot path.

    The same text for the plain values profiles hold (the tests pin it), but unlike :func:`dumps` it
    writes NaN as ``null`` and refuses integers beyond 64 bits: use it only on generated data.
    """
    return orjson.dumps(value)


def loads_fast(data: bytes | str) -> Any:
    """Parse trusted, small JSON quickly (orjson), raising ``ValueError`` on bad input.

    Laxer than :func:`loads_strict` (duplicate keys are accepted, the last wins): the load generator
    reads its responses with it and keeps the strict parser for anything it cannot read.
    """
    return orjson.loads(data)


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def form_escape_lean(value: bytes) -> bytes:
    """:func:`encode_form_lean`'s escaping of one UTF-8 value, given as bytes, at C speed.

    Printable ASCII (most profiles) costs four ``bytes.replace``; other bytes go through
    :func:`form_escape_unprintable`.
    """
    value = form_escape_reserved(value)
    return form_escape_unprintable(value) if value.translate(None, _PRINTABLE_ASCII) else value


def form_escape_reserved(value: bytes) -> bytes:
    """The half of :func:`form_escape_lean` every value needs: ``%``, ``&``, ``+`` and space."""
    return value.replace(b"%", b"%25").replace(b"&", b"%26").replace(b"+", b"%2B").replace(b" ", b"+")


def form_escape_unprintable(value: bytes) -> bytes:
    """The other half, on a value :func:`form_escape_reserved` has escaped: bytes outside printable ASCII
    as ``%xx`` (``=`` stays raw, as :func:`encode_form_lean` leaves it; hex digits are lowercase, which
    RFC 3986 makes equivalent to uppercase, and every form decoder reads).

    A value of printable ASCII and high bytes alone, without a backslash (JSON text from orjson of
    strings that need no JSON escape), takes :func:`form_escape_high`; any other the regex.
    """
    return _percent_runs(value) if value.translate(None, _PRINTABLE_ASCII_OR_HIGH) else form_escape_high(value)


def form_escape_high(value: bytes) -> bytes:
    """:func:`form_escape_unprintable` of a value its caller knows to hold no control character and no
    DEL (orjson escapes every control character; ``loadgen.generation`` looks for DEL once per slice).

    C code alone, no Python call per run of non-ASCII letters: read as Latin-1, each high byte is one
    character that ``backslashreplace`` writes as ``\\xNN``. Then ``\\x`` becomes ``%`` in one
    ``translate`` pass, which deletes bytes and maps others (a two-byte ``replace`` compares byte by
    byte, twice): the value's own ``x`` wait as ``\\x01`` while the escapes' ``x`` are deleted.
    A value with a backslash of its own takes the regex (``bench/generate.py``'s form ratio measures it).
    """
    if b"\\" in value:
        return _percent_runs(value)
    return (value.replace(b"x", b"\x01").decode("latin-1").encode("ascii", "backslashreplace")
            .translate(_PERCENT_AND_X, b"x"))


#: After ``backslashreplace``: the escapes' ``x`` deleted, their backslash made ``%``, the value's ``x`` back.
_PERCENT_AND_X = bytes.maketrans(b"\\\x01", b"%x")


_PRINTABLE_ASCII_OR_HIGH = _PRINTABLE_ASCII + bytes(range(0x80, 0x100))
_DEL_AND_HIGH = re.compile(rb"[\x7f-\xff]+")
_NOT_PRINTABLE_ASCII_BYTES = re.compile(rb"[^\x20-\x7e]+")


def form_ready(text: str) -> str:
    """``text`` as :func:`form_escape_lean` escapes it, but for control characters: ``%``, ``&``, ``+``,
    space, and each character from DEL up as ``%xx`` (lowercase) per UTF-8 byte.

    Why: ``loadgen generate --format form`` escaped every profile's text after orjson wrote it (four
    ``replace`` on all of it, four passes more over the third with non-ASCII letters, orjson's own
    transcoding): 0.78 of the factory's rate. A factory whose text is form-ready
    (``ProfileFactory(form_ready=True)``) hands orjson ASCII whose JSON text is, byte for byte, the form
    escape of the plain profile's: orjson writes no space, ``%``, ``&`` or ``+`` of its own (but ``+`` in a
    float of 1e16 and up, which only a profile file's fixed value holds: the profile compiler readies it),
    escapes ``"`` and ``\\`` as the plain text's are, and control characters too (so they stay as they are
    here).
    """
    value = form_escape_reserved(text.encode())
    return _DEL_AND_HIGH.sub(lambda m: _percent(m.group()), value).decode("ascii")


def form_plain(text: str) -> str:
    """The text :func:`form_ready` made ``text`` of (for the few generators that cut or filter letters)."""
    return unquote_plus(text, errors="strict")


def _percent_runs(value: bytes) -> bytes:
    return _NOT_PRINTABLE_ASCII_BYTES.sub(lambda m: _percent(m.group()), value)


def _percent(run: bytes) -> bytes:
    """Every byte of ``run`` as ``%xx``."""
    return b"%" + binascii.hexlify(run, b"%")


def decode_form(body: bytes | str) -> dict[str, str]:
    """Decode a form body strictly: invalid UTF-8, raw or behind percent-escapes, raises ``FormError``.

    Raw UTF-8 is accepted as well as escaped (``curl -d 'attributes={"givenName":"José"}'`` sends it
    raw). A repeated field keeps its first value (Capture takes one value per parameter). Most bodies
    take a C-speed path (``binascii.a2b_qp``) that decodes exactly as ``parse_qsl`` does on the UTF-8
    text; a bulkCreate body of 100 records is mostly percent-escapes, and ``parse_qsl`` spends
    milliseconds on it.
    """
    pairs = _fast_pairs(body) if isinstance(body, bytes) else None
    if pairs is None:
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                              encoding="utf-8", errors="strict", max_num_fields=1000)
        except UnicodeDecodeError:
            raise FormError("the body is not valid form-urlencoded UTF-8 text") from None
        except ValueError as exc:
            raise FormError(f"the body is not a valid form: {exc}") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key, value)
    return params


_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class _Fallback(Exception):
    """The fast path met something it does not decode exactly like ``parse_qsl``."""


#: Large bodies are scanned and decoded a slice at a time: no single C call then holds the GIL for long
#: (the sandbox decodes them on a worker thread while its event loop serves the others).
_SLICE = 256 * 1024


def _has(body: bytes, needle: bytes) -> bool:
    """``needle in body``, a slice at a time."""
    if len(body) <= _SLICE:
        return needle in body
    over = len(needle) - 1
    return any(body.find(needle, at, at + _SLICE + over) >= 0 for at in range(0, len(body), _SLICE))


def _reaches(body: bytes, byte: bytes, count: int) -> bool:
    """``body.count(byte) >= count``, a slice at a time."""
    if len(body) <= _SLICE:
        return body.count(byte) >= count
    found = 0
    for at in range(0, len(body), _SLICE):
        found += body.count(byte, at, at + _SLICE)
        if found >= count:
            return True
    return False


def _utf8(body: bytes) -> bool:
    """Whether ``body`` is valid UTF-8, a slice at a time."""
    if len(body) <= _SLICE and body.isascii():
        return True
    if all(body[at:at + _SLICE].isascii() for at in range(0, len(body), _SLICE)):
        return True
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        for at in range(0, len(body), _SLICE):
            decoder.decode(body[at:at + _SLICE], final=at + _SLICE >= len(body))
    except UnicodeDecodeError:
        return False
    return True


def _bad_escape(body: bytes) -> bool:
    """Whether a '%' starts no valid escape, a slice at a time (each search sees two bytes past its slice)."""
    for at in range(0, len(body), _SLICE):
        found = _BAD_ESCAPE.search(body, at, at + _SLICE + 2)
        if found is not None and found.start() < at + _SLICE:
            return True
    return False


def _unquote_plus(body: bytes, start: int, stop: int, checked: bool) -> str:
    """``body[start:stop]`` plus- and percent-decoded, as UTF-8 text."""
    if stop - start <= _SLICE:
        try:
            return _unquote_slice(body[start:stop], checked).decode("utf-8")
        except UnicodeDecodeError:
            raise FormError("the body is not valid form-urlencoded UTF-8 text") from None
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pieces: list[str] = []
    while start < stop:
        end = min(start + _SLICE, stop)
        while end < stop and body.find(b"%", end - 2, end) >= 0:  # never cut an escape in two
            end -= 1
        if end - start < _SLICE // 2 and end < stop:  # a run of '%': the general path decodes it
            raise _Fallback
        try:
            pieces.append(decoder.decode(_unquote_slice(body[start:end], checked), final=end == stop))
        except UnicodeDecodeError:
            raise FormError("the body is not valid form-urlencoded UTF-8 text") from None
        start = end
    return "".join(pieces)


def _unquote_slice(raw: bytes, checked: bool) -> bytes:
    """Plus and percent decoding of ``raw``, whose last two bytes are no part of an escape."""
    raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        if raw[-1:] == b"%" or raw[-2:-1] == b"%":
            raise _Fallback
        # quoted-printable "=XX" is percent-encoding's "%XX"; an invalid escape stays "=..." in the output,
        # which can only be told from an encoded "=" when the body holds no "%3D" (else ``checked``)
        raw = binascii.a2b_qp(raw.replace(b"%", b"="))
        if not checked and b"=" in raw:
            raise _Fallback
    return raw


def _fast_pairs(body: bytes) -> list[tuple[str, str]] | None:
    """``parse_qsl``'s pairs for the common body, or None to take the general path."""
    if _has(body, b"\n") or _has(body, b"\r") or _reaches(body, b"&", 1000):
        return None
    if not _utf8(body):  # raw UTF-8 must be valid on its own, as in the text parse_qsl reads
        return None
    checked = _has(body, b"%3D") or _has(body, b"%3d")
    if checked and _bad_escape(body):
        return None
    pairs: list[tuple[str, str]] = []
    at = 0
    try:
        while at <= len(body):
            amp = body.find(b"&", at)
            stop = len(body) if amp < 0 else amp
            if stop > at:
                equals = body.find(b"=", at, stop)
                name_stop, value_start = (stop, stop) if equals < 0 else (equals, equals + 1)
                if body.find(b"=", value_start, stop) >= 0:
                    return None
                pairs.append((_unquote_plus(body, at, name_stop, checked),
                              _unquote_plus(body, value_start, stop, checked)))
            at = stop + 1
    except _Fallback:
        return None
    return pairs


# -- timestamps -------------------------------------------------------------------------------------

def format_timestamp(moment: datetime) -> str:
    """Capture's timestamp text: ``2013-08-23 12:38:33.475581 +0000`` (always UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    # not strftime: glibc's %Y does not zero-pad years before 1000 ("1-01-01")
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{moment.microsecond:06d} +0000")


def now_timestamp() -> str:
    return format_timestamp(datetime.now(UTC))


_CAPTURE_TS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(?: ?(Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d))?",
    re.ASCII,  # no Arabic-Indic or other Unicode digits
)


def parse_datetime(value: str) -> datetime | None:
    """Any dateTime Capture accepts, as an aware UTC datetime; None if it is not one.

    Accepted: ISO 8601 (``2015-12-15T07:36:25Z``, with an offset or a fraction) and Capture's own
    ``YYYY-MM-DD HH:MM:SS[.ffffff][ +0000]``. A missing offset means UTC.
    """
    m = _CAPTURE_TS.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        return None
    year, month, day, hour, minute, sec, frac, zone = m.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(sec),
                          int((frac or ".0")[1:].ljust(6, "0")), tzinfo=UTC)
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        try:
            moment -= timedelta(minutes=sign * (int(digits[:2]) * 60 + int(digits[2:])))
        except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            return None
    return moment


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)?|(\d{4})(\d{2})(\d{2})",
                   re.ASCII)


def parse_date(value: str) -> date | None:
    """``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS`` whose time part is dropped (Janrain's bulk loader), or
    the compact ``YYYYMMDD`` (a real 2013 call sent ``19780722``; Capture read it back ``1978-07-22``)."""
    m = _DATE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        return None
    year, month, day = m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None

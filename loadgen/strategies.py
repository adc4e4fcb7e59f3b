"""Hypothesis strategies for the Capture Entity API's input space: valid, malformed, wrong-shaped, invalid.

Each strategy is a small function of a loaded :class:`~loadgen.schema.Schema` that checks its
arguments at once (raising ``hypothesis.errors.InvalidArgument``) and returns a composed strategy,
so they nest and combine like Hypothesis's own::

    >>> from hypothesis import given
    >>> from loadgen.schema import default_schema
    >>> from loadgen.strategies import malformed_json, valid_records
    >>> schema = default_schema()
    >>> @given(valid_records(schema))
    ... def test_accepted(record): ...
    >>> @given(malformed_json(schema, kinds=["dropped_quote", "nan"]))
    ... def test_rejected(text): ...

Why mutate valid records: text that is almost JSON is what real clients send by mistake (the
documentation's own bulkCreate example drops a quote) and what a lenient parser lets through.
Every malformed example is proven unparseable by ``wire.loads_strict``, the parser the sandbox uses,
before it is yielded, and every valid or violating record is built to agree with ``schema.validate``.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from loadgen._mutations import MUTATIONS, ROLLS, SEED_NUMBERS, Dice, layout, mutate, seed_text, unparseable
from loadgen.errors import Code
from loadgen.schema import Attribute, Schema, unique_key
from loadgen.wire import dumps

__all__ = [
    "MALFORMED_KINDS",
    "VIOLATION_CODES",
    "BulkCase",
    "ViolationCase",
    "bulk_payloads",
    "malformed_json",
    "schema_violations",
    "valid_records",
    "wrong_shape",
]

#: Every way ``malformed_json`` breaks a document. ``invalid_utf8`` needs ``binary=True``.
MALFORMED_KINDS: tuple[str, ...] = tuple(MUTATIONS)

#: The per-record codes ``schema_violations`` produces, in the API's classification order.
VIOLATION_CODES: tuple[Code, ...] = (
    Code.UNKNOWN_ATTRIBUTE, Code.INVALID_JSON_TYPE, Code.INVALID_DATE_TIME, Code.LENGTH_VIOLATION,
    Code.MISSING_REQUIRED_ATTRIBUTE, Code.CONSTRAINT_VIOLATION, Code.ID_IN_NEW_RECORD,
    Code.RESERVED_ATTRIBUTE,
)

_INT64 = 2**63
_EARLIEST, _LATEST = datetime(1900, 1, 1), datetime(2099, 12, 31)
_ZONES = st.sampled_from((UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))))
_EMAIL_LOCAL = string.ascii_lowercase + string.digits
_NOT_WRITABLE_TYPES = frozenset({"id", "uuid"})
_CHECKED_CONSTRAINTS = ("email-address", "alphabetic", "alphanumeric", "unicode-letters", "unicode-printable")


class ViolationCase(NamedTuple):
    """A record with exactly one schema violation: the code and ``attribute_name`` the API must answer."""

    record: dict[str, Any]
    code: Code
    path: str


class BulkCase(NamedTuple):
    """An ``all_attributes`` value and what entity.bulkCreate must answer for it.

    ``expected`` holds one slot per position: ``None`` means created, ``(code, path)`` means that
    slot holds an error object. ``expected is None`` means an envelope error (200, all_attributes):
    the whole call is rejected and nothing is created.
    """

    text: str | bytes
    expected: tuple[tuple[Code, str] | None, ...] | None


# -- valid records ---------------------------------------------------------------------------------

def _writable(attrs: Iterable[Attribute]) -> tuple[Attribute, ...]:
    return tuple(a for a in attrs if not a.is_system and a.type not in _NOT_WRITABLE_TYPES)


def _check_schema(schema: object) -> Schema:
    if not isinstance(schema, Schema):
        raise InvalidArgument(f"schema must be a loadgen.schema.Schema, got {type(schema).__name__}")
    return schema


def _pick(draw: st.DrawFn, items: Sequence[Any]) -> Any:
    """One item, shrinking toward the first."""
    return items[draw(st.integers(0, len(items) - 1))]


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidArgument(f"{name}={value!r} must be an integer in [{low}, {high}]")
    return value


def _emails(limit: int | None) -> st.SearchStrategy[str]:
    local = st.text(_EMAIL_LOCAL, min_size=1, max_size=16)
    domain = st.text(string.ascii_lowercase, min_size=1, max_size=10)
    tld = st.sampled_from(("com", "org", "net", "example"))
    emails = st.builds(lambda a, b, c: f"{a}@{b}.{c}", local, domain, tld)
    return emails if limit is None else emails.filter(lambda e: len(e) <= limit)


_PRINTABLE = st.characters(categories=["L", "M", "N", "P", "S"], include_characters=" ")
#: Any character but lone surrogates (not UTF-8) and NUL, which many stores refuse (PostgreSQL text) and
#: no documentation says Capture keeps: a valid record never counts on it.
_ANY_TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")


def _string(attr: Attribute) -> st.SearchStrategy[str]:
    cons, limit = attr.constraints, attr.length
    if "email-address" in cons:
        return _emails(limit)
    size = {"max_size": limit} if limit is not None else {"max_size": 40}
    if "alphabetic" in cons:
        return st.text(string.ascii_letters, min_size=1, **size)
    if "alphanumeric" in cons:
        return st.text(string.ascii_letters + string.digits, min_size=1, **size)
    if "unicode-letters" in cons:
        return st.text(st.characters(categories=["L"]), min_size=1, **size)
    if "unicode-printable" in cons:
        return st.text(_PRINTABLE, min_size=1, **size)
    return st.text(_ANY_TEXT, min_size=1 if attr.required else 0, **size)


def _format_datetime(moment: datetime, style: int) -> str:
    """The dateTime spellings Capture accepts: ISO with Z, its own format with and without a fraction,
    ISO with an offset."""
    utc = moment.astimezone(UTC)
    if style == 0:
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f +0000")
    if style == 2:
        return utc.strftime("%Y-%m-%d %H:%M:%S")
    return moment.isoformat()


_JSON_SCALARS = (st.none() | st.booleans() | st.integers(-_INT64, _INT64 - 1)
                 | st.floats(allow_nan=False, allow_infinity=False) | st.text(_ANY_TEXT, max_size=10))
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(_ANY_TEXT, max_size=6), inner, max_size=3),
    max_leaves=6,
)


@functools.cache
def _value(attr: Attribute, coerce: bool, max_plural: int) -> st.SearchStrategy[Any]:
    """A valid value for one attribute; cached because schemas are immutable and strategies reusable."""
    kind = attr.type
    if attr.is_object:
        return _members(attr.attrs, coerce, max_plural)
    if attr.is_plural:
        elements = _members(attr.attrs, coerce, max_plural)
        # distinct within the record: locally-unique children by definition, unique ones because a value
        # repeated in one record's plural is already taken when Capture checks the second element
        local = [c.name for c in attr.attrs if c.constraints & {"locally-unique", "unique"}]
        if local:
            return st.lists(elements, max_size=max_plural,
                            unique_by=tuple(functools.partial(_local_key, c) for c in local))
        return st.lists(elements, max_size=max_plural)
    if attr.is_password:
        clear = st.text(string.ascii_letters + string.digits + "!#$%&*+-.", min_size=1, max_size=24)
        return clear | clear.map(_hash_object) if coerce else clear
    if kind == "string":
        return _string(attr)
    if kind == "boolean":
        return st.booleans() | st.sampled_from(("true", "false")) if coerce else st.booleans()
    if kind == "integer":
        return st.integers(-_INT64, _INT64 - 1)
    if kind == "decimal":
        return st.integers(-(10**9), 10**9) | st.floats(allow_nan=False, allow_infinity=False)
    if kind == "date":
        dates = st.dates(_EARLIEST.date(), _LATEST.date()).map(lambda d: d.isoformat())
        return dates | dates.map(lambda d: d + " 00:00:00") | dates.map(_compact) if coerce else dates
    if kind == "dateTime":
        moments = st.datetimes(_EARLIEST, _LATEST, timezones=_ZONES)
        styles = st.sampled_from((0, 1, 2, 3)) if coerce else st.just(0)
        return st.builds(_format_datetime, moments, styles)
    if kind == "ipAddress":
        return st.ip_addresses(v=4).map(str)
    if kind == "json":
        return _JSON_VALUES
    raise InvalidArgument(f"attribute {attr.path}: no generator for type {kind!r}")


def _compact(day: str) -> str:
    """``1978-07-22`` -> ``19780722``, the compact date a real 2013 call sent."""
    return day.replace("-", "")


def _hash_object(value: str) -> dict[str, str]:
    """A migrated password hash as Janrain's bulk loader sends it (the value need not be a real hash)."""
    return {"type": "password-bcrypt", "value": "$2a$04$" + value}


def _local_key(name: str, element: dict[str, Any]) -> Any:
    value = element.get(name)
    return value.casefold() if isinstance(value, str) else value


def _members(attrs: Iterable[Attribute], coerce: bool, max_plural: int,
             max_optional: int | None = None) -> st.SearchStrategy[dict[str, Any]]:
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for attr in _writable(attrs):
        value = _value(attr, coerce, max_plural)
        if attr.required:
            required[attr.name] = value
        else:
            optional[attr.name] = value if attr.is_plural else st.none() | value
    if max_optional is None or not optional:
        return st.fixed_dictionaries(required, optional=optional)
    names = st.lists(st.sampled_from(sorted(optional)), max_size=max_optional, unique=True)
    return _some_members(st.fixed_dictionaries(required), names, optional)


@st.composite
def _some_members(draw: st.DrawFn, required: st.SearchStrategy[dict[str, Any]],
                  names: st.SearchStrategy[list[str]], optional: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Required members plus a few optional ones: far fewer choices than one per optional attribute."""
    record = draw(required)
    for name in draw(names):
        record[name] = draw(optional[name])
    return record


def valid_records(schema: Schema, *, coerce: bool = True, max_plural: int = 2,
                  max_optional: int | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Records that ``validate(record, schema)`` accepts as new records.

    Required attributes are always present; each optional one is absent, ``null`` or a value.
    Examples shrink toward the required attributes alone with their simplest values. With ``coerce``
    the input coercions real clients rely on appear too (``"true"`` for booleans, a date with a time
    part or compact ``YYYYMMDD``, four dateTime spellings, migrated password hash objects). Plurals
    hold at most ``max_plural`` elements; values of a ``unique`` or ``locally-unique`` plural child
    differ within a record. ``max_optional`` caps the optional top-level attributes present, which
    makes generation several times faster (the fuzzers' malformed text starts from such records).
    Never generates ``id``, ``uuid``, ``created`` or ``lastUpdated``.

    >>> valid_records(default_schema()).example()  # doctest: +SKIP
    {'email': '0@a.com', 'birthday': '2000-01-01', 'statuses': []}
    """
    schema = _check_schema(schema)
    _check_int("max_plural", max_plural, 0, 50)
    if max_optional is not None:
        _check_int("max_optional", max_optional, 0, 10_000)
    return _members(schema.attributes, bool(coerce), max_plural, max_optional)


# -- malformed JSON --------------------------------------------------------------------------------

@st.composite
def _malformed(draw: st.DrawFn, schema: Schema, documents: st.SearchStrategy[Any] | None,
               kinds: tuple[str, ...], binary: bool, key: str) -> str | bytes:
    # Kind, seed record and positions are separate choices, so the shrinker simplifies each while the
    # others hold. Kind and seed once shared one number (kind in the low digit): most smaller numbers
    # then changed the kind too, and a failure found on a big record stayed on it.
    kind = draw(st.sampled_from(kinds))
    if kind in ("empty", "whitespace"):
        text = "{}"
    else:
        text = seed_text(schema, draw(SEED_NUMBERS)) if documents is None else dumps(draw(documents))
    dice = Dice(draw(ROLLS))
    lay = layout(text)
    if not lay.keys:  # nothing to break but braces: give the mutations a member to work on
        lay = layout(f'{{"{key}":{text}}}')
    out = mutate(dice, kind, lay, key)
    if binary and isinstance(out, str):
        out = out.encode("utf-8", "surrogatepass")
    assume(unparseable(out))  # the guarantee; by construction it (almost) never rejects
    return out


def malformed_json(schema: Schema, *, kinds: Collection[str] | None = None, binary: bool = False,
                   documents: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[str | bytes]:
    """Text that is not RFC 8259 JSON, made by breaking the serialisation of a valid record once.

    ``kinds`` restricts the mutations to some of :data:`MALFORMED_KINDS` (default: all that the
    output type allows). Text stays near-valid: one dropped quote, one ``NaN``, one comment, a
    truncation... so a lenient parser would let it through. Yields ``str``, or UTF-8 ``bytes`` with
    ``binary=True``, which also enables ``invalid_utf8``. The records broken are by default drawn
    from a fixed set of realistic valid records, which costs one choice and keeps generation above
    thousands of examples per second; ``documents`` swaps in any strategy, e.g.
    ``valid_records(schema)`` (shrinks further, slower) or ``st.lists(valid_records(schema),
    min_size=1)`` for a bulkCreate body. Shrinks toward an early kind, the one-attribute seed record
    and an early position.

    >>> malformed_json(default_schema(), kinds=["dropped_quote"]).example()  # doctest: +SKIP
    '{"email":"abe1@test.org","displayName:"Sally"}'

    Its minimal example is the documentation's own bulkCreate bug, a key missing its opening quote:
    ``{email":"x_10@test.org"}``.
    """
    schema = _check_schema(schema)
    allowed = MALFORMED_KINDS if binary else MALFORMED_KINDS[:-1]
    chosen = tuple(allowed if kinds is None else kinds)
    if isinstance(kinds, str) or not chosen:
        raise InvalidArgument(f"kinds={kinds!r} must be a non-empty collection of kind names")
    for kind in chosen:
        if kind not in allowed:
            hint = " (needs binary=True)" if kind in MALFORMED_KINDS else f"; choose from {', '.join(allowed)}"
            raise InvalidArgument(f"unknown malformed kind {kind!r}{hint}")
    if documents is not None and not isinstance(documents, st.SearchStrategy):
        raise InvalidArgument(f"documents={documents!r} must be a strategy")
    names = [a.name for a in _writable(schema.attributes)] or ["x"]
    return _malformed(schema, documents, chosen, bool(binary), names[0])


def wrong_shape(schema: Schema, *, argument: str = "attributes") -> st.SearchStrategy[str]:
    """Valid JSON text of the wrong top-level type for ``argument``.

    For ``attributes`` (entity.create): an array (of valid records, the usual mix-up), a string, a
    number, ``null``, ``true``/``false``. For ``all_attributes`` (entity.bulkCreate): anything but an
    array, starting with a single valid record object. The API must answer 200 invalid_argument.

    >>> wrong_shape(default_schema(), argument="all_attributes").example()  # doctest: +SKIP
    '{"email":"0@a.com"}'
    """
    schema = _check_schema(schema)
    if argument not in ("attributes", "all_attributes"):
        raise InvalidArgument(f"argument={argument!r} must be 'attributes' or 'all_attributes'")
    records = valid_records(schema, max_plural=1, max_optional=3)
    scalars = st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.none(), st.booleans())
    wrong = st.lists(records, max_size=3) if argument == "attributes" else records
    return st.one_of(wrong, scalars).map(dumps)


# -- schema violations -----------------------------------------------------------------------------

# What a violation is made of: only values that no reading of the documentation lets through. A
# scalar gets an object or an array (never a number for a string or "1" for an integer, which a
# lenient server could coerce); an object or a plural gets a number or a boolean (never a string,
# which it could parse as JSON).
_WORDS = st.text(string.ascii_letters, min_size=1, max_size=8)
_CONTAINERS = st.one_of(st.lists(st.integers(0, 9), max_size=2), st.dictionaries(_WORDS, st.integers(0, 9), max_size=1))
_WRONG = {
    "scalar": _CONTAINERS,
    "structure": st.one_of(st.integers(-9, 9), st.booleans()),
    "password": st.lists(st.integers(0, 9), max_size=2),  # an object may be a migrated hash
}
# Impossible calendar values only: a month 13, a 30 February, an hour 25 are no date to any parser.
# Spellings a lenient parser may take (2015/01/01, 2015-1-1, "yesterday", a date-only dateTime) and
# the compact 20150101 that Capture stores are never claimed to be errors.
_BAD_DATES = ("2015-13-01", "2015-02-30", "2015-00-10", "2015-04-31", "2015-01-32")
_BAD_DATETIMES = ("2015-12-15T25:00:00Z", "2015-02-30 10:00:00", "2015-12-15 10:61:00", "2015-13-15T07:36:25Z",
                  "2015-12-32 07:36:25 +0000")
# Characters outside each constraint under any definition of it (tabs and line breaks are printable
# to some, so unicode-printable gets control characters only).
_BAD_CHARS = {"alphabetic": "1 -_.", "alphanumeric": " -_.!", "unicode-letters": "1 -_.!",
              "unicode-printable": "\x00\x07\x1b\x7f"}
_BAD_EMAILS = ("no-at-sign", "a@", "@b.com", "a b@c.com", "a@@b.com")


def _wrong_family(attr: Attribute) -> str | None:
    """Which ``_WRONG`` values ``attr`` refuses with 341; None for json, which takes any JSON value."""
    if attr.is_object or attr.is_plural:
        return "structure"
    if attr.is_password:
        return "password"
    return "scalar" if attr.type in ("string", "date", "dateTime", "ipAddress", "integer", "decimal",
                                     "boolean") else None


_Site = tuple[tuple[Attribute, ...], Attribute]


def _leaves(attrs: Iterable[Attribute], parents: tuple[Attribute, ...] = ()) -> list[_Site]:
    """Every writable attribute with its chain of object/plural parents (depth first)."""
    out: list[_Site] = []
    for attr in _writable(attrs):
        out.append((parents, attr))
        if attr.is_object or attr.is_plural:
            out.extend(_leaves(attr.attrs, (*parents, attr)))
    return out


def _container(draw: st.DrawFn, record: dict[str, Any], parents: tuple[Attribute, ...], coerce: bool) -> dict[str, Any]:
    """The dict that holds a child of ``parents`` in ``record``, created (validly) when absent."""
    node = record
    for parent in parents:
        current = node.get(parent.name)
        if parent.is_plural:
            if not current:
                current = [draw(_members(parent.attrs, coerce, 1))]
                node[parent.name] = current
            node = current[draw(st.integers(0, len(current) - 1))]
        else:
            if not isinstance(current, dict):
                current = draw(_members(parent.attrs, coerce, 1))
                node[parent.name] = current
            node = current
    return node


def _too_long(draw: st.DrawFn, attr: Attribute) -> str:
    limit = attr.length or 0
    head = draw(st.text(string.ascii_lowercase, max_size=4))
    return (head + "x" * (limit + draw(st.integers(1, 8))))[: limit + 8] if head else "x" * (limit + 1)


def _broken(draw: st.DrawFn, attr: Attribute, coerce: bool) -> str:
    if "email-address" in attr.constraints:
        return str(_pick(draw, _BAD_EMAILS))
    rule = next(c for c in _BAD_CHARS if c in attr.constraints)
    good = draw(_value(attr, coerce, 1))
    limit = attr.length
    good = good[: limit - 1] if limit is not None else good
    at = draw(st.integers(0, len(good)))
    return str(good[:at] + _pick(draw, _BAD_CHARS[rule]) + good[at:])


class _Targets(NamedTuple):
    leaves: list[_Site]
    by_code: dict[Code, list[tuple[tuple[Attribute, ...], Attribute | None]]]


def _targets(schema: Schema) -> _Targets:
    leaves = _leaves(schema.attributes)
    holders: list[tuple[tuple[Attribute, ...], Attribute | None]] = [((), None)]
    holders += [((*p, a), None) for p, a in leaves if a.is_object or a.is_plural]
    by_code: dict[Code, list[tuple[tuple[Attribute, ...], Attribute | None]]] = {
        Code.UNKNOWN_ATTRIBUTE: holders,
        Code.INVALID_JSON_TYPE: [(p, a) for p, a in leaves if _wrong_family(a)],
        Code.INVALID_DATE_TIME: [(p, a) for p, a in leaves if a.type in ("date", "dateTime")],
        Code.LENGTH_VIOLATION: [(p, a) for p, a in leaves if a.type == "string" and a.length],
        Code.MISSING_REQUIRED_ATTRIBUTE: [(p, a) for p, a in leaves if a.required],
        Code.CONSTRAINT_VIOLATION: [(p, a) for p, a in leaves if a.type == "string"
                                    and any(c in a.constraints for c in _CHECKED_CONSTRAINTS)
                                    and (a.length is None or a.length > 1)],
        Code.ID_IN_NEW_RECORD: [((), None)] + [((*p, a), None) for p, a in leaves if a.is_plural],
        Code.RESERVED_ATTRIBUTE: [((), None)] if schema.get("lastUpdated") is not None else [],
    }
    return _Targets(leaves, {c: t for c, t in by_code.items() if t})


@st.composite
def _violation(draw: st.DrawFn, schema: Schema, targets: _Targets, codes: tuple[Code, ...],
               coerce: bool) -> ViolationCase:
    record = draw(valid_records(schema, coerce=coerce, max_plural=1))
    code = _pick(draw, codes)
    parents, attr = _pick(draw, targets.by_code[code])
    node = _container(draw, record, parents, coerce)
    base = "".join(f"/{p.name}" for p in parents)
    if attr is None:  # the violation is a new key in the holder
        if code == Code.UNKNOWN_ATTRIBUTE:
            taken = {a.name.casefold() for a in (parents[-1].attrs if parents else schema.attributes)}
            name = draw(_WORDS.map(lambda w: "x" + w).filter(lambda w: w.casefold() not in taken))
            node[name] = draw(st.none() | st.integers(0, 9) | _WORDS)
        else:
            name = "id" if code == Code.ID_IN_NEW_RECORD else "lastUpdated"
            node[name] = draw(st.integers(1, 10**6)) if name == "id" else "2015-12-15 07:36:25.000000 +0000"
        return ViolationCase(record, code, f"{base}/{name}")
    if code == Code.INVALID_JSON_TYPE:
        node[attr.name] = draw(_WRONG[_wrong_family(attr) or "scalar"])
    elif code == Code.INVALID_DATE_TIME:
        node[attr.name] = _pick(draw, _BAD_DATES if attr.type == "date" else _BAD_DATETIMES)
    elif code == Code.LENGTH_VIOLATION:
        node[attr.name] = _too_long(draw, attr)
    elif code == Code.MISSING_REQUIRED_ATTRIBUTE:
        if draw(st.booleans()):
            node.pop(attr.name, None)
        else:
            node[attr.name] = None
    else:
        node[attr.name] = _broken(draw, attr, coerce)
    return ViolationCase(record, code, f"{base}/{attr.name}")


def schema_violations(schema: Schema, *, codes: Collection[int] | None = None,
                      coerce: bool = True) -> st.SearchStrategy[ViolationCase]:
    """``(record, expected_code, attribute_path)``: a valid record broken in exactly one place.

    Covers unknown attribute (223), wrong JSON type (341), bad date or dateTime (342), too long
    (363), missing required (362), broken constraint (360), ``id`` supplied (320) and ``lastUpdated``
    written (234), at the top level and inside objects and plural elements (path without index,
    ``/statuses/status``). ``codes`` restricts the choice; a code the schema cannot produce (362
    without required attributes) is refused at once. Shrinks toward the first code and a small record.

    A faithful server must never fail this strategy, so each expected code rests on the reference
    (``capture-api.md``) or a real answer, and each broken value is one no reading of it accepts:

    - 223: an attribute not in the schema ("Error object" table; a real answer reads
      ``attribute does not exist: /emailer``, "Corrections from real artifacts").
    - 341: an object or array for a scalar, a number or boolean for an object or plural ("JSON type
      does not match the schema type (object for string, ...)", "Error object" table).
    - 342: an impossible calendar value (month 13, 30 February, hour 25): "date / dateTime invalid
      or out of range". Never a spelling "Input coercion" accepts: compact ``YYYYMMDD``, a date with
      a time part, ISO 8601 or Capture timestamps, with or without fraction.
    - 363: a string longer than ``length`` ("Error object"; the real "longer than 32 characters").
    - 362: a ``required`` attribute absent or null ("Error object"; null means unset only for
      attributes that are not required, "Input coercion").
    - 360: a character outside alphabetic / alphanumeric / unicode-letters, a control character in a
      unicode-printable string, an address with no or two ``@`` ("Error object"; "Entity types").
    - 320: ``id`` in a new record or plural element; 234: ``lastUpdated`` written ("Error object",
      "Input coercion"). ``created``, ``uuid``, ``"true"``/``"false"`` and password hash objects are
      accepted on create ("Input coercion") and never appear as violations.

    >>> schema_violations(default_schema(), codes=[363]).example()  # doctest: +SKIP
    ViolationCase(record={'email': 'xxx...x'}, code=<Code.LENGTH_VIOLATION: 363>, path='/email')
    """
    schema = _check_schema(schema)
    targets = _targets(schema)
    wanted = VIOLATION_CODES if codes is None else tuple(codes)
    if isinstance(codes, str | int) or not wanted:
        raise InvalidArgument(f"codes={codes!r} must be a non-empty collection of codes")
    chosen: list[Code] = []
    for code in wanted:
        if code not in VIOLATION_CODES:
            raise InvalidArgument(f"code {code!r} is not one of {[int(c) for c in VIOLATION_CODES]}")
        if Code(code) in targets.by_code:
            chosen.append(Code(code))
        elif codes is not None:
            raise InvalidArgument(f"schema {schema.name!r} has no attribute that can produce code {int(code)}")
    return _violation(schema, targets, tuple(chosen), bool(coerce))


# -- bulkCreate payloads ---------------------------------------------------------------------------

def _expected_slots(schema: Schema, slots: list[tuple[dict[str, Any], tuple[Code, str] | None]]
                    ) -> tuple[tuple[Code, str] | None, ...]:
    """Add the 361s of a batch: a valid record repeating a unique value of an earlier created one."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[Code, str] | None] = []
    for record, expect in slots:
        if expect is None:
            keys = [(a.name, unique_key(a, v)) for a in schema.unique
                    if isinstance(v := record.get(a.name), str)]
            clash = next((name for name, key in keys if (name, key) in seen), None)
            if clash is not None:
                expect = (Code.UNIQUE_VIOLATION, f"/{clash}")
            else:
                seen.update(keys)
        out.append(expect)
    return tuple(out)


@st.composite
def _bulk(draw: st.DrawFn, schema: Schema, slot: st.SearchStrategy[tuple[dict[str, Any], tuple[Code, str] | None]],
          envelope: st.SearchStrategy[str | bytes] | None, min_size: int, max_size: int) -> BulkCase:
    if envelope is not None and draw(st.integers(0, 3)) == 0:
        return BulkCase(draw(envelope), None)
    slots = draw(st.lists(slot, min_size=min_size, max_size=max_size))
    return BulkCase(dumps([record for record, _ in slots]), _expected_slots(schema, slots))


def bulk_payloads(schema: Schema, *, min_size: int = 1, max_size: int = 5, violations: bool = True,
                  envelope: bool = True) -> st.SearchStrategy[BulkCase]:
    """``all_attributes`` bodies for entity.bulkCreate with the answer each must get.

    Mostly arrays of ``min_size`` to ``max_size`` records mixing valid ones with one-violation ones
    (``violations``); each position carries its expected outcome, including the 361 of a unique value
    repeated inside the batch. With ``envelope``, a quarter are envelope errors instead: the array's
    text malformed anywhere, or a non-array, which must create nothing at all.

    >>> bulk_payloads(default_schema(), envelope=False).example()  # doctest: +SKIP
    BulkCase(text='[{"email":"0@a.com"},{"email":"0@a.com","x":1}]', expected=(None, (223, '/x')))
    """
    schema = _check_schema(schema)
    _check_int("min_size", min_size, 0, 1000)
    _check_int("max_size", max_size, max(min_size, 1), 1000)
    good = valid_records(schema, max_plural=1).map(lambda r: (r, None))
    bad = schema_violations(schema).map(lambda v: (v.record, (v.code, v.path)))
    slot: st.SearchStrategy[tuple[dict[str, Any], tuple[Code, str] | None]] = good | bad if violations else good
    broken: st.SearchStrategy[str | bytes] | None = None
    if envelope:
        arrays = st.lists(valid_records(schema, max_plural=1), min_size=1, max_size=max_size)
        broken = malformed_json(schema, documents=arrays) | wrong_shape(schema, argument="all_attributes")
    return _bulk(schema, slot, broken, min_size, max_size)


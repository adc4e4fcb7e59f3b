"""Entity types in Capture's own format, and the one validator that the sandbox and the fuzzers share.

A schema is the JSON that ``/entityType`` returns, so a QA engineer can paste a real domain's type and
everything adapts. ``validate()`` sits on the sandbox's hot path, so building a ``Schema`` compiles
every attribute into a small checker closure once; a valid record then costs one dict lookup and one
call per value, with no regex compilation and no exceptions.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from loadgen.errors import CaptureError, Code, JSONSyntaxError, UsageError, capture_error
from loadgen.wire import format_timestamp, loads_strict, parse_date, parse_datetime

SYSTEM_ATTRIBUTES: tuple[str, ...] = ("id", "uuid", "created", "lastUpdated")

_SYSTEM_TYPES = {"id": "id", "uuid": "uuid", "created": "dateTime", "lastUpdated": "dateTime"}
_TYPES = frozenset({"string", "boolean", "integer", "decimal", "date", "dateTime", "ipAddress", "json",
                    "object", "plural", "id", "uuid", "version"})
CONSTRAINTS = frozenset({"required", "unique", "locally-unique", "alphabetic", "alphanumeric",
                         "unicode-letters", "unicode-printable", "email-address"})

#: The per-attribute classification order (first = the one Capture reports). 200 is a bad uuid, which
#: Capture classifies with the parse errors, before any attribute check; 340 is a bad ipAddress.
ORDER: tuple[Code, ...] = (Code.INVALID_ARGUMENT, Code.UNKNOWN_ATTRIBUTE, Code.INVALID_JSON_TYPE,
                           Code.INVALID_DATA_FORMAT, Code.INVALID_DATE_TIME, Code.LENGTH_VIOLATION,
                           Code.MISSING_REQUIRED_ATTRIBUTE, Code.CONSTRAINT_VIOLATION,
                           Code.ID_IN_NEW_RECORD, Code.RESERVED_ATTRIBUTE)
_RANK = {code: i for i, code in enumerate(ORDER)}


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attr_def. ``path`` is how Capture names it in errors: ``/primaryAddress/zip``."""

    name: str
    type: str
    path: str
    length: int | None = None
    case_sensitive: bool = False
    constraints: frozenset[str] = frozenset()
    attrs: tuple[Attribute, ...] = ()

    @property
    def required(self) -> bool:
        return "required" in self.constraints

    @property
    def unique(self) -> bool:
        return "unique" in self.constraints

    @property
    def is_object(self) -> bool:
        return self.type == "object"

    @property
    def is_plural(self) -> bool:
        return self.type == "plural"

    @property
    def is_password(self) -> bool:
        """``password-bcrypt`` and the rest, and the plain ``password`` type some older schemas list."""
        return self.type.startswith("password")

    @property
    def is_system(self) -> bool:
        """Server-assigned: the four top-level system attributes and every ``id`` (plural elements too)."""
        return self.type == "id" or (self.name in SYSTEM_ATTRIBUTES and self.path == "/" + self.name)

    def child(self, name: str) -> Attribute | None:
        return next((a for a in self.attrs if a.name == name), None)


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason a record is invalid, with the code Capture answers and the attribute path it names."""

    code: Code
    path: str
    message: str

    def to_error(self, request_id: str | None = None) -> CaptureError:
        return capture_error(self.code, self.message, attribute_name=self.path, request_id=request_id)


# A checker appends the value's violations to ``out``; ``partial`` is passed down to nested objects.
_Check = Callable[[Any, list[Violation], bool], None]
_Norm = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Node:
    """A compiled record, object or plural element: a checker per attribute and the 362s to report."""

    prefix: str
    fields: dict[str, _Check]
    required: dict[str, Violation]


@dataclass(frozen=True)
class Schema:
    """An entity type. Building one compiles the validator and normaliser tables (see module doc)."""

    name: str
    attributes: tuple[Attribute, ...]
    raw: dict[str, Any]
    _index: dict[str, Attribute] = field(init=False, repr=False, compare=False)
    _roots: tuple[_Node, _Node] = field(init=False, repr=False, compare=False)  # (update, new)
    _norm: dict[str, _Norm] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {a.name: a for a in self.attributes})
        object.__setattr__(self, "_roots", (_compile(self.attributes, "/", top=True, new=False),
                                            _compile(self.attributes, "/", top=True, new=True)))
        object.__setattr__(self, "_norm", _norm_table(self.attributes))

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __reduce__(self) -> tuple[type[Schema], tuple[str, tuple[Attribute, ...], dict[str, Any]]]:
        """Pickle the definition, not the compiled closures (a spawned sandbox process gets a Schema)."""
        return (Schema, (self.name, self.attributes, self.raw))

    def get(self, name: str) -> Attribute | None:
        return self._index.get(name)

    def normalizer(self, name: str) -> Callable[[Any], Any] | None:
        """What ``normalize`` applies to a set top-level attribute (None: every value is canonical), so
        a caller that walks the record anyway can normalise on the way instead of copying it twice."""
        return self._norm.get(name)

    def __getitem__(self, name: str) -> Attribute:
        return self._index[name]

    def find(self, path: str) -> Attribute | None:
        """The attribute at a Capture path such as ``/primaryAddress/zip`` (None if there is none)."""
        names = path.strip("/").split("/")
        attr = self._index.get(names[0])
        for name in names[1:]:
            attr = attr.child(name) if attr is not None else None
        return attr

    @cached_property
    def unique(self) -> tuple[Attribute, ...]:
        """Top-level unique attributes (cached: the sandbox asks on every write)."""
        return tuple(a for a in self.attributes if a.unique)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical raw JSON: two runs used the same schema iff this matches."""
        text = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- loading ----------------------------------------------------------------------------------------

def load_schema(source: str | os.PathLike[str] | Mapping[str, Any] | list[Any], *,
                type_name: str | None = None) -> Schema:
    """A Schema from a file or parsed JSON, in each shape clients really hold one.

    Accepted: the ``/entityType`` body ``{"schema": {...}, "stat": "ok"}``, the inner object
    ``{"name": ..., "attr_defs": [...]}``, or a bare ``attr_defs`` list as Janrain's SDKs keep it. A
    schema that does not name its type takes ``type_name``, else the file name (``member.json`` and
    ``member.schema.json`` give ``member``); a schema that names itself keeps its name. Older schemas'
    ``version`` type of ``lastUpdated`` reads as ``dateTime``, a plain ``password`` type as a password.
    Any problem raises ``UsageError`` with one line naming the file and the attr_def, e.g.
    ``profiles/x.json: attr_defs[3] (zip): unknown type 'strng'``.
    """
    if isinstance(source, Mapping | list):
        label, data, stem = "<schema>", source, None
    else:
        label = os.fspath(source)
        stem = Path(label).name.removesuffix(".json").removesuffix(".schema") or None
        try:
            text = Path(label).read_bytes()
        except FileNotFoundError:
            raise UsageError(f"{label}: no such file") from None
        except OSError as exc:
            raise UsageError(f"{label}: cannot read: {exc.strerror or exc}") from None
        try:
            data = loads_strict(text)
        except JSONSyntaxError as exc:
            raise UsageError(f"{label}: {exc}") from None  # "the JSON is not syntactically valid: …"
    return _build(data, label, type_name or stem)


def _build(data: Any, label: str, fallback_name: str | None) -> Schema:
    def fail(problem: str) -> UsageError:
        return UsageError(f"{label}: {problem}")

    if isinstance(data, list):
        data = {"attr_defs": data}
    if not isinstance(data, Mapping):
        raise fail("expected a JSON object with 'name' and 'attr_defs', or an attr_defs list")
    if data.get("stat") == "error":
        raise fail(f"is an error response, not a schema: {data.get('error_description', '')}")
    if "schema" in data:
        data = data["schema"]
        if not isinstance(data, Mapping):
            raise fail("'schema' must be an object")
    name = data.get("name", fallback_name)
    if not isinstance(name, str) or not name:
        raise fail("missing 'name' (the entity type name): add it, or pass the type name"
                   if name is None else f"bad 'name' {name!r} (the entity type name)")
    data = {**data, "name": name}
    defs = data.get("attr_defs")
    if not isinstance(defs, list):
        raise fail("missing 'attr_defs' (a list)" if defs is None else "'attr_defs' must be a list")
    attrs = tuple(replace(a, type="dateTime") if a.name == "lastUpdated" and a.type == "version" else a
                  for a in _parse_defs(defs, "attr_defs", "/", fail))
    for attr in attrs:
        want = _SYSTEM_TYPES.get(attr.name)
        if want is not None and attr.type != want:
            raise fail(f"system attribute '{attr.name}' must have type '{want}', not '{attr.type}'")
    present = {a.name for a in attrs}
    if not present - set(SYSTEM_ATTRIBUTES):   # an export cut short, or the wrong file: nothing to generate or fuzz
        raise fail("no attributes besides the system ones (id, uuid, created, lastUpdated)")
    missing = [n for n in SYSTEM_ATTRIBUTES if n not in present]
    try:
        raw = json.loads(json.dumps(dict(data), allow_nan=False))  # a private, JSON-clean copy
    except (TypeError, ValueError) as exc:
        raise fail(f"not JSON-serialisable: {exc}") from None
    raw["attr_defs"] = [{"name": n, "type": _SYSTEM_TYPES[n]} for n in missing] + raw["attr_defs"]
    system = tuple(Attribute(n, _SYSTEM_TYPES[n], "/" + n) for n in missing)
    return Schema(name, system + attrs, raw)


_NAME = re.compile(r"[^/\s]+")


def _parse_defs(defs: list[Any], where: str, parent: str, fail: Callable[[str], UsageError]
                ) -> tuple[Attribute, ...]:
    attrs: list[Attribute] = []
    seen: set[str] = set()
    for i, d in enumerate(defs):
        at = f"{where}[{i}]"
        if not isinstance(d, Mapping):
            raise fail(f"{at}: must be an object")
        name = d.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise fail(f"{at}: missing or bad 'name' {name!r}")
        at = f"{at} ({name})"
        if name in seen:
            raise fail(f"{at}: duplicate attribute name")
        seen.add(name)
        kind = d.get("type")
        if kind == "version" and (parent, name) != ("/", "lastUpdated"):
            raise fail(f"{at}: type 'version' is only the older type of lastUpdated")
        if not isinstance(kind, str) or not (kind in _TYPES or kind == "password"
                                             or (kind.startswith("password-") and len(kind) > 9)):
            raise fail(f"{at}: unknown type {kind!r}")
        length = d.get("length")
        if length is not None and (type(length) is not int or length < 1):
            raise fail(f"{at}: bad length {length!r} (a positive integer or null)")
        case = d.get("case-sensitive", False)
        if not isinstance(case, bool):
            raise fail(f"{at}: 'case-sensitive' must be true or false, not {case!r}")
        cons = d.get("constraints") or []
        if not isinstance(cons, list):
            raise fail(f"{at}: 'constraints' must be a list")
        for c in cons:
            if c not in CONSTRAINTS:
                raise fail(f"{at}: unknown constraint {c!r}")
        children: tuple[Attribute, ...] = ()
        if kind in ("object", "plural"):
            sub = d.get("attr_defs")
            if not isinstance(sub, list):
                raise fail(f"{at}: an {kind} needs 'attr_defs' (a list)")
            children = _parse_defs(sub, f"{where}[{i}].attr_defs", f"{parent}{name}/", fail)
        elif "attr_defs" in d:
            raise fail(f"{at}: only object and plural attributes have 'attr_defs'")
        attrs.append(Attribute(name, kind, parent + name, length, case, frozenset(cons), children))
    return tuple(attrs)


_PACKAGE = Path(__file__).resolve().parent


def _profiles_dir(package: Path = _PACKAGE) -> Path:
    """``loadgen/_profiles`` in an installed wheel (force-included there), else the checkout's ``profiles/``."""
    installed = package / "_profiles"
    return installed if installed.is_dir() else package.parent / "profiles"


@lru_cache(maxsize=1)
def default_schema() -> Schema:
    """The shipped classic ``user`` type (``profiles/user.schema.json``), loaded once."""
    return load_schema(_profiles_dir() / "user.schema.json")


# -- validation -------------------------------------------------------------------------------------

def validate(record: object, schema: Schema, *, new: bool = True, partial: bool = False) -> list[Violation]:
    """Every violation of ``record`` against ``schema``, in classification order (first = reported).

    ``new`` (create, bulkCreate, replace): ``id`` gives 320 and ``lastUpdated`` 234, while ``created``
    and a well-formed ``uuid`` are allowed; otherwise (update) all four system attributes give 234.
    ``partial`` (update) skips absent required attributes, except inside new plural elements (no id).
    ``null`` means unset. Uniqueness is not checked: that needs the database.
    """
    if not isinstance(record, dict):
        return [Violation(Code.INVALID_JSON_TYPE, "/", "the record must be a JSON object")]
    out: list[Violation] = []
    _walk(record, schema._roots[new], out, partial)
    if len(out) > 1:
        out.sort(key=_rank)
    return out


def _rank(v: Violation) -> int:
    return _RANK.get(v.code, len(_RANK))


def _walk(obj: dict[Any, Any], node: _Node, out: list[Violation], partial: bool) -> None:
    fields = node.fields
    required = node.required
    for key, value in obj.items():
        check = fields.get(key)
        if check is None:
            path = f"{node.prefix}{key}"
            out.append(Violation(Code.UNKNOWN_ATTRIBUTE, path, f"attribute does not exist: {path}"))
        elif value is not None:
            check(value, out, partial)
        elif key in required:
            out.append(required[key])
    if required and not partial:
        for name, missing in required.items():
            if name not in obj:
                out.append(missing)


def _compile(attrs: tuple[Attribute, ...], prefix: str, *, top: bool, new: bool, plural: bool = False) -> _Node:
    fields = {a.name: _checker(a, new) for a in attrs}
    if top:
        def reserved(name: str, code: Code, why: str) -> _Check:
            return _always(Violation(code, "/" + name, why))
        fields["lastUpdated"] = reserved("lastUpdated", Code.RESERVED_ATTRIBUTE, "set by the server")
        if new:
            fields["id"] = reserved("id", Code.ID_IN_NEW_RECORD, "a new record cannot carry an id")
            fields["uuid"] = _checker(Attribute("uuid", "uuid", "/uuid"), new)
            fields["created"] = _checker(Attribute("created", "dateTime", "/created"), new)
        else:
            for name in ("id", "uuid", "created"):
                fields[name] = reserved(name, Code.RESERVED_ATTRIBUTE, "cannot be changed")
    elif plural:
        path = prefix + "id"
        fields["id"] = (_always(Violation(Code.ID_IN_NEW_RECORD, path, "a new plural element cannot carry an id"))
                        if new else _checker(Attribute("id", "id", path), new))
    required = {a.name: Violation(Code.MISSING_REQUIRED_ATTRIBUTE, a.path, "a required attribute is missing")
                for a in attrs if a.required and not (top and a.name in SYSTEM_ATTRIBUTES)}
    return _Node(prefix, fields, required)


def _always(violation: Violation) -> _Check:
    def check(v: Any, out: list[Violation], partial: bool) -> None:
        out.append(violation)
    return check


def _checker(attr: Attribute, new: bool) -> _Check:
    """The compiled check of one attribute; its violations are built here, once."""
    path, kind = attr.path, attr.type
    bad_type = Violation(Code.INVALID_JSON_TYPE, path, f"expected a JSON value of type {kind}")
    if kind == "string":
        return _string_checker(attr, bad_type)
    if kind in ("object", "plural"):
        node = _compile(attr.attrs, path + "/", top=False, new=new, plural=kind == "plural")
        if kind == "object":
            def check_object(v: Any, out: list[Violation], partial: bool) -> None:
                if isinstance(v, dict):
                    _walk(v, node, out, partial)
                else:
                    out.append(bad_type)
            return check_object
        bad_element = Violation(Code.INVALID_JSON_TYPE, path, "a plural element must be a JSON object")

        def check_plural(v: Any, out: list[Violation], partial: bool) -> None:
            if not isinstance(v, list):
                out.append(bad_type)
                return
            for el in v:
                if isinstance(el, dict):
                    _walk(el, node, out, partial and "id" in el)  # an element without id is new
                else:
                    out.append(bad_element)
        return check_plural
    types, ok, code, why = _RULES["password" if attr.is_password else kind]
    bad_value = Violation(code, path, why) if code is not None else bad_type

    def check(v: Any, out: list[Violation], partial: bool) -> None:
        if not isinstance(v, types):
            out.append(bad_type)
        elif not ok(v):
            out.append(bad_value)
    return check


def _string_checker(attr: Attribute, bad_type: Violation) -> _Check:
    limit = attr.length if attr.length is not None else sys.maxsize
    too_long = Violation(Code.LENGTH_VIOLATION, attr.path, f"longer than {attr.length} characters")
    preds = tuple((_PREDICATES[c], Violation(Code.CONSTRAINT_VIOLATION, attr.path, f"violates the {c} constraint"))
                  for c in sorted(attr.constraints) if c in _PREDICATES)

    def check(v: Any, out: list[Violation], partial: bool) -> None:
        if not isinstance(v, str):
            out.append(bad_type)
        elif len(v) > limit:
            out.append(too_long)
        else:
            for ok, bad in preds:
                if not ok(v):
                    out.append(bad)
                    break

    def check_plain(v: Any, out: list[Violation], partial: bool) -> None:
        if not isinstance(v, str):
            out.append(bad_type)
        elif len(v) > limit:
            out.append(too_long)
    return check if preds else check_plain


# Fast shapes: each accepts a subset of what wire.parse_date/parse_datetime accept, and anything else
# falls back to those, so the validator can never disagree with the parsers (a test checks it).
_FAST_DATE = re.compile(r"([1-8]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", re.ASCII).fullmatch
_FAST_DATETIME = re.compile(
    r"([1-8]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[ T]([01]\d|2[0-3]):([0-5]\d):([0-5]\d)"
    r"(?:\.(\d{1,6}))?(Z| ?[+-](?:[01]\d|2[0-3]):?[0-5]\d)?", re.ASCII).fullmatch


def _day_ok(m: re.Match[str]) -> bool:
    return m[3] <= "28" or int(m[3]) <= calendar.monthrange(int(m[1]), int(m[2]))[1]


def _date_ok(v: str) -> bool:
    m = _FAST_DATE(v)
    return _day_ok(m) if m is not None else parse_date(v) is not None


def _datetime_ok(v: str) -> bool:
    m = _FAST_DATETIME(v)
    return _day_ok(m) if m is not None else parse_datetime(v) is not None


def _password_ok(v: Any) -> bool:
    """Clear text, or a migrated hash ``{"type": "password-...", "value": ..., "salt": ...}``."""
    return isinstance(v, str) or (
        v.keys() <= {"type", "value", "salt"} and isinstance(v.get("type"), str)
        and v["type"].startswith("password-") and isinstance(v.get("value"), str)
        and isinstance(v.get("salt", ""), str | None))


_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)", re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INT64 = 2 ** 63
_MAX_FLOAT = sys.float_info.max

#: type -> (accepted Python types, value test, code and message when the test fails; None = bad type)
_RULES: dict[str, tuple[type | tuple[type, ...], Callable[[Any], object], Code | None, str]] = {
    "boolean": (object, lambda v: v is True or v is False or v == "true" or v == "false", None, ""),
    "integer": (int, lambda v: v is not True and v is not False and -_INT64 <= v < _INT64, None, ""),
    "id": (int, lambda v: v is not True and v is not False and -_INT64 <= v < _INT64, None, ""),
    "decimal": ((int, float), lambda v: v is not True and v is not False and -_MAX_FLOAT <= v <= _MAX_FLOAT,
                None, ""),
    "date": (str, _date_ok, Code.INVALID_DATE_TIME, "not a valid date (YYYY-MM-DD)"),
    "dateTime": (str, _datetime_ok, Code.INVALID_DATE_TIME, "not a valid dateTime"),
    "ipAddress": (str, _IPV4.fullmatch, Code.INVALID_DATA_FORMAT, "not an IPv4 address"),
    "uuid": (str, _UUID.fullmatch, Code.INVALID_ARGUMENT, "not a valid uuid"),
    "json": ((dict, list, str, int, float), lambda v: True, None, ""),
    "password": ((str, dict), _password_ok, None, ""),
}

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = re.compile(rf"(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@"
                    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}", re.ASCII)
_NOT_PRINTABLE = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def _unicode_printable(v: str) -> bool:
    """No control characters, surrogates, unassigned code points or line breaks.

    Wider than ``str.isprintable``: real names use format characters (ZWNJ in Persian) and no-break spaces.
    """
    return v.isprintable() or all(unicodedata.category(c) not in _NOT_PRINTABLE for c in v)


def _unicode_letters(v: str) -> bool:
    """Letters of any script, with their combining marks (a decomposed "é" is still a letter)."""
    return v.isalpha() or all(c.isalpha() or unicodedata.category(c).startswith("M") for c in v)


_PREDICATES: dict[str, Callable[[str], object]] = {
    "alphabetic": re.compile(r"[A-Za-z]*").fullmatch,
    "alphanumeric": re.compile(r"[A-Za-z0-9]*").fullmatch,
    "unicode-letters": _unicode_letters,
    "unicode-printable": _unicode_printable,
    "email-address": _EMAIL.fullmatch,
}


# -- normalisation ----------------------------------------------------------------------------------

def normalize(record: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """The canonical stored form of a valid record (a new dict; objects and plurals are copied too).

    date -> ``YYYY-MM-DD``, dateTime -> ``YYYY-MM-DD HH:MM:SS[.ffffff] +0000`` (a fraction only if one
    was given), ``"true"``/``"false"`` -> bool, uuid -> lower case. Adds nothing, hashes nothing, assigns nothing.
    """
    return _normalize(record, schema._norm)


def _normalize(obj: Mapping[str, Any], table: dict[str, _Norm]) -> dict[str, Any]:
    result = dict(obj)
    for key, fn in table.items():
        value = result.get(key)
        if value is not None:
            result[key] = fn(value)
    return result


def _norm_table(attrs: tuple[Attribute, ...]) -> dict[str, _Norm]:
    table: dict[str, _Norm] = {}
    for a in attrs:
        if a.type == "object":
            table[a.name] = _norm_object(_norm_table(a.attrs))
        elif a.type == "plural":
            table[a.name] = _norm_plural(_norm_table(a.attrs))
        elif a.type in _NORMALIZERS:
            table[a.name] = _NORMALIZERS[a.type]
    return table


def _norm_object(table: dict[str, _Norm]) -> _Norm:
    return lambda v: _normalize(v, table) if isinstance(v, dict) else v


def _norm_plural(table: dict[str, _Norm]) -> _Norm:
    return lambda v: [_normalize(e, table) if isinstance(e, dict) else e for e in v] if isinstance(v, list) else v


_ZERO_ZONES = frozenset({None, "Z", "+0000", "+00:00", "-0000", "-00:00", " +0000", " +00:00", " -0000", " -00:00"})


def _canonical_datetime(v: Any) -> Any:
    """UTC in Capture's format, with microseconds only if the value had a fraction: real records read
    back ``2013-07-16 18:44:04 +0000`` for a value sent without one (both shapes sort as text)."""
    if not isinstance(v, str):
        return v
    m = _FAST_DATETIME(v)
    if m is None or m[8] not in _ZERO_ZONES or not _day_ok(m):
        moment = parse_datetime(v)
        if moment is None:
            return v
        text = format_timestamp(moment)
        return text if "." in v else text[:19] + " +0000"  # "." only ever starts the fraction
    if m[8] == " +0000" and v[10] == " " and len(v) == (32 if m[7] else 25):  # already canonical
        return v
    if m[7] is None:
        return f"{v[:10]} {v[11:19]} +0000"
    return f"{v[:10]} {v[11:19]}.{m[7].ljust(6, '0')} +0000"


def _canonical_date(v: Any) -> Any:
    """``YYYY-MM-DD``: a time part is dropped, a compact ``19780722`` (a real 2013 call) gets its dashes."""
    if not isinstance(v, str) or len(v) == 10 or not _date_ok(v):
        return v
    return v[:10] if len(v) > 10 else f"{v[:4]}-{v[4:6]}-{v[6:]}"


def _canonical_bool(v: Any) -> Any:
    return v == "true" if v in ("true", "false") and isinstance(v, str) else v


_NORMALIZERS: dict[str, _Norm] = {
    "date": _canonical_date,
    "dateTime": _canonical_datetime,
    "boolean": _canonical_bool,
    "uuid": lambda v: v.lower() if isinstance(v, str) else v,
}


def unique_key(attr: Attribute, value: str) -> str:
    """The value as compared for uniqueness: case-folded unless the attribute is case-sensitive."""
    return value if attr.case_sensitive else value.casefold()

"""Between a validated record and a database row: split, hash, merge, index and render.

A stored row keeps the system attributes in columns, the other attributes (unset ones left out) as
one JSON document, and top-level password hashes in a column of their own (so a filter never reaches
them). Rendering puts every schema attribute back: null when unset, ``[]`` for an unset plural, objects
with their children, and a password as its stored hash object (never clear text) or null.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid as uuidlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from loadgen import wire
from loadgen.errors import CaptureError, Code, capture_error
from loadgen.schema import Attribute, Schema, unique_key

_SYSTEM = frozenset({"id", "uuid", "created", "lastUpdated"})


@dataclass(frozen=True, slots=True)
class _Nested:
    """A ``unique`` or ``locally-unique`` attribute below the top level.

    ``name`` is its key in the unique index (``profiles/identifier``: the path without the leading
    slash, so ``duplicate`` names it ``/profiles/identifier``); ``chain`` the attributes from the top.
    A ``local`` one must differ only among the elements of one plural of one record.
    """

    name: str
    chain: tuple[Attribute, ...]
    local: bool


@dataclass(frozen=True, slots=True)
class _Layout:
    """What ``prepare`` needs to know of a schema, computed once per schema."""

    passwords: frozenset[str]
    plurals: frozenset[str]
    unique: tuple[tuple[str, bool], ...]
    normalizers: dict[str, Callable[[Any], Any]]
    nested: tuple[_Nested, ...]
    nested_roots: frozenset[str]  # the top-level attributes that ``nested`` lies in
    deep_plurals: frozenset[str]  # top-level objects and plurals with plurals inside (their elements get ids)


def _nested_constraints(attrs: tuple[Attribute, ...], above: tuple[Attribute, ...]) -> Iterator[_Nested]:
    for attr in attrs:
        chain = (*above, attr)
        if above and attr.unique:
            yield _Nested(attr.path.lstrip("/"), chain, False)
        elif above and above[-1].is_plural and "locally-unique" in attr.constraints:
            yield _Nested(attr.path.lstrip("/"), chain, True)
        yield from _nested_constraints(attr.attrs, chain)


def _has_plural(attrs: tuple[Attribute, ...]) -> bool:
    return any(a.is_plural or _has_plural(a.attrs) for a in attrs)


@lru_cache(maxsize=64)
def _layout(schema: Schema) -> _Layout:
    normalizers = {a.name: fn for a in schema.attributes if (fn := schema.normalizer(a.name)) is not None}
    return _Layout(frozenset(a.name for a in schema.attributes if a.is_password),
                   frozenset(a.name for a in schema.attributes if a.is_plural),
                   tuple((a.name, a.case_sensitive) for a in schema.unique), normalizers,
                   nested := tuple(_nested_constraints(schema.attributes, ())),
                   frozenset(n.chain[0].name for n in nested),
                   frozenset(a.name for a in schema.attributes
                             if (a.is_plural or a.is_object) and _has_plural(a.attrs)))


@dataclass(slots=True)
class Prepared:
    """A record ready to store: ``data`` holds no system attribute and no password.

    For a new record, ``data`` leaves unset attributes out, ``keys`` holds its unique index entries and
    ``elements`` the plural elements that wait for their ids. For an update, ``data`` keeps the nulls
    that unset attributes, and the store works the rest out after merging.
    """

    data: dict[str, Any]
    secret: dict[str, Any] = field(default_factory=dict)
    uuid: str | None = None
    created: str | None = None
    keys: list[tuple[str, str]] = field(default_factory=list)
    elements: list[dict[str, Any]] = field(default_factory=list)


_BCRYPT_ALPHABET = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                                   b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _bcrypt64(raw: bytes) -> str:
    return base64.b64encode(raw).translate(_BCRYPT_ALPHABET).decode("ascii").rstrip("=")


def hash_password(value: object) -> dict[str, Any] | None:
    """The stored form of a password: a migrated hash object as given, clear text hashed.

    Clear text becomes ``{"type": "password-bcrypt", "value": "$2a$04$<salt><hash>"}``, shaped like
    the bcrypt hashes real Capture records carry (60 characters, bcrypt's alphabet) but computed as a
    salted SHA-256 with ``hashlib`` (no bcrypt dependency): no bcrypt library verifies it, and it
    never needs to, since the sandbox has no sign-in. A migrated hash object keeps its ``type`` and
    ``value``, and its ``salt`` only when one was given.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: value[k] for k in ("type", "value", "salt") if value.get(k) is not None}
    salt = secrets.token_bytes(16)
    digest = hashlib.sha256(salt + str(value).encode("utf-8", "surrogatepass")).digest()
    return {"type": "password-bcrypt", "value": f"$2a$04${_bcrypt64(salt)}{_bcrypt64(digest)[:31]}"}


def prepare(record: Mapping[str, Any], schema: Schema, *, new: bool = True) -> Prepared:
    """Split a validated record into stored data (normalised as ``loadgen.schema.normalize`` does, objects
    and plurals copied), password hashes, uuid and created.

    This is on the hot path of bulkCreate, hence one pass (normalising on the way saves copying the
    record twice) and precomputed schema facts. A new record that holds a value twice where it must be
    unique raises 361 (``nested_keys``).
    """
    lay = _layout(schema)
    normalizers = lay.normalizers
    out = Prepared({})
    data = out.data
    for name, value in record.items():
        if name in _SYSTEM:
            if new and value is not None:
                _system(out, name, value)
        elif name in lay.passwords:
            out.secret[name] = hash_password(value)
        elif value is not None:
            fn = normalizers.get(name)
            if fn is not None:
                value = fn(value)
            data[name] = value
            if new and name in lay.deep_plurals:  # walk the schema, not the value: a json value may hold lists
                out.elements.extend(e for _, e in _elements(schema[name], value))
            elif new and name in lay.plurals:
                out.elements.extend(value)
        elif not new:
            data[name] = None
    if new:
        _index_keys(out, lay, schema)
    return out


def _system(out: Prepared, name: str, value: Any) -> None:
    """A new record's own ``uuid`` or ``created`` (migrations keep them); ``id`` and ``lastUpdated`` were refused."""
    if name == "uuid":
        out.uuid = str(uuidlib.UUID(str(value)))
    elif name == "created":
        moment = wire.parse_datetime(str(value))
        out.created = wire.format_timestamp(moment) if moment else str(value)


def _index_keys(out: Prepared, lay: _Layout, schema: Schema) -> None:
    """The unique index entries of a new record: its top-level unique values, then the nested ones."""
    data = out.data
    for name, case_sensitive in lay.unique:
        value = data.get(name)
        if value is not None:
            out.keys.append((name, (value if case_sensitive else value.casefold())
                             if isinstance(value, str) else wire.dumps(value)))
    if not lay.nested_roots.isdisjoint(data):
        out.keys.extend(nested_keys(data, schema))


def stored(data: Mapping[str, Any]) -> dict[str, Any]:
    """The document to write: unset top-level attributes left out."""
    return {k: v for k, v in data.items() if v is not None}


def merge(old: Mapping[str, Any], new: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """``entity.update``: each supplied attribute is updated as ``updated`` says, the others are kept."""
    out = dict(old)
    for name, value in new.items():
        attr = schema.get(name)
        out[name] = updated(attr, old.get(name), value) if attr is not None else value
    return out


def updated(attr: Attribute, before: Any, value: Any) -> Any:
    """An attribute after ``entity.update`` gave it ``value``: an object merges one level deep; a plural
    gets the elements without ``id`` appended and those with one merged into the element of that id
    (an id it lacks is kept, so ``assign_plural_ids`` answers 310); null unsets; anything else replaces."""
    if attr.is_object and isinstance(value, dict) and isinstance(before, dict):
        return {**before, **value}
    if not attr.is_plural or not isinstance(value, list):
        return value
    out = list(before) if isinstance(before, list) else []
    where = {e["id"]: i for i, e in enumerate(out) if isinstance(e, dict) and e.get("id") is not None}
    for element in value:
        i = where.get(element.get("id")) if isinstance(element, dict) else None
        if i is None:
            out.append(element)
        else:
            out[i] = {**out[i], **element}
    return out


def _key(attr: Attribute, value: Any) -> str:
    return unique_key(attr, value) if isinstance(value, str) else wire.dumps(value)


def unique_keys(data: Mapping[str, Any], schema: Schema) -> list[tuple[str, str]]:
    """(attribute, folded value) of every set unique attribute, nested ones too: what the unique index holds."""
    keys: list[tuple[str, str]] = []
    for attr in schema.unique:
        value = data.get(attr.name)
        if value is not None:
            keys.append((attr.name, _key(attr, value)))
    if not _layout(schema).nested_roots.isdisjoint(data):
        keys.extend(nested_keys(data, schema))
    return keys


def nested_keys(data: Mapping[str, Any], schema: Schema) -> list[tuple[str, str]]:
    """The unique index entries of the unique attributes below the top level.

    Raises 361 when the record itself holds a value twice where it must be unique: in a
    ``locally-unique`` child among the elements of one plural, or in a ``unique`` one anywhere.
    """
    keys: list[tuple[str, str]] = []
    for rule in _layout(schema).nested:
        attr = rule.chain[-1]
        if rule.local:
            for elements in _leaves(data, rule.chain[:-1]):
                found = [_key(attr, e.get(attr.name)) for e in elements
                         if isinstance(e, dict) and e.get(attr.name) is not None] if isinstance(elements, list) else []
                if len(set(found)) < len(found):
                    raise duplicate(rule.name)
            continue
        values = [_key(attr, v) for v in _leaves(data, rule.chain)]
        if len(set(values)) < len(values):
            raise duplicate(rule.name)
        keys.extend((rule.name, v) for v in values)
    return keys


def _leaves(node: Any, chain: tuple[Attribute, ...]) -> Iterator[Any]:
    """The set values at the end of ``chain`` in ``node``: one per element of each plural on the way."""
    if not chain:
        if node is not None:
            yield node
        return
    if not isinstance(node, dict):
        return
    value = node.get(chain[0].name)
    if chain[0].is_plural and len(chain) > 1:
        for element in value if isinstance(value, list) else ():
            yield from _leaves(element, chain[1:])
    else:
        yield from _leaves(value, chain[1:])


def duplicate(attr_name: str, request_id: str | None = None) -> CaptureError:
    """361 for a unique attribute: its top-level name (``email``) or its path without the leading slash."""
    return capture_error(Code.UNIQUE_VIOLATION, "Attempted to update a duplicate value",
                         attribute_name=f"/{attr_name}", request_id=request_id)


def plural_elements(data: Mapping[str, Any], schema: Schema) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every element of every plural in ``data``, nested ones too, with the plural's path."""
    for name, value in data.items():
        attr = schema.get(name)
        if attr is not None and (attr.is_plural or attr.is_object):
            yield from _elements(attr, value)


def _elements(attr: Attribute, value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    items = value if attr.is_plural and isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, dict):
            continue
        if attr.is_plural:
            yield attr.path, item
        for child in attr.attrs:
            if (child.is_plural or child.is_object) and item.get(child.name) is not None:
                yield from _elements(child, item[child.name])


def forget_plural_ids(data: Mapping[str, Any], schema: Schema) -> None:
    """Drop the ids of the plural elements in ``data`` (a replaced plural's elements all get new ones)."""
    for _, element in plural_elements(data, schema):
        element.pop("id", None)


def missing_plural_ids(data: Mapping[str, Any], schema: Schema) -> int:
    return sum(1 for _, e in plural_elements(data, schema) if e.get("id") is None)


def assign_plural_ids(data: Mapping[str, Any], schema: Schema, ids: Iterator[int],
                      known: Mapping[str, set[int]] | None = None) -> None:
    """Give each new plural element its server-assigned id; an unknown given id is 310."""
    for path, element in plural_elements(data, schema):
        given = element.get("id")
        if given is None:
            element["id"] = next(ids)
        elif known is None or given not in known.get(path, set()):
            raise capture_error(Code.RECORD_NOT_FOUND, f"no element with id {given} in plural {path}",
                                attribute_name=f"{path}/id")


def plural_ids(data: Mapping[str, Any], schema: Schema) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for path, element in plural_elements(data, schema):
        if isinstance(element.get("id"), int):
            found.setdefault(path, set()).add(element["id"])
    return found


def _value(attr: Attribute, value: Any) -> Any:
    if attr.is_object:
        inner = value if isinstance(value, dict) else {}
        return {c.name: _value(c, inner.get(c.name)) for c in attr.attrs if not c.is_password}
    if attr.is_plural:
        if not isinstance(value, list):
            return []
        return [_element(attr, e) for e in value if isinstance(e, dict)]
    return value


def _element(attr: Attribute, element: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": element.get("id")}
    for child in attr.attrs:
        if child.name != "id" and not child.is_password:
            out[child.name] = _value(child, element.get(child.name))
    return out


def render(schema: Schema, row: tuple[Any, ...]) -> dict[str, Any]:
    """The full record of a row ``(id, uuid, created, last_updated, data_json, secret_json)``: every
    attribute, a top-level password as its stored hash object or null."""
    entity_id, uuid, created, last_updated, raw, secret = row[:6]
    data = json.loads(raw)
    hashes = json.loads(secret) if secret else {}
    system = {"id": entity_id, "uuid": uuid, "created": created, "lastUpdated": last_updated}
    out: dict[str, Any] = {}
    for attr in schema.attributes:
        if attr.name in system:
            out[attr.name] = system[attr.name]
        elif attr.is_password:
            out[attr.name] = hashes.get(attr.name)
        else:
            out[attr.name] = _value(attr, data.get(attr.name))
    return out


def project(record: Mapping[str, Any], names: object, schema: Schema) -> dict[str, Any]:
    """Only the attributes named in an ``attributes`` JSON array (dotted paths reach into objects)."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise capture_error(Code.INVALID_ARGUMENT, "attributes must be a JSON array of attribute names",
                            argument_name="attributes")
    out: dict[str, Any] = {}
    for name in names:
        first, _, rest = name.partition(".")
        attr = schema.get(first)
        if attr is None or first not in record:
            raise capture_error(Code.INVALID_ARGUMENT, f"unknown attribute {name!r}", argument_name="attributes")
        value = record[first]
        if not rest:
            out[first] = value
            continue
        child = attr.child(rest) if attr.is_object or attr.is_plural else None
        if child is None:
            raise capture_error(Code.INVALID_ARGUMENT, f"unknown attribute {name!r}", argument_name="attributes")
        if attr.is_plural:
            previous = out.get(first)
            merged: list[dict[str, Any]] = (previous if isinstance(previous, list)
                                            else [{"id": e["id"]} for e in value])
            for target, element in zip(merged, value, strict=True):
                target[rest] = element.get(rest)
            out[first] = merged
        else:
            out.setdefault(first, {})[rest] = value.get(rest)
    return out

"""Between a validated record and a database row: split, hash, merge and render.

A stored row keeps the system attributes in columns, the other attributes (unset ones left out) as
one JSON document, and password hashes in a column that no read call ever returns. Rendering puts
every schema attribute back: null when unset, ``[]`` for an unset plural, objects with their children.
"""

from __future__ import annotations

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
class _Layout:
    """What ``prepare`` needs to know of a schema, computed once per schema."""

    passwords: frozenset[str]
    plurals: frozenset[str]
    unique: tuple[tuple[str, bool], ...]
    normalizers: dict[str, Callable[[Any], Any]]


@lru_cache(maxsize=64)
def _layout(schema: Schema) -> _Layout:
    normalizers = {a.name: fn for a in schema.attributes if (fn := schema.normalizer(a.name)) is not None}
    return _Layout(frozenset(a.name for a in schema.attributes if a.is_password),
                   frozenset(a.name for a in schema.attributes if a.is_plural),
                   tuple((a.name, a.case_sensitive) for a in schema.unique), normalizers)


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


def hash_password(value: object) -> dict[str, Any] | None:
    """The stored form of a password: a migrated hash object is kept, clear text is salted and hashed.

    The sandbox is not an identity provider, so a fast salted SHA-256 is enough: the point is that the
    clear text is never stored and never returned.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: value.get(k) for k in ("type", "value", "salt")}
    salt = secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}{value}".encode("utf-8", "surrogatepass")).hexdigest()
    return {"type": "sandbox-sha256", "salt": salt, "value": digest}


def prepare(record: Mapping[str, Any], schema: Schema, *, new: bool = True) -> Prepared:
    """Split a validated record into stored data (normalised as ``loadgen.schema.normalize`` does, objects
    and plurals copied), password hashes, uuid and created.

    This is on the hot path of bulkCreate, hence one pass (normalising on the way saves copying the
    record twice) and precomputed schema facts.
    """
    lay = _layout(schema)
    normalizers = lay.normalizers
    out = Prepared({})
    data = out.data
    for name, value in record.items():
        if name in _SYSTEM:
            if new and value is not None:
                if name == "uuid":
                    out.uuid = str(uuidlib.UUID(str(value)))
                elif name == "created":
                    moment = wire.parse_datetime(str(value))
                    out.created = wire.format_timestamp(moment) if moment else str(value)
        elif name in lay.passwords:
            out.secret[name] = hash_password(value)
        elif value is not None:
            fn = normalizers.get(name)
            if fn is not None:
                value = fn(value)
            data[name] = value
            if new and name in lay.plurals:
                out.elements.extend(value)
        elif not new:
            data[name] = None
    if new:
        for name, case_sensitive in lay.unique:
            value = data.get(name)
            if value is not None:
                out.keys.append((name, (value if case_sensitive else value.casefold())
                                 if isinstance(value, str) else wire.dumps(value)))
    return out


def stored(data: Mapping[str, Any]) -> dict[str, Any]:
    """The document to write: unset top-level attributes left out."""
    return {k: v for k, v in data.items() if v is not None}


def merge(old: Mapping[str, Any], new: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """``entity.update``: supplied attributes replace stored ones, objects merge one level deep."""
    out = dict(old)
    for name, value in new.items():
        attr = schema.get(name)
        before = old.get(name)
        if attr is not None and attr.is_object and isinstance(value, dict) and isinstance(before, dict):
            out[name] = {**before, **value}
        else:
            out[name] = value
    return out


def unique_keys(data: Mapping[str, Any], schema: Schema) -> list[tuple[str, str]]:
    """(attribute, folded value) of every set unique attribute: what the unique index holds."""
    keys: list[tuple[str, str]] = []
    for attr in schema.unique:
        value = data.get(attr.name)
        if value is not None:
            keys.append((attr.name, unique_key(attr, value) if isinstance(value, str) else wire.dumps(value)))
    return keys


def duplicate(attr_name: str, request_id: str | None = None) -> CaptureError:
    return capture_error(Code.UNIQUE_VIOLATION, "Attempted to update a duplicate value",
                         attribute_name=f"/{attr_name}", request_id=request_id)


def plural_elements(data: Mapping[str, Any], schema: Schema) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every element of every plural in ``data``, with the plural's name."""
    for name, value in data.items():
        attr = schema.get(name)
        if attr is not None and attr.is_plural and isinstance(value, list):
            for element in value:
                if isinstance(element, dict):
                    yield name, element


def missing_plural_ids(data: Mapping[str, Any], schema: Schema) -> int:
    return sum(1 for _, e in plural_elements(data, schema) if e.get("id") is None)


def assign_plural_ids(data: Mapping[str, Any], schema: Schema, ids: Iterator[int],
                      known: Mapping[str, set[int]] | None = None) -> None:
    """Give each new plural element its server-assigned id; an unknown given id is 310."""
    for name, element in plural_elements(data, schema):
        given = element.get("id")
        if given is None:
            element["id"] = next(ids)
        elif known is None or given not in known.get(name, set()):
            raise capture_error(Code.RECORD_NOT_FOUND, f"no element with id {given} in plural {name}",
                                attribute_name=f"/{name}/id")


def plural_ids(data: Mapping[str, Any], schema: Schema) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for name, element in plural_elements(data, schema):
        if isinstance(element.get("id"), int):
            found.setdefault(name, set()).add(element["id"])
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
    """The full record of a row ``(id, uuid, created, last_updated, data_json)``: every attribute."""
    entity_id, uuid, created, last_updated, raw = row[:5]
    data = json.loads(raw)
    system = {"id": entity_id, "uuid": uuid, "created": created, "lastUpdated": last_updated}
    out: dict[str, Any] = {}
    for attr in schema.attributes:
        if attr.name in system:
            out[attr.name] = system[attr.name]
        elif not attr.is_password:
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
        if attr is None or attr.is_password or first not in record:
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

"""Checked reading of the run folder's JSON files (``report.json``, ``meta.json``): one set of field checks.

Each check takes the value and its dotted path and returns the typed value, or raises a
:class:`FieldError` naming the field, so a file's reader (``Report.from_json``, ``Meta.from_json``)
prefixes the file name and re-raises its own one-line error class. Core level: imports nothing of
the project but ``errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from loadgen.errors import UsageError

T = TypeVar("T")
Check = Callable[[object, str], T]


class FieldError(UsageError):
    """A field of a run folder's JSON file is missing or has the wrong type; the message names the field."""


def fail(where: str, expected: str, value: object) -> NoReturn:
    shown = repr(value)
    raise FieldError(f"field {where!r} must be {expected}, got {shown[:40]}{'...' if len(shown) > 40 else ''}")


def as_int(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    fail(where, "an integer", value)


def as_num(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    fail(where, "a number", value)


def as_str(value: object, where: str) -> str:
    if isinstance(value, str):
        return value
    fail(where, "a string", value)


def as_bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    fail(where, "true or false", value)


def or_null(check: Check[T]) -> Check[T | None]:
    return lambda value, where: None if value is None else check(value, where)


def tuple_of(check: Check[T]) -> Check[tuple[T, ...]]:
    def read(value: object, where: str) -> tuple[T, ...]:
        if not isinstance(value, list):
            fail(where, "a list", value)
        return tuple(check(item, f"{where}[{i}]") for i, item in enumerate(value))
    return read


def dict_of(check: Check[T]) -> Check[dict[str, T]]:
    def read(value: object, where: str) -> dict[str, T]:
        if not isinstance(value, dict):
            fail(where, "an object", value)
        return {str(key): check(item, f"{where}.{key}") for key, item in value.items()}
    return read


class Fields:
    """One JSON object being read: each field is checked, and an error names its dotted path.

    ``defaults`` (the older format of a file) lets :meth:`get` fall back on a missing field's default
    instead of refusing the file.
    """

    def __init__(self, data: object, where: str, *, defaults: dict[str, object] | None = None) -> None:
        if not isinstance(data, dict):
            fail(where or "(top level)", "an object", data)
        self.data: dict[str, object] = data
        self.where = where
        self.defaults = defaults

    def get(self, key: str, check: Check[T]) -> T:
        where = f"{self.where}.{key}" if self.where else key
        if key not in self.data:
            if self.defaults is not None and key in self.defaults:
                return check(self.defaults[key], where)
            raise FieldError(f"field {where!r} is missing")
        return check(self.data[key], where)

"""The ``entity.find``/``entity.count`` filter grammar, compiled to SQL over ``json_extract``.

Grammar (capture-api.md), tightest binding first: ``is null``/``is not null``; ``not``/``!``;
``<``, ``<=``, ``>``, ``>=``; ``=``, ``!=``; ``and``; ``or``; parentheses. The left side of a
comparison is an attribute (``email``, ``primaryAddress.city``, ``statuses.status``), the right side
a literal: a single-quoted string (``''`` or ``\\'`` for a quote), a number, ``true``/``false``.
Literals are normalised to the stored form of the attribute's type, so dates compare as dates.

Sandbox decisions: ``not`` of a comparison on an unset attribute is true (SQL NULL counts as false);
a condition on a plural child (``statuses.status = 'x'``) holds when any element matches; string
comparisons are exact (case-sensitive). Any error is code 200 with ``argument_name: filter``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from loadgen import wire
from loadgen.errors import CaptureError, Code, capture_error
from loadgen.schema import Attribute, Schema

#: Room for cleanup's chunks of 1,000 ``uuid = '...'`` terms (about 50 characters each).
MAX_FILTER_LENGTH = 65_536
#: Parentheses and ``not``s, counted together: SQLite's parser stack overflows not far above this.
MAX_NESTING = 32
#: Comparisons and null tests in one filter.
MAX_CONDITIONS = 1000
#: ``sort_on`` terms (SQLite refuses long ORDER BY clauses with an error of its own).
MAX_SORT_TERMS = 32
_INT64 = range(-(2**63), 2**63)
_GROUP = 32
#: Upper bounds of what SQLite's parser stack holds open for a condition (more for an ``EXISTS`` over a
#: plural or a function of a function) and a parenthesised chain; a filter above ``_STACK_BUDGET`` is
#: refused before SQLite overflows its stack (100 entries, part of which the query around the filter
#: uses; measured: the cheapest overflow costs 98). Checked by the nesting tests.
_COST_CONDITION = 8
_COST_JOIN = 3
_STACK_BUDGET = 80
_Sql = tuple[str, int]

#: System attributes live in columns of the ``entities`` table.
COLUMNS = {"id": "e.id", "uuid": "e.uuid", "created": "e.created", "lastUpdated": "e.last_updated"}

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.|'')*')
  | (?P<num>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<op>>=|<=|!=|=|<|>|!|\(|\))
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE | re.DOTALL)

_KEYWORDS = {"and", "or", "not", "is", "null", "true", "false"}
_COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}


class _Bad(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _Bad(f"unexpected character {text[pos]!r} at position {pos}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind == "ws":
            continue
        value = m.group()
        if kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        out.append((kind, value))
    return out


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)|''", lambda m: m.group(1) or "'", token[1:-1], flags=re.DOTALL)


def json_path(parts: list[str]) -> str:
    return "$" + "".join(f'."{p}"' for p in parts)


def resolve(schema: Schema, dotted: str) -> tuple[list[Attribute], str]:
    """The attribute chain of a dotted name and its kind: ``column``, ``value``, ``plural`` or ``child``.

    ``child`` is a value inside a plural's elements; raises ``_Bad`` for an unknown attribute.
    """
    names = dotted.split(".")
    if len(names) == 1 and names[0] in COLUMNS:
        return [], "column"
    chain: list[Attribute] = []
    attr = schema.get(names[0])
    for n, name in enumerate(names):
        if n:
            attr = chain[-1].child(name) if chain[-1].is_object or chain[-1].is_plural else None
        if attr is None or attr.is_password:
            raise _Bad(f"unknown attribute {dotted!r}")
        chain.append(attr)
    plural_at = next((i for i, a in enumerate(chain) if a.is_plural), None)
    if plural_at is None:
        return chain, "value"
    if plural_at == len(chain) - 1:
        return chain, "plural"
    return chain, "child"


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], schema: Schema) -> None:
        self.tokens = tokens
        self.pos = 0
        self.schema = schema
        self.params: list[Any] = []
        self.depth = 0
        self.conditions = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _Bad("the filter ends too early")
        self.pos += 1
        return tok

    def expect(self, kind: str, value: str) -> None:
        tok = self.take()
        if tok != (kind, value):
            raise _Bad(f"expected {value!r}, found {tok[1]!r}")

    def or_expr(self) -> _Sql:
        parts = [self.and_expr()]
        while self.peek() == ("kw", "or"):
            self.pos += 1
            parts.append(self.and_expr())
        return _joined(parts, "OR")

    def and_expr(self) -> _Sql:
        parts = [self.not_expr()]
        while self.peek() == ("kw", "and"):
            self.pos += 1
            parts.append(self.not_expr())
        return _joined(parts, "AND")

    def not_expr(self) -> _Sql:
        negations = 0
        while self.peek() in (("kw", "not"), ("op", "!")):  # a loop, not recursion: 'not not x' is x
            self.pos += 1
            negations += 1
            if negations > MAX_NESTING:
                raise _Bad("the filter is nested too deeply")
        sql, cost = self.primary()
        if not negations:
            return sql, cost
        # 'IS NOT 1' is true for false and for NULL (an unset attribute), and nests no function call
        return (f"({sql}) IS NOT 1" if negations % 2 else f"({sql}) IS 1"), cost + 1

    def primary(self) -> _Sql:
        tok = self.take()
        if tok == ("op", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise _Bad("the filter is nested too deeply")
            inner = self.or_expr()
            self.expect("op", ")")
            self.depth -= 1
            return inner
        if tok[0] != "word":
            raise _Bad(f"expected an attribute name, found {tok[1]!r}")
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _Bad(f"more than {MAX_CONDITIONS} conditions")
        sql = self.condition(tok[1])
        return sql, _COST_CONDITION + 12 * sql.startswith("EXISTS") + 6 * ("COALESCE(" in sql)

    def condition(self, name: str) -> str:
        chain, kind = resolve(self.schema, name)
        tok = self.take()
        if tok == ("kw", "is"):
            negate = self.peek() == ("kw", "not")
            if negate:
                self.pos += 1
            self.expect("kw", "null")
            return self.null_test(name, chain, kind, negate)
        if tok[0] != "op" or tok[1] not in _COMPARISONS:
            raise _Bad(f"expected a comparison after {name!r}, found {tok[1]!r}")
        if kind == "plural":
            raise _Bad(f"{name!r} is a plural: compare one of its attributes, e.g. {name}.id")
        literal = self.literal(chain[-1] if chain else None, name)
        self.params.append(literal)
        moment = (chain[-1].type if chain else name) in ("dateTime", "created", "lastUpdated")
        if kind == "column":
            return f"{_comparable(COLUMNS[name]) if moment else COLUMNS[name]} {tok[1]} ?"
        if kind == "value":
            expr = f"json_extract(e.data, '{json_path([a.name for a in chain])}')"
            return f"{_comparable(expr) if moment else expr} {tok[1]} ?"
        return self.plural_child(chain, f"{_comparable('{0}') if moment else '{0}'} {tok[1]} ?")

    def plural_child(self, chain: list[Attribute], test: str) -> str:
        at = next(i for i, a in enumerate(chain) if a.is_plural)
        outer = json_path([a.name for a in chain[: at + 1]])
        inner = json_path([a.name for a in chain[at + 1:]])
        expr = f"json_extract(p.value, '{inner}')"
        return f"EXISTS (SELECT 1 FROM json_each(e.data, '{outer}') AS p WHERE {test.format(expr)})"

    def null_test(self, name: str, chain: list[Attribute], kind: str, negate: bool) -> str:
        op = "IS NOT NULL" if negate else "IS NULL"
        if kind == "column":
            return f"({COLUMNS[name]} {op})"
        path = json_path([a.name for a in chain])
        if kind == "plural":
            length = f"COALESCE(json_array_length(e.data, '{path}'), 0)"
            return f"({length} {'>' if negate else '='} 0)"
        if kind == "value":
            return f"(json_extract(e.data, '{path}') {op})"
        return self.plural_child(chain, f"{{}} {op}")

    def literal(self, attr: Attribute | None, name: str) -> Any:
        kind, text = self.take()
        if kind == "str":
            value: Any = _unquote(text)
        elif kind == "num":
            value = _number(text)
        elif (kind, text) in (("kw", "true"), ("kw", "false")):
            value = text == "true"
        else:
            raise _Bad(f"expected a value after the comparison on {name!r}, found {text!r}")
        atype = attr.type if attr is not None else {"id": "id", "uuid": "uuid"}.get(name, "dateTime")
        return _coerce(value, atype, name)


def _joined(parts: list[_Sql], op: str) -> _Sql:
    """``parts`` joined by ``op``, flat in groups of at most ``_GROUP``, and the nesting cost of the result.

    SQLite's parser stack grows with nested parentheses and pending operators, its expression tree with
    the length of a chain (1,000 deep at most): a flat chain of 1,000 ORs is too deep, a balanced tree
    of them too nested. Groups of groups keep both small, and the optimiser still sees one OR of terms
    (uuid equalities become index lookups).
    """
    if len(parts) == 1:
        return parts[0]
    while len(parts) > 1:
        parts = [(f"({f' {op} '.join(sql for sql, _ in parts[i:i + _GROUP])})",
                  max(cost for _, cost in parts[i:i + _GROUP]) + _COST_JOIN) for i in range(0, len(parts), _GROUP)]
    return parts[0]


def _number(text: str) -> int | float:
    """A numeric literal; integers must fit in 64 bits, as SQLite's do (and ``int()`` of 4,300 digits
    raises), and floats must be finite."""
    if not any(c in text for c in ".eE"):
        if len(text) <= 20 and int(text) in _INT64:
            return int(text)
        raise _Bad(f"the number {text[:24]} is out of range")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Bad(f"the number {text[:24]} is out of range")
    return value


def _coerce(value: Any, atype: str, name: str) -> Any:
    """The literal in the stored form of the attribute's type."""
    if atype == "boolean":
        if isinstance(value, str) and value in ("true", "false"):
            value = value == "true"
        if not isinstance(value, bool):
            raise _Bad(f"{name!r} is a boolean: compare it with true or false")
        return int(value)
    if atype in ("integer", "decimal", "id"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad(f"{name!r} is a number: compare it with a number")
        return value
    if atype == "date":
        day = wire.parse_date(value) if isinstance(value, str) else None
        if day is None:
            raise _Bad(f"{name!r} is a date: compare it with 'YYYY-MM-DD'")
        return day.isoformat()
    if atype == "dateTime":
        moment = wire.parse_datetime(value) if isinstance(value, str) else None
        day = wire.parse_date(value) if moment is None and isinstance(value, str) else None
        if day is not None:  # a date alone means midnight UTC of that day (lastUpdated >= '2016-01-01')
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if moment is None:
            raise _Bad(f"{name!r} is a dateTime: compare it with 'YYYY-MM-DD HH:MM:SS' or 'YYYY-MM-DD'")
        return wire.format_timestamp(moment)[:26]
    if isinstance(value, bool):
        return int(value)
    return value


def _comparable(expr: str) -> str:
    """A stored dateTime as text that compares like the moment: ``YYYY-MM-DD HH:MM:SS.ffffff``.

    Stored values end in `` +0000`` and carry a fraction or none (``18:44:04 +0000`` as supplied,
    ``19:22:52.823252 +0000`` for system timestamps); padding the fraction makes both shapes compare
    right against the literal (which ``_coerce`` cuts to the same 26 characters).
    """
    bare = f"substr({expr}, 1, length({expr}) - 6)"
    return f"substr({bare} || CASE WHEN instr({bare}, '.') THEN '000000' ELSE '.000000' END, 1, 26)"


def filter_error(message: str, request_id: str | None = None) -> CaptureError:
    return capture_error(Code.INVALID_ARGUMENT, f"filter was not valid for the following reason: {message}",
                         argument_name="filter", request_id=request_id)


def compile_filter(text: str, schema: Schema) -> tuple[str, list[Any]]:
    """SQL for a WHERE clause over ``entities AS e`` and its parameters; 200 ``filter`` on any error."""
    if len(text) > MAX_FILTER_LENGTH:
        raise filter_error(f"longer than {MAX_FILTER_LENGTH} characters")
    try:
        parser = _Parser(_tokens(text), schema)
        if not parser.tokens:
            raise _Bad("the filter is empty")
        sql, cost = parser.or_expr()
        if cost > _STACK_BUDGET:
            raise _Bad("the filter is nested too deeply")
        if parser.peek() is not None:
            raise _Bad(f"unexpected {parser.peek()[1]!r} after the end of the expression")  # type: ignore[index]
    except _Bad as exc:
        raise filter_error(str(exc)) from None
    return sql, parser.params


def compile_sort(names: object, schema: Schema) -> str:
    """ORDER BY terms for a ``sort_on`` JSON array (``-attr`` descends); always ends with the id."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise capture_error(Code.INVALID_ARGUMENT, "sort_on must be a JSON array of attribute names",
                            argument_name="sort_on")
    if len(names) > MAX_SORT_TERMS:
        raise capture_error(Code.INVALID_ARGUMENT, f"sort_on has more than {MAX_SORT_TERMS} attributes",
                            argument_name="sort_on")
    terms: list[str] = []
    for raw in names:
        desc = raw.startswith("-")
        name = raw[1:] if desc else raw
        try:
            chain, kind = resolve(schema, name)
        except _Bad as exc:
            raise capture_error(Code.INVALID_ARGUMENT, str(exc), argument_name="sort_on") from None
        if kind in ("plural", "child"):
            raise capture_error(Code.INVALID_ARGUMENT, f"cannot sort on the plural {name!r}",
                                argument_name="sort_on")
        expr = COLUMNS[name] if kind == "column" else f"json_extract(e.data, '{json_path([a.name for a in chain])}')"
        terms.append(f"{expr} {'DESC' if desc else 'ASC'}")
    terms.append("e.id ASC")
    return ", ".join(terms)

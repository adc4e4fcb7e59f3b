"""The text-level half of ``strategies.malformed_json``: one mutation of compact JSON, and seed records.

Kept apart from the public strategies because it works on characters, not on the schema: it finds
strings, keys and member values with one regex pass and breaks the text at a chosen point, so each
example costs a handful of Hypothesis choices. The seed records are valid records built from one
integer, so a malformed example needs one choice for its base instead of dozens (the fuzzers must
produce thousands per second); ``malformed_json(documents=...)`` swaps in Hypothesis-native records.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from loadgen.errors import JSONSyntaxError
from loadgen.schema import Attribute, Schema
from loadgen.wire import MAX_DEPTH, dumps, loads_strict

_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_ESCAPE_TOKEN = re.compile(r"\\u[0-9a-fA-F]{4}|\\.|[^\\]", re.S)
_SCALAR_END = re.compile(r"[^,}\]]*")
_TOKENS: dict[str, tuple[str, ...]] = {
    "nan": ("NaN", "-NaN", "nan", "NAN"),
    "infinity": ("Infinity", "-Infinity", "+Infinity", "inf", "1e999", "-1e999"),
    "hex_number": ("0x1F", "0X0", "-0x1", "0xdeadbeef"),
    "leading_zero": ("007", "00", "-01", "01.5", "+1", ".5", "1.", "1e"),
}
_COMMENTS = ("/* c */", "// c\n", "#c\n", "/**/")
_BAD_ESCAPES = ("\\x41", "\\'", "\\a", "\\0", "\\u12G4", "\\U0041", "\\ ", "\\uZZZZ")
_SURROGATES = ("\\ud800", "\\udc00", "\\uDBFF", "\\ud83d\\u0041")
_GARBAGE = ("x", "}", "]", "{}", "[]", ",", "0", "null", ";", "\x00", " x", '"')
_BAD_UTF8 = (b"\xff", b"\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf5\x80\x80\x80")


class Layout:
    """Where the strings, keys and member values of compact JSON text are (one regex pass)."""

    __slots__ = ("keys", "starts", "strings", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.strings = [m.span() for m in _STRING_RE.finditer(text)]
        self.starts = {a: b for a, b in self.strings}
        self.keys = [(a, b) for a, b in self.strings if text.startswith(":", b)]

    def value_end(self, colon: int) -> int | None:
        """End of the scalar member value after ``colon``; None for a container."""
        start = colon + 1
        if self.text.startswith('"', start):
            return self.starts.get(start)
        if self.text.startswith(("{", "["), start):
            return None
        return _SCALAR_END.match(self.text, start).end()  # type: ignore[union-attr]

    def gaps(self) -> list[tuple[int, int]]:
        """Inclusive ranges of insertion points that are outside every string."""
        out, last = [], 0
        for a, b in self.strings:
            out.append((last, a))
            last = b
        out.append((last, len(self.text)))
        return out

    def outside(self, chars: str) -> list[int]:
        return [i for lo, hi in self.gaps() for i in range(lo, hi) if self.text[i] in chars]


@functools.lru_cache(maxsize=2048)
def layout(text: str) -> Layout:
    """The :class:`Layout` of ``text``, kept: most texts are the same few hundred seed records, whose
    strings need finding once (a Layout is never changed; ``bench/strategies.py`` measures the rate)."""
    return Layout(text)


#: The one integer a mutation draws all its choices from (see ``Dice``).
ROLLS = st.integers(0, 2**48)


class Dice:
    """Every choice of one mutation, read as mixed-radix digits of a single drawn integer.

    One Hypothesis choice instead of three or four keeps generation fast, and 0 still shrinks to the
    first of everything (first string, first position, first token).
    """

    __slots__ = ("roll",)

    def __init__(self, roll: int) -> None:
        self.roll = roll

    def below(self, n: int) -> int:
        self.roll, digit = divmod(self.roll, n)
        return digit

    def pick(self, items: Sequence[Any]) -> Any:
        return items[self.below(len(items))]


def _outside_point(dice: Dice, lay: Layout) -> int:
    lo, hi = dice.pick(lay.gaps())
    return int(lo + dice.below(hi - lo + 1))


def _inside_point(dice: Dice, lay: Layout) -> int:
    a, b = dice.pick(lay.strings)
    points = [a + 1] + [m.end() for m in _ESCAPE_TOKEN.finditer(lay.text, a + 1, b - 1)]
    return int(dice.pick(points))


def _insert(text: str, at: int, piece: str) -> str:
    return text[:at] + piece + text[at:]


def _substitute(dice: Dice, lay: Layout, token: str, fallback_key: str) -> str:
    """Replace a scalar member value with ``token``, or add a member holding it."""
    text = lay.text
    spans = [(b + 1, end) for _, b in lay.keys if (end := lay.value_end(b)) is not None]
    if spans:
        start, end = dice.pick(spans)
        return text[:start] + token + text[end:]
    brace = text.index("{")
    sep = "" if text.startswith("}", brace + 1) else ","
    return _insert(text, brace + 1, f'"{fallback_key}":{token}{sep}')


_Mutation = Callable[[Dice, Layout, str], "str | bytes"]


def _dropped_quote(dice: Dice, lay: Layout, key: str) -> str:
    a, b = dice.pick(lay.strings)
    at = b - 1 if dice.below(2) else a
    return lay.text[:at] + lay.text[at + 1:]


def _single_quotes(dice: Dice, lay: Layout, key: str) -> str:
    a, b = dice.pick(lay.strings)
    text = lay.text
    return f"{text[:a]}'{text[a + 1:b - 1]}'{text[b:]}"


def _unquoted_key(dice: Dice, lay: Layout, key: str) -> str:
    a, b = dice.pick(lay.keys)
    return lay.text[:a] + lay.text[a + 1:b - 1] + lay.text[b:]


def _doubled_comma(dice: Dice, lay: Layout, key: str) -> str:
    commas = lay.outside(",")
    return _insert(lay.text, dice.pick(commas), ",") if commas else _insert(lay.text, len(lay.text) - 1, ",,")


def _missing_colon(dice: Dice, lay: Layout, key: str) -> str:
    at = dice.pick(lay.outside(":"))
    return lay.text[:at] + lay.text[at + 1:]


def _deep_nesting(dice: Dice, lay: Layout, key: str) -> str:
    depth = MAX_DEPTH + 1 + dice.below(3 * MAX_DEPTH)
    return _substitute(dice, lay, "[" * depth + "0" + "]" * depth, key)


def _duplicate_key(dice: Dice, lay: Layout, key: str) -> str:
    a, b = dice.pick(lay.keys)
    end = lay.value_end(b)
    member = lay.text[a:end] if end is not None else lay.text[a:b] + ":null"
    return _insert(lay.text, a, member + ",")


def _invalid_utf8(dice: Dice, lay: Layout, key: str) -> bytes:
    """Raw bytes that no UTF-8 decoder accepts, anywhere in the document."""
    at = dice.below(len(lay.text) + 1)
    return lay.text[:at].encode() + bytes(dice.pick(_BAD_UTF8)) + lay.text[at:].encode()


def _token(kind: str) -> _Mutation:
    def substitute(dice: Dice, lay: Layout, key: str) -> str:
        return _substitute(dice, lay, dice.pick(_TOKENS[kind]), key)
    return substitute


#: Every mutation kind, each a small function of (dice, layout of the valid text, fallback key). The
#: order is ``strategies.MALFORMED_KINDS``'s, which is drawn from it.
MUTATIONS: dict[str, _Mutation] = {
    "empty": lambda dice, lay, key: "",
    "whitespace": lambda dice, lay, key: "".join(dice.pick(" \t\r\n") for _ in range(1 + dice.below(12))),
    "truncated": lambda dice, lay, key: lay.text[: dice.below(len(lay.text))],
    "unbalanced": lambda dice, lay, key: _insert(lay.text, _outside_point(dice, lay), dice.pick("{}[]")),
    "dropped_quote": _dropped_quote,
    "single_quotes": _single_quotes,
    "unquoted_key": _unquoted_key,
    "trailing_comma": lambda dice, lay, key: _insert(lay.text, dice.pick(lay.outside("}]")), ","),
    "doubled_comma": _doubled_comma,
    "missing_colon": _missing_colon,
    **{kind: _token(kind) for kind in _TOKENS},
    "comment": lambda dice, lay, key: _insert(lay.text, _outside_point(dice, lay), dice.pick(_COMMENTS)),
    "control_char": lambda dice, lay, key: _insert(lay.text, _inside_point(dice, lay), chr(dice.below(32))),
    "invalid_escape": lambda dice, lay, key: _insert(lay.text, _inside_point(dice, lay), dice.pick(_BAD_ESCAPES)),
    "lone_surrogate": lambda dice, lay, key: _insert(lay.text, _inside_point(dice, lay), dice.pick(_SURROGATES)),
    "bom": lambda dice, lay, key: "\ufeff" + lay.text,
    "trailing_garbage": lambda dice, lay, key: lay.text + str(dice.pick(_GARBAGE)),
    "deep_nesting": _deep_nesting,
    "duplicate_key": _duplicate_key,
    "invalid_utf8": _invalid_utf8,
}


def mutate(dice: Dice, kind: str, lay: Layout, key: str) -> str | bytes:
    """Apply one mutation kind to the valid compact JSON laid out in ``lay`` (it holds a key)."""
    return MUTATIONS[kind](dice, lay, key)


def unparseable(data: str | bytes) -> bool:
    try:
        loads_strict(data)
    except JSONSyntaxError:
        return True
    return False




# -- seed records ----------------------------------------------------------------------------------

#: Seed records per schema; seed 0 is the simplest (one attribute), so examples shrink toward it.
SEEDS = 512

_TEXT = ("Abe", "Sally", "Jones", "O'Brien", "Zoë-Ann", "José", "李小龍", "Øyvind", 'Jo "JJ" Smith',
         "back\\slash", "Ünïcödé Straße", "a/b", "🙂 emoji")
_LETTERS = ("Abe", "Sally", "José", "Zoë", "李小龍", "Øyvind", "Straße")
_PLAIN = (*_TEXT, "tab\there", "new\nline", "nul\u0000byte", "\u2028sep")


def _sample(attr: Attribute, rnd: random.Random, seq: int) -> Any:
    """A valid value of ``attr`` from small realistic tables (the schema validator is the judge in tests)."""
    kind, cons = attr.type, attr.constraints
    if attr.is_object:
        return {a.name: _sample(a, rnd, seq) for a in _pick_attrs(attr.attrs, rnd, 3)}
    if attr.is_plural:
        return [{a.name: _sample(a, rnd, i) for a in _pick_attrs(attr.attrs, rnd, 2)} for i in range(rnd.randint(0, 2))]
    if attr.is_password:
        return "s3cret-" + str(seq)
    if kind == "string":
        if "email-address" in cons or attr.name.lower() == "email":  # the real email is a plain unique string
            local = rnd.choice(("abe", "sally.jones", "o.brien", "x_1"))
            text = f"{local}{seq}@{rnd.choice(('example.com', 'test.org'))}"
        elif "alphabetic" in cons or "alphanumeric" in cons:
            text = rnd.choice(("Abe", "Sally", "Jones")) + ("" if "alphabetic" in cons else str(seq))
        elif "unicode-letters" in cons:
            text = rnd.choice(_LETTERS)
        else:
            text = rnd.choice(_TEXT if "unicode-printable" in cons else _PLAIN)
        if "locally-unique" in cons:
            text = f"{text}{seq}"
        return text[: attr.length] if attr.length else text
    if kind == "boolean":
        return rnd.choice((True, False, "true"))
    if kind in ("integer", "decimal"):
        return rnd.randint(-(10**6), 10**6) if kind == "integer" else rnd.choice((0.5, -1.25, 3, 1e-7, 12.0))
    if kind == "date":
        return f"{rnd.randint(1900, 2020)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    if kind == "dateTime":
        stamp = f"{rnd.randint(1970, 2030)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T07:36:25"
        return stamp + rnd.choice(("Z", ".123456+02:00", ""))
    if kind == "ipAddress":
        return ".".join(str(rnd.randint(0, 255)) for _ in range(4))
    return {"k": [1, "x", None, True], "n": rnd.randint(0, 9)}  # json


def _pick_attrs(attrs: tuple[Attribute, ...], rnd: random.Random, most: int) -> list[Attribute]:
    writable = [a for a in attrs if not a.is_system and a.type not in ("id", "uuid")]
    required = [a for a in writable if a.required]
    optional = [a for a in writable if not a.required]
    return required + rnd.sample(optional, min(len(optional), rnd.randint(1, most)))


#: The one choice that picks a seed record (0, the simplest, is where a shrunk example ends).
SEED_NUMBERS = st.integers(0, SEEDS - 1)


@functools.lru_cache(maxsize=4 * SEEDS)
def seed_text(schema: Schema, seed: int) -> str:
    """Compact JSON of valid record number ``seed``: the unique attributes (the email) plus 0 to 4 others."""
    rnd = random.Random(seed)
    writable = [a for a in schema.attributes if not a.is_system and a.type not in ("id", "uuid")]
    first = [a for a in writable if a.required or a.unique] or writable[:1]
    rest = [a for a in writable if a not in first]
    chosen = first + rnd.sample(rest, min(len(rest), seed % 5))
    return dumps({a.name: _sample(a, rnd, seed) for a in chosen})

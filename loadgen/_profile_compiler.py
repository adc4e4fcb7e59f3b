"""Compiling an entity-type schema into one generator closure per attribute, for ``ProfileFactory``.

Generators are picked by attribute name (``givenName``, ``zip``...) and else by type and constraints,
then made to honour ``required`` and ``length``; the profile file's fixed values, omissions and plural
sizes are checked against the schema here. Every generator is a closure over the factory's persona and
``random()``, and each object becomes one generated function, so the hot path holds no lookups by
name. Private to ``loadgen.profiles``.

Imports run one way, ``profiles`` -> ``_compile``: the compiler sees the factory only through the
``Factory`` protocol below (the state its closures read and advance at run time, which changes when a
forked child re-namespaces itself), so it never needs the ``ProfileFactory`` class.
"""

from __future__ import annotations

import random
import re
import uuid
from bisect import bisect
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from itertools import accumulate
from typing import Any, Final, Protocol

import orjson

from loadgen._fast.builder import Gen, Slot, builder
from loadgen._fast.csv_rows import row_builder
from loadgen._pools import DIGITS, Clock, LocalePool
from loadgen.errors import UsageError
from loadgen.schema import Attribute, Schema, validate
from loadgen.wire import form_escape_reserved, form_plain, form_ready

DEFAULT_PLURALS: Final[Mapping[str, tuple[int, int]]] = {
    "statuses": (1, 3), "photos": (0, 2), "clients": (0, 2), "profiles": (0, 0),
}
#: Size range of a plural that the profile file does not mention.
PLURAL_SIZE: Final = (0, 2)

SKIP: Final = object()  # a generator's "leave this attribute out of this profile"
_SEQ_DIGITS = 12  # room kept in an email for the sequence number
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_B26 = "abcdefghijklmnopqrstuvwxyz"



def dotted(path: str) -> str:
    """``/primaryAddress/zip`` or ``primaryAddress.zip`` -> ``primaryAddress.zip``."""
    return path.strip("/").replace("/", ".")


Slots = list[Slot]
_PHOTO_TYPES = ("small", "normal", "large", "square")
_CLIENTS = (("k3xn2vd8q4tfm9w7c6hbr5yj2p8zs4ea", "Web"), ("f7m2q9tk4wz8d3nr6bvx5hc2jy8pe4ua", "iOS app"),
            ("p4d8w2zn7kq3x9fm5rc6tbv2hy8ej4sa", "Android app"), ("b9t4m7xq2wd8k3nz6fr5vc2hj8ye4pa", "Support desk"))
_TEST_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")  # RFC 5737 documentation ranges
_UTC_OFFSETS = ("+00:00", "+01:00", "+02:00", "-05:00", "-08:00", "+05:30", "+09:00")
_SOCIAL_TYPES = {"emails": ("home", "work", "other"), "phonenumbers": ("mobile", "home", "work"),
                 "urls": ("profile", "blog", "website"), "ims": ("xmpp", "skype", "aim"),
                 "addresses": ("home", "work"), "organizations": ("job", "school")}
_WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fable", "grove", "harbor", "indigo", "juniper",
          "kelp", "lumen", "maple", "nectar", "opal", "pebble", "quill", "raven", "sable", "tundra")


class Persona:
    """The person behind the profile being made: names, email, address and phone share ``pool``.

    ``lo``/``width``/``elem``/``rot`` describe the plural element being made (its time slot, index and
    a per-plural rotation that keeps locally-unique picks distinct).
    """

    __slots__ = ("city", "elem", "first", "first_slug", "gender", "last", "last_slug", "lo", "male",
                 "pool", "rot", "signup", "width")

    def __init__(self, pool: LocalePool) -> None:
        self.pool = pool
        self.male = True
        self.gender = self.first = self.last = self.first_slug = self.last_slug = self.city = ""
        self.signup = self.lo = self.width = self.elem = self.rot = 0


class ProfileSettings(Protocol):
    """The parts of a ``loadgen.profiles.Profile`` (the profile file) the compiler reads."""

    @property
    def plurals(self) -> Mapping[str, tuple[int, int]]: ...
    @property
    def statuses(self) -> Mapping[str, float]: ...
    @property
    def email_domains(self) -> tuple[str, ...]: ...
    @property
    def fixed(self) -> Mapping[str, Any]: ...
    @property
    def omit(self) -> frozenset[str]: ...
    @property
    def source(self) -> str: ...


class Factory(Protocol):
    """The state of a ``ProfileFactory`` that the generated closures read and advance while it runs."""

    schema: Schema
    form_ready: bool
    _p: Persona
    _rng: random.Random
    _pools: tuple[LocalePool, ...]
    _clock: Clock
    _ns: str
    _seq: int
    _unique_base: int

    @property
    def profile(self) -> ProfileSettings: ...
    def _rnd(self) -> float: ...
    def _next_seq(self) -> int: ...
    def _unique_int(self) -> int: ...


class Compiler:
    """Turns a schema into one generator closure per attribute (run once, when a factory is built).

    A string attribute gets, in order: an email if it must be one; a namespaced token if it must be
    unique; the generator its name calls for (``givenName``, ``zip``...); else one by type and
    constraints. Then it is made to honour the constraints, ``required`` and ``length``.
    """

    def __init__(self, fac: Factory) -> None:
        self.fac, self.p, self.rnd, self.pools = fac, fac._p, fac._rnd, fac._pools
        self.clock = fac._clock
        self.source = fac.profile.source
        # a form-ready factory's text (wire.form_ready): its pools hold such text already; the profile
        # file's texts and every text written here are made so, and lengths are measured on the plain text
        self.ready = fac.form_ready
        self.text: Callable[[str], str] = form_ready if self.ready else str
        self.fixed: dict[str, Any] = {}
        self._resolve_fixed(fac.profile.fixed, "")
        for path in fac.profile.omit:
            attr = self._find(path, "omit")
            if attr.required:
                raise UsageError(f"{self.source}: omit: {path} is required by the schema")
        for path in fac.profile.plurals:
            plural = fac.schema.find("/" + path.replace(".", "/"))
            if (plural is None and path not in DEFAULT_PLURALS) or (plural is not None and not plural.is_plural):
                raise UsageError(f"{self.source}: plurals.{path}: no plural attribute of that name in the schema")
        self.optional: set[Gen] = set()  # generators that may return SKIP (leave the key out)
        self._children: dict[Gen, Slots] = {}  # an object's builder -> its attributes' slots
        self.strings = self._string_table()

    def record(self) -> Slots:
        return self._slots(self.fac.schema.attributes, None)

    def columns(self, slots: Slots) -> tuple[list[str], Gen]:
        """The CSV columns of a record's ``slots`` by name, and the function that makes a profile's row of
        them (``loadgen._fast.csv_rows``): an object's attributes in place of the object (one level: an
        object within an object is one cell), ``""`` for an attribute left out."""
        flat: Slots = []
        for key, gen, optional in slots:
            inner = self._children.get(gen)
            flat += ([(f"{key}.{child}", g, opt) for child, g, opt in inner] if inner is not None
                     else [(key, gen, optional)])
        return ([name for name, _, _ in flat],
                row_builder([(None if gen is _never else gen, optional) for _, gen, optional in flat], SKIP))

    def _find(self, dotted: str, section: str) -> Attribute:
        attr = self.fac.schema.find("/" + dotted.replace(".", "/"))
        if attr is None or attr.is_system:
            raise UsageError(f"{self.source}: {section}: no attribute {dotted!r} in entity type "
                             f"{self.fac.schema.name!r}")
        return attr

    def _resolve_fixed(self, table: Mapping[str, Any], prefix: str) -> None:
        for key, value in table.items():
            path = f"{prefix}{dotted(key)}"
            attr = self._find(path, "fixed")
            if attr.is_object and isinstance(value, Mapping):
                self._resolve_fixed(value, path + ".")
            else:
                self.fixed[attr.path] = self._check_fixed(attr, value)

    def _check_fixed(self, attr: Attribute, value: Any) -> Any:
        """A fixed value, proven valid by the schema's own validator."""
        where = f"{self.source}: fixed.{dotted(attr.path)}"
        if attr.unique:
            raise UsageError(f"{where}: a unique attribute cannot have a fixed value")
        value = _plain(value)
        record: Any = value
        for name in reversed(attr.path.strip("/").split("/")):
            record = {name: record}
        for v in validate(record, self.fac.schema, partial=True):
            if v.path == attr.path or v.path.startswith(attr.path + "/"):
                raise UsageError(f"{where}: {v.message} (got {value!r})")
        return value

    def _slots(self, attrs: tuple[Attribute, ...], parent: Attribute | None) -> Slots:
        in_plural = parent is not None and parent.is_plural
        times = [a for a in attrs if in_plural and a.type == "dateTime"]
        slots: Slots = []
        for a in attrs:
            if a.is_system or dotted(a.path) in self.fac.profile.omit:
                continue
            if a.path in self.fixed:
                value = self.fixed[a.path]
                gen = _constant(_form_ready_value(value) if self.ready else value)
            elif a.is_object:
                children = self._slots(a.attrs, a)
                gen = build_object(children)
                self._children[gen] = children
            elif a.is_plural:
                if self.fac.profile.plurals.get(dotted(a.path), PLURAL_SIZE)[1] == 0 and not a.required:
                    gen = _never  # always empty: left out (Capture stores an absent plural as [] anyway)
                    self.optional.add(gen)
                else:
                    gen = self._plural(a, self._slots(a.attrs, a))
            elif a in times:
                gen = self._element_time(times.index(a), len(times))
            elif a.type == "string":
                gen = self._string(a, parent)
            else:
                gen = self._typed(a)
            slots.append((self.text(a.name), gen, gen in self.optional))
        return slots

    def _plural(self, a: Attribute, slots: Slots) -> Gen:
        lo, hi = self.fac.profile.plurals.get(dotted(a.path), PLURAL_SIZE)
        sizes, rnd, p, span = hi - lo + 1, self.rnd, self.p, self.clock.span

        element = build_object(slots)
        empty: Any = [] if a.required else SKIP  # Capture stores an absent plural as [] anyway

        def plural() -> Any:
            n = lo + int(rnd() * sizes)
            if not n:
                return empty
            start = p.signup
            width = p.width = (span - start) // n
            p.rot = int(rnd() * 1024)
            out = []
            for i in range(n):
                p.elem, p.lo = i, start + i * width
                out.append(element())
            return out
        if lo == 0 and not a.required:
            self.optional.add(plural)
        return plural

    def _max_size(self, a: Attribute | None) -> int:
        return self.fac.profile.plurals.get(dotted(a.path), PLURAL_SIZE)[1] if a is not None else 1

    def _element_time(self, j: int, m: int) -> Gen:
        """The j-th of m dateTimes of a plural element: ascending within the element and across elements."""
        rnd, p, days, minutes, seconds = self.rnd, self.p, self.clock.days, self.clock.minutes, self.clock.seconds

        def element_time() -> str:  # Clock.timestamp inlined: six of these per profile
            day, sec = divmod(p.lo + int((j + rnd()) * p.width / m), 86400)
            return days[day] + minutes[sec // 60] + seconds[sec % 60]
        return element_time

    def _string(self, a: Attribute, parent: Attribute | None) -> Gen:
        cons, key = a.constraints, a.name.lower()
        context = f"{parent.name.lower()}.{key}" if parent is not None else key
        if "email-address" in cons or key in ("email", "emailaddress", "verifiedemail"):
            return self._email(a)
        letters = bool(cons & {"alphabetic", "unicode-letters"})
        few_clients = context == "clients.clientid" and self._max_size(parent) <= len(_CLIENTS)
        if a.unique or ("locally-unique" in cons and not few_clients):
            return self._token(a, _B26 if letters else _B36)
        named = self.strings.get(context) or self.strings.get(key)
        gen, longest = named if named is not None else self._typed_string(a)
        skips = gen in self.optional
        if named is not None and cons & {"alphabetic", "alphanumeric", "unicode-letters"}:
            gen = _filtered(gen, cons, self._typed_string(a)[0], self.ready)
        if a.required and skips:
            gen, skips = _or_else(gen, self._typed_string(a)[0]), False
        if a.length is not None and (longest is None or longest > a.length):
            gen = _clipped(gen, a.length, self.ready)
        if skips:
            self.optional.add(gen)
        return gen

    def _typed_string(self, a: Attribute) -> tuple[Gen, int | None]:
        rnd, p, cons = self.rnd, self.p, a.constraints
        if cons & {"alphabetic", "unicode-letters"}:
            return (lambda: _WORDS[int(rnd() * len(_WORDS))]), 7
        if "alphanumeric" in cons:
            return (lambda: _WORDS[int(rnd() * len(_WORDS))] + DIGITS[2][int(rnd() * 100)]), 9
        return (lambda: p.pool.sentences[int(rnd() * len(p.pool.sentences))]), None

    def _email(self, a: Attribute) -> Gen:
        """Emails from the persona's ASCII names plus the namespace, on a reserved test domain."""
        fac, rnd, p = self.fac, self.rnd, self.p
        domains = fac.profile.email_domains
        cap = 64 if a.length is None else min(64, a.length - 1 - max(map(len, domains)))
        if cap < len(fac._ns) + 2 + _SEQ_DIGITS + 8:  # room for namespace, sequence and a forked pid
            raise UsageError(f"attribute {a.path}: length {a.length} is too short for unique emails")

        def email() -> str:
            seq = fac._seq
            fac._seq = seq + 1
            ns = fac._ns
            room = max(cap - len(ns) - 2 - len(str(seq)), 0)
            r = rnd()
            first, last = p.first_slug, p.last_slug
            name = f"{first}.{last}" if r < 0.55 else (first + last if r < 0.8 else first[:1] + last)
            if len(name) > room:
                name = name[:room]
            name = name.strip(".")
            domain = domains[int(rnd() * len(domains))]
            return f"{name}.{ns}-{seq}@{domain}" if name else f"{ns}-{seq}@{domain}"
        return email

    def _token(self, a: Attribute, alphabet: str) -> Gen:
        """Unique text: the namespace (run, worker) and the sequence number, in base ``len(alphabet)``."""
        fac = self.fac
        base = len(alphabet)
        width = 1
        while base**width < 2**100:  # 40 bits of run, 20 of worker, 40 of sequence
            width += 1
        if a.length is not None and a.length < width:
            raise UsageError(f"attribute {a.path}: length {a.length} is too short for unique values")

        def token() -> str:
            n = fac._unique_base | fac._next_seq()
            out = []
            while True:
                n, r = divmod(n, base)
                out.append(alphabet[r])
                if not n:
                    return "".join(reversed(out))
        return token

    def _typed(self, a: Attribute) -> Gen:
        rnd, p, clk, kind, key = self.rnd, self.p, self.clock, a.type, a.name.lower()
        rng, fac = self.fac._rng, self.fac
        if kind == "date":
            table = clk.birthdays if "birth" in key or key == "dob" else tuple(d[:-1] for d in clk.days)
            return lambda: table[int(rnd() * len(table))]
        if kind == "dateTime":
            if "birth" in key:
                return lambda: clk.birthdays[int(rnd() * len(clk.birthdays))] + "T00:00:00Z"
            if key in ("emailverified", "verified"):
                return lambda: clk.timestamp(p.signup + int(rnd() * 3 * 86400))
            return lambda: clk.timestamp(p.signup + int(rnd() * (clk.span - p.signup)))
        if kind == "boolean":
            return lambda: rnd() < 0.5
        if kind == "integer":
            return fac._unique_int if a.unique else (lambda: int(rnd() * 1_000_000))
        if kind == "decimal":
            return lambda: round(rnd() * 10_000, 2)
        if kind == "ipAddress":
            return lambda: f"{_TEST_NETS[int(rnd() * 3)]}{int(rnd() * 254) + 1}"
        if kind == "json":
            return lambda: {"source": "capture-loadgen", "n": int(rnd() * 1000)}
        if kind == "uuid":
            return lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return lambda: f"Lg-{rng.getrandbits(64):016x}"  # password-*: clear text, the server hashes it

    def _string_table(self) -> dict[str, tuple[Gen, int | None]]:
        """Generators picked by attribute name (lower case; ``parent.name`` wins over ``name``)."""
        rnd, p, pools, fac = self.rnd, self.p, self.pools, self.fac
        plain = form_plain if self.ready else str

        def most(values: Callable[[LocalePool], Iterable[str]]) -> int:
            return max(max((len(plain(v)) for v in values(q)), default=0) for q in pools)

        def pick(values: tuple[str, ...]) -> str:
            return values[int(rnd() * len(values))]

        def middle() -> Any:
            pool = p.pool
            table = pool.middle_male if p.male else pool.middle_female
            if table is None:
                if pool.family_first or rnd() >= 0.3:
                    return SKIP
                table = pool.first_male if p.male else pool.first_female
            return table.names[table.index(rnd())]

        space, comma = self.text(" "), self.text(", ")

        def display() -> str:
            pool = p.pool
            return f"{p.last}{pool.name_sep}{p.first}" if pool.family_first else f"{p.first}{space}{p.last}"

        def address2() -> Any:
            sec = p.pool.secondary
            return pick(sec) if sec and rnd() < 0.25 else SKIP

        def state() -> Any:
            return pick(p.pool.states) if p.pool.states else SKIP

        def company() -> Any:
            return pick(p.pool.companies) if rnd() < 0.4 else SKIP

        def zip4() -> Any:
            return DIGITS[4][int(rnd() * 10_000)] if p.pool.locale == "en_US" else SKIP

        self.optional.update({middle, address2, state, company, zip4})
        statuses, cw = tuple(map(self.text, fac.profile.statuses)), tuple(accumulate(fac.profile.statuses.values()))
        names = most(lambda q: q.first_male.names + q.first_female.names)
        lasts = most(lambda q: q.last_male.names + q.last_female.names)
        def phone_number() -> str:  # a locale phone format, its last digits redrawn (inline: hot path)
            phones = p.pool.phones
            t = phones[int(rnd() * len(phones))]
            digits = DIGITS[t.width]
            return t.head + digits[int(rnd() * len(digits))] + t.tail

        clients, offsets = tuple(self.text(name) for _, name in _CLIENTS), tuple(map(self.text, _UTC_OFFSETS))
        phone = (phone_number, most(lambda q: (t.head + "0" * t.width + t.tail for t in q.phones)))
        street = (lambda: p.pool.street(rnd(), rnd()),
                  most(lambda q: q.streets) + most(lambda q: q.buildings))
        table: dict[str, tuple[Gen, int | None]] = {
            "givenname": ((lambda: p.first), names), "familyname": ((lambda: p.last), lasts),
            "middlename": (middle, most(lambda q: (q.middle_male.names if q.middle_male else ()) + q.first_male.names
                                        + (q.middle_female.names if q.middle_female else ()) + q.first_female.names)),
            "displayname": (display, names + lasts + 1), "gender": ((lambda: p.gender), 6),
            "phone": phone, "mobile": phone, "address1": street, "address2": (address2, most(lambda q: q.secondary)),
            "city": ((lambda: p.city), most(lambda q: q.cities)),
            "stateabbreviation": (state, most(lambda q: q.states)),
            "zip": ((lambda: (v := p.pool.postcodes)[int(rnd() * len(v))]), most(lambda q: q.postcodes)),
            "zipplus4": (zip4, 4),
            "country": ((lambda: p.pool.country), most(lambda q: (q.country,))),
            "company": (company, most(lambda q: q.companies)),
            "aboutme": ((lambda: (v := p.pool.sentences)[int(rnd() * len(v))]), most(lambda q: q.sentences)),
            "currentlocation": ((lambda: f"{p.city}{comma}{p.pool.country}"),
                                most(lambda q: q.cities) + 2 + most(lambda q: (q.country,))),
            "statuses.status": ((lambda: statuses[bisect(cw, rnd() * cw[-1])]), max(map(len, fac.profile.statuses))),
            "photos.type": ((lambda: _PHOTO_TYPES[(p.rot + p.elem) % 4]), 6),
            "photos.value": ((lambda: f"https://example.com/photos/{fac._rng.getrandbits(48):012x}.jpg"), 48),
            "clients.clientid": ((lambda: _CLIENTS[(p.rot + p.elem) % 4][0]), 32),
            "clients.name": ((lambda: clients[(p.rot + p.elem) % 4]), 12),
            "domain": ((lambda: "example.com"), 11), "provider": ((lambda: "Example"), 7),
            "preferredusername": ((lambda: f"{p.first_slug}{p.last_slug[:1]}{DIGITS[2][int(rnd() * 100)]}"), None),
            "url": ((lambda: f"https://example.com/people/{p.first_slug}-{p.last_slug}"), None),
            # the social profile of the classic schema's `profiles` plural (Portable Contacts names)
            "name.formatted": (display, names + lasts + 1), "nickname": ((lambda: p.first), names),
            "emails.value": ((lambda: f"{p.first_slug}.{p.last_slug}@{fac.profile.email_domains[0]}"), None),
            "phonenumbers.value": phone,
            "birthday": ((lambda: (v := self.clock.birthdays)[int(rnd() * len(v))]), 10),  # a string birthday
            "utcoffset": ((lambda: offsets[int(rnd() * len(offsets))]), 6),
        }

        def rotating(kinds: tuple[str, ...]) -> Gen:  # distinct across a plural's first elements
            return lambda: kinds[(p.rot + p.elem) % len(kinds)]

        for plural, kinds in _SOCIAL_TYPES.items():
            table[f"{plural}.type"] = (rotating(kinds), max(map(len, kinds)))
        aliases = {"firstname": "givenname", "lastname": "familyname", "surname": "familyname",
                   "name": "displayname", "fullname": "displayname", "phonenumber": "phone", "street": "address1",
                   "streetaddress": "address1", "state": "stateabbreviation", "postalcode": "zip",
                   "postcode": "zip", "zipcode": "zip", "location": "currentlocation", "bio": "aboutme",
                   "username": "preferredusername", "website": "url", "urls.value": "url", "locality": "city"}
        table.update({alias: table[target] for alias, target in aliases.items()})
        return table


def _constant(value: Any) -> Gen:
    if isinstance(value, dict | list):
        return lambda: _mapped(value)  # a caller may change one profile without changing the next
    return lambda: value


def _mapped(value: Any, leaf: Callable[[Any], Any] = lambda v: v, key: Callable[[Any], Any] = lambda k: k) -> Any:
    """A new copy of a value's dicts and lists, ``leaf`` applied to everything else and ``key`` to keys."""
    if isinstance(value, list):
        return [_mapped(v, leaf, key) for v in value]
    if isinstance(value, dict):
        return {key(k): _mapped(v, leaf, key) for k, v in value.items()}
    return leaf(value)


def _form_ready_value(value: Any) -> Any:
    """A fixed value for a form-ready factory: each text in it ``wire.form_ready``, keys too, and a float
    whose JSON holds a ``+`` (1e16 and up) as that JSON escaped, a fragment orjson writes as it is."""
    return _mapped(value, _form_ready_leaf, _form_ready_leaf)


def _form_ready_leaf(value: Any) -> Any:
    if isinstance(value, str):
        return form_ready(value)
    if isinstance(value, float) and b"+" in (number := orjson.dumps(value)):
        return orjson.Fragment(form_escape_reserved(number))
    return value  # any other key is refused by orjson, as in the plain profile


def _never() -> Any:
    """The generator of an attribute that is always left out (``build_object`` emits no code for it)."""
    return SKIP


def build_object(slots: Slots) -> Gen:
    """One function that builds the whole dict (generated code: ``loadgen._fast.builder``); an attribute
    that is always left out costs nothing."""
    return builder([slot for slot in slots if slot[1] is not _never], SKIP)


def _or_else(gen: Gen, fallback: Gen) -> Gen:
    """A required attribute: when the named generator would leave it out, use the typed one."""
    return lambda: v if (v := gen()) is not SKIP else fallback()


def _clipped(gen: Gen, length: int, ready: bool) -> Gen:
    """``gen``'s text cut to ``length`` letters (of its plain text, for a form-ready factory)."""
    if ready:
        return lambda: v if (v := gen()) is SKIP else form_ready(form_plain(v)[:length])
    return lambda: v if (v := gen()) is SKIP else v[:length]


_NOT_ASCII_LETTER = re.compile(r"[^A-Za-z]+")
_NOT_ASCII_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def _filtered(gen: Gen, constraints: frozenset[str], fallback: Gen, ready: bool) -> Gen:
    """A named generator made to satisfy alphabetic / alphanumeric / unicode-letters (rare, so not fast;
    a form-ready factory's text is filtered as plain text)."""
    from faker.decode import unidecode

    def keep(v: str) -> str:
        if "alphabetic" in constraints:
            return _NOT_ASCII_LETTER.sub("", unidecode(v))
        if "alphanumeric" in constraints:
            return _NOT_ASCII_ALNUM.sub("", unidecode(v))
        return "".join(c for c in v if c.isalpha())

    def filtered() -> Any:
        v = gen()
        if v is SKIP:
            return v
        return (form_ready(keep(form_plain(v))) if ready else keep(v)) or fallback()
    return filtered


def _plain(value: Any) -> Any:
    """TOML dates and times as the ISO text Capture accepts."""
    return _mapped(value, _plain_leaf)


def _plain_leaf(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value

"""Precomputed sampling tables: per-locale pools read once from Faker, and date texts per anchor day.

Naive Faker spends 27-40 µs per weighted name (it rebuilds the weight table on every call), so the
profile factory never calls Faker per profile. Instead each locale is read once into plain tuples:
names with cumulative-weight tables (sampled by ``bisect``), street templates, cities, postcodes and
phone templates (sampled by index). The pools are built from a Faker generator seeded with a fixed
value, so they are identical in every process and a run stays reproducible. They are cached at
module level: a forked Locust worker inherits them and a second factory costs nothing.
"""

from __future__ import annotations

import re
from bisect import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from functools import cache
from itertools import accumulate
from typing import Any

from loadgen.errors import UsageError
from loadgen.wire import form_ready

#: How many values of each generated kind (streets, cities...) a locale pool holds.
POOL_SIZE = 400

#: How far back sign-ups, statuses and logins go, in days before the anchor day.
HISTORY_DAYS = 5 * 365

#: Fixed seed of the Faker generator that fills the pools (never the run's seed: pools are shared).
_POOL_SEED = 20130823

#: Placeholder for the building number inside a street template.
_BUILDING = "\x00"

#: ``DIGITS[n][i]`` is ``i`` written with ``n`` digits: phone tails cost one index instead of a format call.
DIGITS: tuple[tuple[str, ...], ...] = (("",), *(tuple(f"{i:0{n}d}" for i in range(10**n)) for n in range(1, 5)))

_NON_SLUG = re.compile(r"[^a-z0-9]+")

#: Languages that write the family name first, and those that write it without a space.
_FAMILY_FIRST = frozenset({"ja", "zh", "ko", "hu", "vi"})
_NO_SPACE = frozenset({"zh", "ko"})


@dataclass(frozen=True, slots=True)
class NameTable:
    """Names with their ASCII slugs (for emails) and, when Faker has frequencies, cumulative weights."""

    names: tuple[str, ...]
    slugs: tuple[str, ...]
    cum_weights: tuple[float, ...] | None

    def index(self, r: float) -> int:
        """The index picked by a uniform ``r`` in [0, 1), honouring frequency weights."""
        cw = self.cum_weights
        if cw is None:
            return int(r * len(self.names))
        return bisect(cw, r * cw[-1])


@dataclass(frozen=True, slots=True)
class PhoneTemplate:
    """A phone number split around its last run of digits, which is redrawn for every profile."""

    head: str
    width: int
    tail: str


@dataclass(frozen=True, slots=True)
class LocalePool:
    """Everything a profile of one locale is drawn from."""

    locale: str
    family_first: bool
    name_sep: str
    first_male: NameTable
    first_female: NameTable
    last_male: NameTable
    last_female: NameTable
    middle_male: NameTable | None
    middle_female: NameTable | None
    streets: tuple[str, ...]
    buildings: tuple[str, ...]
    secondary: tuple[str, ...]
    cities: tuple[str, ...]
    states: tuple[str, ...]
    postcodes: tuple[str, ...]
    phones: tuple[PhoneTemplate, ...]
    companies: tuple[str, ...]
    sentences: tuple[str, ...]
    country: str

    def street(self, r1: float, r2: float) -> str:
        """A street address line: a street template with a building number put in."""
        street = self.streets[int(r1 * len(self.streets))]
        if _BUILDING in street:
            return street.replace(_BUILDING, self.buildings[int(r2 * len(self.buildings))])
        return street


def available_locales() -> frozenset[str]:
    """Locales Faker knows (the profile file may name only these)."""
    from faker.config import AVAILABLE_LOCALES

    return frozenset(AVAILABLE_LOCALES)


def slugify(text: str, replacements: Sequence[tuple[str, str]] = ()) -> str:
    """Lower-case ASCII letters and digits only, transliterated: ``"Ζωή Müller"`` -> ``"zoimuller"``."""
    from faker.decode import unidecode

    for search, swap in replacements:
        text = text.replace(search, swap)
    return _NON_SLUG.sub("", unidecode(text).lower())


@cache
def locale_pool(locale: str) -> LocalePool:
    """The pool of one locale, built on first use and cached for the life of the process."""
    if locale not in available_locales():
        raise UsageError(f"unknown locale {locale!r} (Faker has e.g. en_US, de_DE, ja_JP)")
    from faker import Factory

    gen = Factory.create(locale)
    gen.seed_instance(_POOL_SEED)
    providers = {type(p).__module__.split(".")[2]: p for p in gen.providers}
    return _build_pool(locale, gen, providers)


@cache
def form_ready_pool(locale: str) -> LocalePool:
    """:func:`locale_pool` with every text form-ready (``wire.form_ready``): the same tables in the same
    order, so a factory draws the same profiles from it. Every field is readied by its type (a field of a
    new type stops here), slugs too (they are ASCII letters and digits already)."""
    pool = locale_pool(locale)
    return replace(pool, **{f.name: _ready(getattr(pool, f.name)) for f in fields(pool)})


def _ready(value: Any) -> Any:
    if isinstance(value, str):
        return form_ready(value)
    if isinstance(value, tuple):
        return tuple(map(_ready, value))
    if isinstance(value, NameTable):
        return NameTable(_ready(value.names), _ready(value.slugs), value.cum_weights)
    if isinstance(value, PhoneTemplate):
        return PhoneTemplate(form_ready(value.head), value.width, form_ready(value.tail))
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"a locale pool's {type(value).__name__} has no form-ready twin")


def _build_pool(locale: str, gen: Any, providers: Mapping[str, Any]) -> LocalePool:
    person = providers["person"]
    replacements = tuple(getattr(providers.get("internet"), "replacements", ()))
    romaji = _romanized(person)

    def table(attr: str, fallback: str | None = None) -> NameTable | None:
        data = getattr(person, attr, None) or (getattr(person, fallback, None) if fallback else None)
        if not data:
            return None
        if isinstance(data, Mapping):
            names, weights = tuple(data), tuple(float(w) for w in data.values())
            cum: tuple[float, ...] | None = tuple(accumulate(weights))
        else:
            names, cum = tuple(data), None
        slugs = tuple(slugify(romaji.get(n, n), replacements) for n in names)
        return NameTable(names, slugs, cum)

    first_male = table("first_names_male", "first_names")
    first_female = table("first_names_female", "first_names")
    last_male = table("last_names_male", "last_names")
    last_female = table("last_names_female", "last_names")
    if not (first_male and first_female and last_male and last_female):
        raise UsageError(f"locale {locale!r} has no person names in Faker")
    language = locale.partition("_")[0]

    buildings = _draw(gen.building_number)
    secondary = _draw(gen.secondary_address) if hasattr(gen, "secondary_address") else ()
    if hasattr(gen, "chome"):  # ja_JP: Faker's street_address is an English-style stub
        streets = _draw(lambda: f"{gen.town()}{gen.chome()}{gen.ban()}{gen.gou()}")
    else:
        gen.set_formatter("building_number", lambda: _BUILDING)
        gen.set_formatter("secondary_address", lambda: "")
        streets = _draw(gen.street_address)
    states = tuple(getattr(providers["address"], "states_abbr", ()))
    return LocalePool(
        locale=locale, family_first=language in _FAMILY_FIRST, name_sep="" if language in _NO_SPACE else " ",
        first_male=first_male, first_female=first_female, last_male=last_male, last_female=last_female,
        middle_male=table("middle_names_male"), middle_female=table("middle_names_female"),
        streets=streets, buildings=buildings,
        secondary=secondary,
        cities=_draw(gen.city), states=states, postcodes=_draw(gen.postcode),
        phones=(tuple(_phone_template(p) for p in _draw(gen.phone_number, POOL_SIZE // 2))
                if hasattr(gen, "phone_number") else _NO_PHONES),
        companies=_draw(gen.company, POOL_SIZE // 2),
        sentences=_draw(lambda: gen.sentence(nb_words=10), POOL_SIZE // 2),
        country=_country(gen),
    )


def _draw(make: Callable[[], Any], n: int = POOL_SIZE) -> tuple[str, ...]:
    """``n`` values of a Faker method on one line each, duplicates dropped, in a stable order."""
    return tuple(dict.fromkeys(" ".join(str(make()).split()) for _ in range(n)))


def _romanized(person: Any) -> dict[str, str]:
    """Kanji -> romaji from Faker's (kanji, kana, romaji) tuples, where a locale has them (ja_JP)."""
    pairs: list[Any] = []
    for attr in ("first_name_male_pairs", "first_name_female_pairs", "last_name_pairs"):
        pairs.extend(getattr(person, attr, ()) or ())
    return {str(p[0]): str(p[2]) for p in pairs if isinstance(p, tuple) and len(p) >= 3}


#: For the few locales without a phone provider: the fictional 555-01xx range.
_NO_PHONES = (PhoneTemplate("555-01", 2, ""),)

_LAST_DIGITS = re.compile(r"(\d{1,4})(\D*)$")


def _phone_template(number: str) -> PhoneTemplate:
    m = _LAST_DIGITS.search(number)
    if m is None:
        return PhoneTemplate(number, 0, "")
    return PhoneTemplate(number[: m.start()], len(m.group(1)), m.group(2))


def _country(gen: Any) -> str:
    try:
        return str(gen.current_country())
    except (ValueError, AttributeError):
        return str(gen.current_country_code()) if hasattr(gen, "current_country_code") else ""


# -- dates ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Clock:
    """Text tables for every timestamp and birthday as of one anchor day (a timestamp = 3 lookups)."""

    anchor: date
    days: tuple[str, ...]       # "YYYY-MM-DDT" for each of the HISTORY_DAYS days before the anchor
    minutes: tuple[str, ...]    # "HH:MM:" for each minute of a day
    seconds: tuple[str, ...]    # "SSZ"
    birthdays: tuple[str, ...]  # every day of birth giving an age of 13..90 on the anchor day

    @property
    def span(self) -> int:
        return len(self.days) * 86400

    def timestamp(self, offset: int) -> str:
        """ISO 8601 UTC text of ``offset`` seconds after the start of the history window."""
        day, sec = divmod(offset, 86400)
        return self.days[day] + self.minutes[sec // 60] + self.seconds[sec % 60]


@cache
def clock(anchor: date) -> Clock:
    start = anchor - timedelta(days=HISTORY_DAYS)
    oldest, youngest = _years_before(anchor, 91), _years_before(anchor, 13)
    return Clock(
        anchor=anchor,
        days=tuple((start + timedelta(days=i)).isoformat() + "T" for i in range(HISTORY_DAYS)),
        minutes=tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)),
        seconds=tuple(f"{s:02d}Z" for s in range(60)),
        birthdays=tuple(date.fromordinal(o).isoformat()
                        for o in range(oldest.toordinal() + 1, youngest.toordinal() + 1)),
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)

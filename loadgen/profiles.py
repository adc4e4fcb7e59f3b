"""Realistic user profiles from any entity-type schema: fast, reproducible and unique by construction.

Why it is built this way:

- **Fast.** Faker is read once per locale into plain tuples (``loadgen._pools``); a profile is then a
  handful of ``random()`` calls and tuple lookups, never a Faker call. The schema is compiled into one
  generator closure per attribute when the factory is built (``loadgen._profile_compiler``).
- **Unique without coordination.** Every unique value (the email's local part, unique tokens) carries
  the namespace run id + worker index + a sequence number, so two workers, two processes or two runs
  cannot collide, whatever their random state.
- **Reproducible.** All randomness comes from one ``random.Random`` seeded from (seed, run id, worker),
  and every date is relative to one anchor day: the same inputs give byte-identical profiles. A factory
  that is used in a forked child re-seeds itself and adds the child's pid to its namespace, because a
  fork copies the random state (Locust imports the locustfile before it forks its workers).
- **Valid.** Generators are picked by attribute name (``givenName``, ``zip``...) and else by type and
  constraints, and clipped to ``length``; the property tests prove every profile passes ``validate()``.

This module holds the public face: the profile file (``profiles/user.toml``), ``ProfileFactory`` and
chunks that ``loadgen.generation`` writes in parallel.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tomllib
from bisect import bisect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import accumulate, chain
from typing import Any, Final

from loadgen._fast.builder import Gen
from loadgen._pools import LocalePool, available_locales, clock, form_ready_pool, locale_pool
from loadgen._profile_compiler import DEFAULT_PLURALS, PLURAL_SIZE, Compiler, Persona, build_object, dotted
from loadgen.errors import UsageError
from loadgen.schema import Schema, default_schema

__all__ = ["DEFAULT_LOCALES", "DEFAULT_PLURALS", "DEFAULT_STATUSES", "PLURAL_SIZE", "RESERVED_DOMAINS",
           "Profile", "ProfileFactory", "build_pools", "default_factory", "load_profile", "parse_profile"]

DEFAULT_LOCALES: Final[Mapping[str, float]] = {
    "en_US": 50, "en_GB": 10, "de_DE": 8, "fr_FR": 8, "es_ES": 6, "pt_BR": 5,
    "ja_JP": 4, "zh_CN": 4, "ru_RU": 3, "el_GR": 2,
}
DEFAULT_STATUSES: Final[Mapping[str, float]] = {
    "active": 80, "verified": 10, "pending": 6, "suspended": 3, "deactivated": 1,
}
#: Domains reserved for testing (RFC 2606): a real sandbox never mails a real person.
RESERVED_DOMAINS: Final = ("example.com", "example.org", "example.net")

#: The room in the unique-value numbering that each profile of a chunk has (``ProfileFactory.chunk``).
UNIQUE_PER_PROFILE: Final = 64
_PROFILE_KEYS = ("locales", "plurals", "statuses", "email_domain", "fixed", "omit")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+test|example\.(?:com|org|net)")
_RUN_TOKEN = re.compile(r"[a-z0-9][a-z0-9-]{0,15}")


# -- the profile file -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """What ``profiles/user.toml`` overrides. Paths are dotted (``primaryAddress.city``)."""

    locales: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_LOCALES))
    plurals: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_PLURALS))
    statuses: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_STATUSES))
    email_domains: tuple[str, ...] = RESERVED_DOMAINS
    fixed: Mapping[str, Any] = field(default_factory=dict)
    omit: frozenset[str] = frozenset()
    source: str = field(default="<default profile>", compare=False)


def load_profile(path: str | os.PathLike[str] | None) -> Profile:
    """Parse a profile file (TOML); ``None`` gives the defaults. Any problem is a one-line ``UsageError``."""
    if path is None:
        return Profile()
    source = os.fspath(path)
    try:
        with open(source, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    return parse_profile(data, source)


def parse_profile(data: Mapping[str, Any], source: str = "<profile>") -> Profile:
    """Check a parsed profile table; the schema-dependent checks happen in ``ProfileFactory``."""
    def fail(problem: str) -> UsageError:
        return UsageError(f"{source}: {problem}")

    unknown = sorted(set(data) - set(_PROFILE_KEYS))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (expected {', '.join(_PROFILE_KEYS)})")
    defaults = Profile()
    locales = _weights(data.get("locales", defaults.locales), "locales", fail)
    known = available_locales()
    for name in locales:
        if name not in known:
            raise fail(f"locales: unknown locale {name!r} (Faker has e.g. en_US, de_DE, ja_JP)")
    plurals = dict(defaults.plurals)
    raw_plurals = _table(data.get("plurals", {}), "plurals", fail)
    for key, size in raw_plurals.items():
        if (not isinstance(size, list) or len(size) != 2 or not all(type(n) is int for n in size)
                or not 0 <= size[0] <= size[1] <= 1000):
            raise fail(f"plurals.{key}: expected [min, max] with 0 <= min <= max <= 1000, got {size!r}")
        plurals[dotted(key)] = (size[0], size[1])
    domains = data.get("email_domain", list(defaults.email_domains))
    if isinstance(domains, str):
        domains = [domains]
    if not isinstance(domains, list) or not domains or not all(isinstance(d, str) for d in domains):
        raise fail("email_domain: expected a domain or a list of domains")
    for d in domains:
        if not _DOMAIN.fullmatch(d.lower()):
            raise fail(f"email_domain: {d!r} is not a reserved test domain (example.com/.org/.net or *.test)")
    omit = data.get("omit", [])
    if not isinstance(omit, list) or not all(isinstance(o, str) for o in omit):
        raise fail(f"omit: expected a list of attribute paths, got {omit!r}")
    return Profile(
        locales=locales, plurals=plurals,
        statuses=_weights(data.get("statuses", defaults.statuses), "statuses", fail),
        email_domains=tuple(d.lower() for d in domains),
        fixed=dict(_table(data.get("fixed", {}), "fixed", fail)),
        omit=frozenset(dotted(o) for o in omit), source=source,
    )


def _table(value: Any, key: str, fail: Callable[[str], UsageError]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(f"{key}: expected a table, got {value!r}")
    return value


def _weights(value: Any, key: str, fail: Callable[[str], UsageError]) -> dict[str, float]:
    table = _table(value, key, fail)
    if not table:
        raise fail(f"{key}: needs at least one entry")
    for name, weight in table.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < float("inf"):
            raise fail(f"{key}.{name}: weight must be a positive number, got {weight!r}")
    return {str(k): float(w) for k, w in table.items()}


# -- the factory ------------------------------------------------------------------------------------

_fork_epoch = 0


def _after_fork() -> None:
    global _fork_epoch
    _fork_epoch += 1


os.register_at_fork(after_in_child=_after_fork)


def build_pools(profile: Profile) -> Iterator[LocalePool]:
    """The locale pools a factory of ``profile`` reads, built one locale per step (each is cached for the
    life of the process, so a later factory finds them built).

    Ten locales take a second of CPU, several on a loaded machine: a caller that must keep answering
    meanwhile (a Locust worker's heartbeats to its master) yields to its event loop between the steps.
    """
    for name in profile.locales:
        yield locale_pool(name)


class ProfileFactory:
    """Profiles for one schema and one worker: ``make()``, ``batch(n)`` (for bulkCreate), ``stream()``.

    ``seed``, ``run_id`` and ``worker`` fix the output. ``today`` (default: the current UTC day)
    anchors every date, so pin it too when the output must be byte-identical on another day.

    With ``form_ready``, every text is ``wire.form_ready`` text: the same profiles, their texts already
    escaped for a form body (``+`` for a space, ``%xx`` for the rest), for ``loadgen generate --format
    form`` alone: such a profile (its CSV row and column names too) is not what a server should store.
    """

    def __init__(self, schema: Schema, profile: Profile | None = None, *, seed: int = 0,
                 run_id: str = "local", worker: int = 0, today: date | None = None,
                 form_ready: bool = False) -> None:
        if not 0 <= worker < 2**20:
            raise UsageError(f"worker index must be between 0 and {2**20 - 1}, got {worker}")
        self.schema = schema
        self.profile = profile if profile is not None else Profile()
        self.seed, self.run_id, self.worker = seed, run_id, worker
        self.today = today if today is not None else datetime.now(UTC).date()
        self._clock = clock(self.today)
        self._signup_span = self._clock.span - 7 * 86400
        self.form_ready = form_ready
        self._pools = tuple(form_ready_pool(q.locale) if form_ready else q for q in build_pools(self.profile))
        self._locale_cw = tuple(accumulate(self.profile.locales.values()))
        self._rng = random.Random()
        self._rnd = self._rng.random
        self._p = Persona(self._pools[0])
        self._seq = 0
        self._chunk = 0
        self._pid: int | None = None
        self._epoch = _fork_epoch
        self._namespace()
        compiler = Compiler(self)
        slots = compiler.record()
        self._build = build_object(slots)
        self._columns, self._row = compiler.columns(slots)

    def make(self) -> dict[str, Any]:
        """One profile."""
        record: dict[str, Any] = self._made(self._build)
        return record

    def row(self) -> list[Any]:
        """One profile as its CSV row: the values of :meth:`columns`, ``""`` for one it leaves out (the
        same profile, from the same random draws, as :meth:`make` would have made in its place)."""
        row: list[Any] = self._made(self._row)
        return row

    def _made(self, build: Gen) -> Any:
        if self._epoch != _fork_epoch:
            self._reseed_after_fork()
        self._new_persona()
        return build()

    def batch(self, n: int, *, rows: bool = False) -> list[Any]:
        """``n`` profiles, e.g. the ``all_attributes`` of one bulkCreate (or CSV rows, with ``rows``)."""
        make = self.row if rows else self.make
        return [make() for _ in range(n)]

    def stream(self, n: int | None = None) -> Iterator[dict[str, Any]]:
        """Profiles, lazily; without end unless ``n`` is given."""
        make = self.make
        if n is None:
            while True:
                yield make()
        for _ in range(n):
            yield make()

    def chunk(self, index: int, size: int) -> list[dict[str, Any]]:
        """Profiles ``index * size`` to ``(index + 1) * size - 1`` of one long output, made on their own.

        The random state is reseeded from (seed, run id, worker, index) and unique values are numbered
        from ``index * size * UNIQUE_PER_PROFILE``, so chunks made in any process and in any order join
        into the same bytes (``loadgen generate --jobs``). Chunk 0 is the factory's own start.
        """
        return list(chain.from_iterable(self.chunk_parts(index, size, size)))

    def chunk_parts(self, index: int, size: int, part: int, *, rows: bool = False) -> Iterator[list[Any]]:
        """:meth:`chunk`'s profiles, ``part`` at a time: the same profiles, made faster when each part is
        used and dropped before the next is made (a thousand profiles alive at once outgrow the CPU's
        caches: ``bench/generate.py`` measures both the factory and ``loadgen generate`` this way). With
        ``rows``, each profile is its CSV row (:meth:`row`)."""
        self._chunk = index
        self._namespace()
        first = self._seq = index * size * UNIQUE_PER_PROFILE
        for start in range(0, size, part):
            profiles = self.batch(min(part, size - start), rows=rows)
            if self._seq - first > size * UNIQUE_PER_PROFILE:
                raise UsageError(f"{self.schema.name}: more than {UNIQUE_PER_PROFILE} unique values per profile; "
                                 "generate it without chunks (ProfileFactory.stream)")
            yield profiles

    def for_worker(self, worker: int) -> ProfileFactory:
        """The same factory for another worker index: shared pools, its own random state and namespace."""
        return ProfileFactory(self.schema, self.profile, seed=self.seed, run_id=self.run_id,
                              worker=worker, today=self.today, form_ready=self.form_ready)

    @property
    def namespace(self) -> str:
        """The run and worker part of every email this factory makes, e.g. ``demo-w3``."""
        return self._ns

    def columns(self) -> list[str]:
        """CSV columns in schema order: dotted paths for object children, one column per plural."""
        return list(self._columns)

    def _namespace(self) -> None:
        """Seed the random state and derive the namespace from (seed, run id, worker[, forked pid])."""
        run = self.run_id if self._pid is None else f"{self.run_id}\x00{self._pid}"
        chunk = f"\x00{self._chunk}" if self._chunk else ""
        material = f"{self.seed}\x00{run}\x00{self.worker}{chunk}".encode()
        self._rng.seed(int.from_bytes(hashlib.sha256(material).digest()[:16], "big"))
        digest = hashlib.blake2b(run.encode(), digest_size=5).digest()
        token = run if _RUN_TOKEN.fullmatch(run) else "h_" + digest.hex()  # "_" never in a literal token
        self._ns = f"{token}-w{self.worker}"
        self._unique_base = ((int.from_bytes(digest, "big") << 20) | self.worker) << 40

    def _reseed_after_fork(self) -> None:
        self._epoch = _fork_epoch
        self._pid = os.getpid()
        self._namespace()

    def _new_persona(self) -> None:
        rnd, p, pools, cw = self._rnd, self._p, self._pools, self._locale_cw
        pool = p.pool = pools[0] if len(pools) == 1 else pools[bisect(cw, rnd() * cw[-1])]
        r = rnd()
        male = p.male = r < 0.49 or 0.98 <= r < 0.99
        p.gender = "male" if r < 0.49 else ("female" if r < 0.98 else "other")
        # NameTable.index inlined: this runs once per profile
        first = pool.first_male if male else pool.first_female
        weights = first.cum_weights
        i = int(rnd() * len(first.names)) if weights is None else bisect(weights, rnd() * weights[-1])
        p.first, p.first_slug = first.names[i], first.slugs[i]
        last = pool.last_male if male else pool.last_female
        weights = last.cum_weights
        i = int(rnd() * len(last.names)) if weights is None else bisect(weights, rnd() * weights[-1])
        p.last, p.last_slug = last.names[i], last.slugs[i]
        cities = pool.cities
        p.city = cities[int(rnd() * len(cities))]
        p.signup = int(rnd() * self._signup_span)

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = seq + 1
        return seq

    def _unique_int(self) -> int:
        """A 63-bit integer: 16 bits of run, 8 of worker, 39 of sequence (unique for up to 256 workers)."""
        run = (self._unique_base >> 60) & 0xFFFF
        return (run << 47) | ((self.worker & 0xFF) << 39) | (self._next_seq() & (2**39 - 1))


def default_factory(*, seed: int = 0, run_id: str = "local", worker: int = 0,
                    today: date | None = None) -> ProfileFactory:
    """A factory for the shipped ``user`` schema with the default profile."""
    return ProfileFactory(default_schema(), None, seed=seed, run_id=run_id, worker=worker, today=today)

"""Profile generation speed: our factory against a naive Faker generator of the same fields, and
against the practical ceiling of any Python generator of them.

The ceiling builds the same dict with one ``random.choice`` per field over Faker's own en_US word
lists (first and last names, lorem words, city parts, states) and over pools of values Faker made
once (dates, phones, zips, street addresses): no weights, no locales, no uniqueness, nothing a
realistic factory can do with less work. All three run in this one process in interleaved rounds
(``bench/_paired.py``), each for a fixed time, making and dropping profiles the way a load test
consumes them. Targets: at least 10x naive Faker (issue 2) and at least 0.5 of the ceiling (issue 19);
the 50,000 profiles/s of the reference machine is printed as context, not judged.

    .venv/bin/python bench/profiles.py [--seconds 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from _paired import Target, finish, interleave, ratio
from faker import Faker

from loadgen.profiles import default_factory

STATUSES = ["active", "verified", "pending", "suspended", "deactivated"]


def naive_faker(seed: int = 0) -> Callable[[], dict[str, Any]]:
    """What a test script usually does: one ``Faker()`` and a call per field, per profile."""
    fake = Faker()
    fake.seed_instance(seed)

    def when() -> str:
        return fake.date_time_between("-5y", "now", tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def make() -> dict[str, Any]:
        first, last = fake.first_name(), fake.last_name()
        profile: dict[str, Any] = {
            "email": fake.email(), "emailVerified": when(), "givenName": first, "familyName": last,
            "displayName": f"{first} {last}", "gender": fake.random_element(["male", "female", "other"]),
            "birthday": fake.date_of_birth(minimum_age=13, maximum_age=90).isoformat(),
            "aboutMe": fake.sentence(nb_words=10), "currentLocation": f"{fake.city()}, {fake.current_country()}",
            "primaryAddress": {
                "address1": fake.street_address(), "city": fake.city(), "stateAbbreviation": fake.state_abbr(),
                "zip": fake.postcode(), "zipPlus4": fake.numerify("####"), "country": fake.current_country(),
                "phone": fake.phone_number(), "mobile": fake.phone_number(),
            },
            "statuses": sorted(({"status": fake.random_element(STATUSES), "statusCreated": when()}
                                for _ in range(fake.random_int(1, 3))), key=lambda s: s["statusCreated"]),
            "photos": [{"type": "normal", "value": fake.image_url()} for _ in range(fake.random_int(0, 2))],
            "password": fake.password(),
            "lastLogin": when(),
            "display": {"source": "capture-loadgen", "n": fake.random_int(0, 999)},
        }
        if fake.random.random() < 0.3:
            profile["middleName"] = fake.first_name()
        if fake.random.random() < 0.25:
            profile["primaryAddress"]["address2"] = fake.secondary_address()
        if fake.random.random() < 0.4:
            profile["primaryAddress"]["company"] = fake.company()
        return profile

    return make


def ceiling(seed: int = 0) -> Callable[[], dict[str, Any]]:
    """The same fields by ``random.choice`` over Faker's lists and pools: the least work a generator can do."""
    from faker.providers.address.en_US import Provider as Address
    from faker.providers.lorem.en_US import Provider as Lorem
    from faker.providers.person.en_US import Provider as Person

    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    choice, chance = rng.choice, rng.random
    first, last, words = list(Person.first_names), list(Person.last_names), list(Lorem.word_list)
    prefixes, suffixes, states = list(Address.city_prefixes), list(Address.city_suffixes), list(Address.states_abbr)
    when = [fake.date_time_between("-5y", "now", tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for _ in range(4096)]
    births = [fake.date_of_birth(minimum_age=13, maximum_age=90).isoformat() for _ in range(4096)]
    phones = [fake.phone_number() for _ in range(4096)]
    zips = [fake.postcode() for _ in range(4096)]
    streets = [fake.street_address() for _ in range(4096)]
    plus4 = [f"{n:04d}" for n in range(10000)]
    genders = ["male", "female", "other"]

    def make() -> dict[str, Any]:
        given, family = choice(first), choice(last)
        city = f"{choice(prefixes)} {choice(first)}{choice(suffixes)}"
        statuses = [{"status": choice(STATUSES), "statusCreated": choice(when)} for _ in range(rng.randint(1, 3))]
        profile: dict[str, Any] = {
            "aboutMe": " ".join([choice(words) for _ in range(10)]).capitalize() + ".",
            "currentLocation": f"{city}, United States", "display": {"source": "capture-loadgen", "n": 7},
            "displayName": f"{given} {family}", "email": f"{given}.{family}@example.org".lower(),
            "emailVerified": choice(when), "password": choice(zips) + choice(plus4), "lastLogin": choice(when),
            "givenName": given, "familyName": family, "gender": choice(genders), "birthday": choice(births),
            "primaryAddress": {"address1": choice(streets), "city": city, "stateAbbreviation": choice(states),
                               "zip": choice(zips), "zipPlus4": choice(plus4), "country": "United States",
                               "phone": choice(phones), "mobile": choice(phones)},
            "statuses": sorted(statuses, key=lambda s: s["statusCreated"]),
        }
        if chance() < 0.3:
            profile["middleName"] = choice(first)
        return profile

    return make


def rate(make: Callable[[], object], seconds: float) -> float:
    """Profiles per CPU second of this process over about ``seconds`` of it (checked every 100 profiles, a
    bulkCreate's worth): CPU time, so the other processes of a shared machine are not counted against it."""
    count = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(100):
            make()
        count += 100
        now = time.process_time()
        if now >= deadline:
            return count / (now - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per generator per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median of the paired ratios counts")
    args = parser.parse_args()

    t0 = time.perf_counter()
    factory = default_factory(seed=7, run_id="bench")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    factory.for_worker(1)
    warm = time.perf_counter() - t0
    print(f"factory build: {cold:.2f} s cold (10 locale pools), {warm * 1000:.1f} ms warm (pools cached)")
    naive, cheapest = naive_faker(7), ceiling(7)
    values = interleave({"factory": lambda: rate(factory.make, args.seconds),
                         "naive Faker": lambda: rate(naive, args.seconds),
                         "ceiling": lambda: rate(cheapest, args.seconds)}, args.rounds, "profiles/s")
    return finish([ratio("profiles.py", "factory / naive Faker", values, "factory", "naive Faker", Target(10),
                         "profiles/s"),
                   ratio("profiles.py", "factory / ceiling (random.choice)", values, "factory", "ceiling",
                         Target(0.5), "profiles/s")])


if __name__ == "__main__":
    sys.exit(main())

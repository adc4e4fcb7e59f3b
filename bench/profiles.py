"""Profile generation speed: our factory against a naive Faker generator of the same fields.

Both run in this one process, side by side, each for a fixed time and several rounds (the median
counts), making and dropping profiles the way a load test consumes them. The target from issue 2:
at least 10x naive Faker and at least 50,000 profiles/s on one core.

    .venv/bin/python bench/profiles.py [--seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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


def rate(make: Callable[[], object], seconds: float) -> float:
    """Profiles per second over about ``seconds`` (checked every 100 profiles, a bulkCreate's worth)."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            make()
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per generator per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    args = parser.parse_args()

    t0 = time.perf_counter()
    factory = default_factory(seed=7, run_id="bench")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    factory.for_worker(1)
    warm = time.perf_counter() - t0
    naive = naive_faker(7)
    ours_rates, naive_rates = [], []
    for _ in range(args.rounds):
        ours_rates.append(rate(factory.make, args.seconds))
        naive_rates.append(rate(naive, args.seconds))
    ours, theirs = statistics.median(ours_rates), statistics.median(naive_rates)
    ratio = ours / theirs
    ok = ratio >= 10 and ours >= 50_000
    print(f"python {'.'.join(map(str, sys.version_info[:3]))}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.rounds} rounds x {args.seconds:g} s each")
    print(f"factory build: {cold:.2f} s cold (10 locale pools), {warm * 1000:.1f} ms warm (pools cached)")
    print(f"ProfileFactory, default user profile : {ours:>9,.0f} profiles/s")
    print(f"naive Faker, same fields             : {theirs:>9,.0f} profiles/s")
    print(f"ratio: {ratio:.1f}x   target >= 10x and >= 50,000 profiles/s: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()

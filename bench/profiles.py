"""Profile generation speed: our factory against a naive Faker generator of the same fields.

Both run in this one process in interleaved rounds (``bench/_paired.py``), each for a fixed time,
making and dropping profiles the way a load test consumes them. The target from issue 2: at least 10x
naive Faker (the 50,000 profiles/s of the reference machine is printed as context, not judged).

    .venv/bin/python bench/profiles.py [--seconds 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
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
    naive = naive_faker(7)
    values = interleave({"factory": lambda: rate(factory.make, args.seconds),
                         "naive Faker": lambda: rate(naive, args.seconds)}, args.rounds, "profiles/s")
    return finish([ratio("profiles.py", "factory / naive Faker", values, "factory", "naive Faker", Target(10),
                         "profiles/s")])


if __name__ == "__main__":
    sys.exit(main())

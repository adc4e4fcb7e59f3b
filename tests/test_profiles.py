"""Profile factories: valid for any schema, realistic per locale, unique across processes, reproducible."""

from __future__ import annotations

import multiprocessing
import re
import time
import unicodedata
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadgen.errors import UsageError
from loadgen.profiles import Profile, ProfileFactory, load_profile, parse_profile
from loadgen.schema import default_schema, load_schema, unique_key, validate
from loadgen.wire import dumps, parse_datetime

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 25)
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "pt_BR", "it_IT", "pl_PL", "tr_TR", "vi_VN",
           "ja_JP", "zh_CN", "zh_TW", "ko_KR", "ru_RU", "uk_UA", "el_GR", "ar_AA", "he_IL", "hi_IN",
           "th_TH", "ka_GE", "hy_AM", "fa_IR"]
EMAIL = re.compile(r"([a-z0-9.]*)\.?([a-z0-9_-]+-w\d+)-(\d+)@(example\.(?:com|org|net)|[a-z0-9.-]+\.test)")


def age_on(birthday: str, day: date) -> int:
    born = date.fromisoformat(birthday)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check_realism(record: dict[str, Any], today: date = TODAY) -> None:
    """What the issue promises of every profile beyond schema validity."""
    m = EMAIL.fullmatch(record["email"])
    assert m is not None, record["email"]
    assert record["email"].isascii()
    assert 13 <= age_on(record["birthday"], today) <= 90
    statuses = record["statuses"]
    assert 1 <= len(statuses) <= 3
    assert all(s["statusCreated"].endswith("Z") for s in statuses)  # ISO 8601 UTC
    moments = [parse_datetime(s["statusCreated"]) or datetime.max.replace(tzinfo=UTC) for s in statuses]
    assert moments == sorted(moments) and len(set(moments)) == len(moments)  # ascending
    assert moments[-1] < datetime(today.year, today.month, today.day, tzinfo=UTC)  # none in the future


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**64), locale=st.sampled_from(LOCALES), worker=st.integers(0, 2**20 - 1),
       photos=st.integers(0, 4), social=st.integers(0, 3))
def test_every_profile_is_valid_and_realistic(seed: int, locale: str, worker: int, photos: int, social: int) -> None:
    profile = Profile(locales={locale: 1, "en_US": 1},
                      plurals={"statuses": (1, 3), "photos": (0, photos), "profiles": (social, social)})
    factory = ProfileFactory(default_schema(), profile, seed=seed, run_id="prop", worker=worker, today=TODAY)
    identifier = default_schema().find("/profiles/identifier")
    assert identifier is not None
    identifiers: set[str] = set()
    for record in factory.batch(25):
        assert validate(record, default_schema()) == []
        check_realism(record)
        elements = record.get("profiles", [])
        assert len(elements) == social
        identifiers.update(unique_key(identifier, e["identifier"]) for e in elements)
    assert len(identifiers) == 25 * social  # unique across records, as the schema requires


CUSTOM = {
    "name": "member",
    "attr_defs": [
        {"name": "login", "type": "string", "length": 24, "constraints": ["required", "unique", "alphanumeric"]},
        {"name": "contact", "type": "string", "length": 90, "constraints": ["email-address"]},
        {"name": "nickname", "type": "string", "length": 5, "constraints": ["alphabetic"]},
        {"name": "givenName", "type": "string", "length": 3, "constraints": ["alphabetic", "required"]},
        {"name": "motto", "type": "string", "length": 12, "constraints": ["unicode-printable"]},
        {"name": "tag", "type": "string", "constraints": ["unicode-letters"]},
        {"name": "middleName", "type": "string", "constraints": ["required"]},
        {"name": "score", "type": "integer", "constraints": ["unique"]},
        {"name": "level", "type": "integer"},
        {"name": "ratio", "type": "decimal"},
        {"name": "active", "type": "boolean"},
        {"name": "anniversary", "type": "date"},
        {"name": "dob", "type": "dateTime"},
        {"name": "seen", "type": "dateTime"},
        {"name": "ip", "type": "ipAddress"},
        {"name": "extra", "type": "json"},
        {"name": "token", "type": "uuid"},
        {"name": "secret", "type": "password-md5"},
        {"name": "home", "type": "object", "attr_defs": [
            {"name": "zip", "type": "string", "length": 4},
            {"name": "address2", "type": "string", "constraints": ["required"]},
            {"name": "geo", "type": "object", "attr_defs": [{"name": "lat", "type": "decimal"}]},
        ]},
        {"name": "devices", "type": "plural", "attr_defs": [
            {"name": "id", "type": "id"},
            {"name": "serial", "type": "string", "length": 30, "constraints": ["required", "locally-unique"]},
            {"name": "added", "type": "dateTime"},
            {"name": "removed", "type": "dateTime"},
        ]},
    ],
}


def test_unknown_attributes_of_a_custom_schema_get_valid_values() -> None:
    schema = load_schema(CUSTOM)
    profile = Profile(locales={"ru_RU": 1, "ja_JP": 1, "de_DE": 1}, plurals={"devices": (2, 4)})
    factory = ProfileFactory(schema, profile, seed=3, run_id="custom", worker=9, today=TODAY)
    records = factory.batch(2000)
    for record in records:
        assert validate(record, schema) == [], record
        assert record["login"].isalnum() and record["givenName"].isascii() and record["givenName"].isalpha()
        added = [d["added"] for d in record["devices"]]
        assert added == sorted(added)
        assert all(d["added"] < d["removed"] for d in record["devices"])
        assert len({d["serial"] for d in record["devices"]}) == len(record["devices"])
        assert isinstance(record["home"]["geo"]["lat"], float)
    for unique in ("login", "score"):
        assert len({str(r[unique]).casefold() for r in records}) == len(records)
    assert all(r["contact"].endswith(("@example.com", "@example.org", "@example.net")) for r in records)


def test_a_length_too_short_for_unique_values_is_a_usage_error() -> None:
    schema = load_schema({"name": "t", "attr_defs": [
        {"name": "email", "type": "string", "length": 20, "constraints": ["unique", "email-address"]}]})
    with pytest.raises(UsageError, match=r"/email: length 20 is too short for unique emails"):
        ProfileFactory(schema, today=TODAY)


def test_same_seed_run_and_worker_give_byte_identical_output() -> None:
    def dump(**kw: Any) -> str:
        args: dict[str, Any] = {"seed": 11, "run_id": "repro", "worker": 2, "today": TODAY} | kw
        return "\n".join(dumps(r) for r in ProfileFactory(default_schema(), **args).batch(500))

    first = dump()
    assert dump() == first
    assert dump(seed=12) != first and dump(worker=3) != first and dump(run_id="other") != first
    stream = ProfileFactory(default_schema(), seed=11, run_id="repro", worker=2, today=TODAY).stream()
    assert "\n".join(dumps(r) for r in islice(stream, 500)) == first


def _emails(factory: ProfileFactory | None, worker: int, n: int, out: Path) -> None:
    """Child process: ``n`` emails of the worker's factory, plus 1,000 of the factory inherited by fork."""
    own = (factory or ProfileFactory(default_schema(), today=TODAY)).for_worker(worker)
    emails = [own.make()["email"] for _ in range(n)]
    if factory is not None:
        emails += [factory.make()["email"] for _ in range(1000)]
    out.write_text("\n".join(emails))


def test_two_forked_processes_never_repeat_an_email(tmp_path: Path) -> None:
    """200,000 profiles in each of two forked workers: zero duplicates, case-insensitively.

    The parent builds (and uses) a factory before forking, as ``locust --processes`` does. Each child
    makes profiles with its own worker index, then also keeps using the inherited factory, whose
    random state the fork copied: it must re-seed itself rather than repeat the parent's users.
    """
    parent = ProfileFactory(default_schema(), seed=5, run_id="fork", worker=0, today=TODAY)
    parent.batch(10)
    ctx = multiprocessing.get_context("fork")
    n = 200_000
    children = [ctx.Process(target=_emails, args=(parent, w, n, tmp_path / f"w{w}.txt")) for w in (1, 2)]
    for child in children:
        child.start()
    parent_emails = [parent.make()["email"] for _ in range(1000)]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    emails = parent_emails + [e for w in (1, 2) for e in (tmp_path / f"w{w}.txt").read_text().split("\n")]
    assert len(emails) == 2 * n + 3 * 1000
    assert len({e.casefold() for e in emails}) == len(emails)


def test_factory_is_cheap_to_build_once_pools_are_cached() -> None:
    ProfileFactory(default_schema(), today=TODAY)
    start = time.perf_counter()
    for worker in range(5):
        ProfileFactory(default_schema(), worker=worker, today=TODAY)
    assert (time.perf_counter() - start) / 5 < 0.5


def test_one_locale_per_profile_and_ascii_emails_for_non_latin_names() -> None:
    profile = Profile(locales={"ja_JP": 1, "ru_RU": 1, "el_GR": 1, "zh_CN": 1, "en_US": 1})
    countries = {"Japan", "Russia", "Greece", "People's Republic of China", "United States"}
    seen = set()
    for record in ProfileFactory(default_schema(), profile, seed=1, today=TODAY).batch(500):
        country = record["primaryAddress"]["country"]
        seen.add(country)
        assert record["currentLocation"] == f"{record['primaryAddress']['city']}, {country}"
        name = record["givenName"] + record["familyName"]
        latin = all(c.isascii() or not c.isalpha() or "LATIN" in unicodedata.name(c) for c in name)
        assert latin == (country == "United States"), (name, country)
        assert record["email"].isascii() and re.match(r"[a-z]", record["email"])
        if country == "Japan":
            assert re.fullmatch(r"0?\d{2}-\d{4}-\d{4}", record["primaryAddress"]["phone"])
        if country == "Russia":
            assert record["primaryAddress"]["phone"].startswith(("+7", "8"))
    assert seen == countries


def test_japanese_emails_use_faker_romanized_names() -> None:
    factory = ProfileFactory(default_schema(), Profile(locales={"ja_JP": 1}), seed=4, today=TODAY)
    romaji = {"佐藤": "sato", "鈴木": "suzuki", "高橋": "takahashi", "田中": "tanaka"}
    hits = [(r["familyName"], r["email"]) for r in factory.batch(400) if r["familyName"] in romaji]
    assert hits
    assert all(romaji[family] in email for family, email in hits)


def test_profile_file_overrides(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text('email_domain = "loadgen.test"\nomit = ["aboutMe", "primaryAddress.mobile"]\n'
                    '[locales]\nde_DE = 1\n[plurals]\nstatuses = [2, 2]\nphotos = [3, 3]\n'
                    '[statuses]\nbanned = 1\n[fixed]\n"primaryAddress.country" = "Deutschland"\n'
                    'birthday = 1990-05-17\nprimaryAddress.company = "ACME"\n')
    profile = load_profile(path)
    for record in ProfileFactory(default_schema(), profile, seed=2, today=TODAY).batch(200):
        assert validate(record, default_schema()) == []
        assert record["email"].endswith("@loadgen.test")
        assert "aboutMe" not in record and "mobile" not in record["primaryAddress"]
        assert [s["status"] for s in record["statuses"]] == ["banned", "banned"]
        assert len(record["photos"]) == 3 and len({p["type"] for p in record["photos"]}) == 3
        assert record["birthday"] == "1990-05-17"
        assert record["primaryAddress"]["country"] == "Deutschland"
        assert record["primaryAddress"]["company"] == "ACME"
        assert record["primaryAddress"]["phone"].startswith(("+49", "0", "(0"))


def test_shipped_profile_file_is_the_builtin_default() -> None:
    assert load_profile(ROOT / "profiles" / "user.toml") == Profile() == load_profile(None)


@pytest.mark.parametrize(("text", "problem"), [
    ("locales = [", "not valid TOML"),
    ("[locales]\nxx_YY = 1\n", "locales: unknown locale 'xx_YY'"),
    ("[locales]\nen_US = 0\n", "locales.en_US: weight must be a positive number"),
    ("[plurals]\nstatuses = 3\n", "plurals.statuses: expected [min, max]"),
    ('email_domain = "gmail.com"\n', "email_domain: 'gmail.com' is not a reserved test domain"),
    ('omit = "aboutMe"\n', "omit: expected a list of attribute paths"),
    ('colour = "blue"\n', "unknown key 'colour'"),
    ("[fixed]\nbirthday = 12\n", "fixed.birthday: expected a JSON value of type date (got 12)"),
    ('[fixed]\ngender = ["m"]\n', "fixed.gender: expected a JSON value of type string"),
    ('[fixed]\nemail = "a@example.com"\n', "fixed.email: a unique attribute cannot have a fixed value"),
    ('[fixed]\n"primaryAddress.zipp" = "1"\n', "fixed: no attribute 'primaryAddress.zipp' in entity type 'user'"),
    ('omit = ["nope"]\n', "omit: no attribute 'nope'"),
    ("[plurals]\ngivenName = [1, 2]\n", "plurals.givenName: no plural attribute of that name"),
])
def test_a_bad_profile_file_is_one_line_naming_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        ProfileFactory(default_schema(), load_profile(path), today=TODAY)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_a_required_attribute_cannot_be_omitted() -> None:
    schema = load_schema(CUSTOM)
    with pytest.raises(UsageError, match="omit: login is required"):
        ProfileFactory(schema, parse_profile({"omit": ["login"]}, "p.toml"), today=TODAY)


def test_batch_and_stream_are_the_api_of_the_issue() -> None:
    factory = ProfileFactory(default_schema(), seed=1, today=TODAY)
    assert len(factory.batch(7)) == 7
    assert len(list(factory.stream(3))) == 3
    assert all(isinstance(r, dict) for r in islice(factory.stream(), 4))
    assert factory.namespace == "local-w0"
    assert ProfileFactory(default_schema(), run_id="Run 42/x", today=TODAY).namespace.startswith("h_")


def test_the_social_profiles_plural_is_realistic_when_asked_for() -> None:
    """Empty by default (as most loads want); with [1, 1] each element is about the same person."""
    assert all("profiles" not in r for r in ProfileFactory(default_schema(), today=TODAY).batch(50))
    profile = Profile(plurals={**Profile().plurals, "profiles": (1, 1)})
    for record in ProfileFactory(default_schema(), profile, seed=4, today=TODAY).batch(50):
        (element,) = record["profiles"]
        assert element["domain"] == "example.com" and element["identifier"]
        social = element["profile"]
        assert social["name"]["formatted"] == record["displayName"]
        assert social["name"]["givenName"] == record["givenName"] and social["gender"] == record["gender"]
        assert all("@example." in e["value"] and e["type"] in ("home", "work", "other")
                   for e in social.get("emails", []))
        assert date.fromisoformat(social["birthday"]) < TODAY


def test_names_follow_fakers_frequency_weights() -> None:
    """The factory samples Faker's weighted en_US surnames by weight (a cumulative table), as Faker does: the most
    frequent tenth of the names takes its weighted share of the profiles, not the uniform tenth a plain choice
    would give."""
    from faker.providers.person.en_US import Provider

    weights = dict(Provider.last_names)
    ranked = sorted(weights, key=weights.__getitem__, reverse=True)
    top = set(ranked[:len(ranked) // 10])
    expected = sum(weights[n] for n in top) / sum(weights.values())
    records = ProfileFactory(default_schema(), Profile(locales={"en_US": 1}), seed=3, today=TODAY).batch(20_000)
    share = sum(r["familyName"] in top for r in records) / len(records)
    assert expected > 0.3                                 # Faker's table is skewed enough to tell the two apart
    assert abs(share - expected) < 0.03, (share, expected)

"""Fidelity to the real Capture (capture-api.md, "Corrections from real artifacts"), over real HTTP:
``attribute_name``, ``include_record`` on writes, plural appends, nested uniqueness, preconditions,
password hashes in records, and records shaped like real exports read back unchanged."""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loadgen.sandbox import Sandbox, serve
from loadgen.sandbox.filters import compile_filter, compile_sort
from loadgen.schema import load_schema

Call = Callable[..., dict[str, Any]]

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's sandbox (``call`` and ``http`` of conftest use it): two schemas of its own."""
    schemas = (load_schema(DATA / "member.schema.json"), load_schema(DATA / "classic.schema.json"))
    with serve(db=":memory:", admin=True, schemas=schemas) as running:
        yield running


def _error(body: dict[str, Any], code: int, attribute: str | None = None) -> dict[str, Any]:
    assert body["stat"] == "error" and body["code"] == code, body
    if attribute is not None:
        assert body["attribute_name"] == attribute, body
    return body


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    assert body["stat"] == "ok", body
    return body


ANN = {"email": "ann@x.com", "givenName": "Ann", "address": {"city": "Lyon", "badge": "A1"},
       "statuses": [{"status": "new"}, {"status": "active"}],
       "profiles": [{"identifier": "https://idp/ann", "domain": "idp", "handle": "Ann",
                     "friends": [{"identifier": "bob"}, {"identifier": "cy"}]}]}


def _member(call: Call, record: dict[str, Any] = ANN) -> tuple[dict[str, str], dict[str, Any]]:
    made = _ok(call("entity.create", type_name="member", attributes=record, include_record="true"))
    return {"type_name": "member", "uuid": made["uuid"]}, made["result"]


def _read(call: Call, key: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = _ok(call("entity", **key))["result"]
    return result


# -- attribute_name --------------------------------------------------------------------------------

def test_entity_reads_the_part_that_attribute_name_names(call: Call) -> None:
    key, record = _member(call)
    status = record["statuses"][1]
    profile = record["profiles"][0]
    assert all(isinstance(f["id"], int) for f in profile["friends"])         # nested plural elements get ids
    expected = {
        "address": {"city": "Lyon", "badge": "A1"},
        "/address": {"city": "Lyon", "badge": "A1"},
        "/address/city": "Lyon",
        f"statuses#{status['id']}": status,
        f"/profiles#{profile['id']}/friends": profile["friends"],
        f"/profiles#{profile['id']}/friends#{profile['friends'][1]['id']}/identifier": "cy",
        "uuid": key["uuid"],
        "statuses": record["statuses"],
        "password": None,
    }
    for path, value in expected.items():
        assert _ok(call("entity", **key, attribute_name=path))["result"] == value, path
    for path in ("emailer", "/address/town", "statuses/status", f"givenName#{status['id']}", "statuses#x",
                 "/address/city/more", ""):
        body = _error(call("entity", **key, attribute_name=path), 223, "/" + path.strip("/"))
        assert body["error_description"] == f"attribute does not exist: /{path.strip('/')}"
    _error(call("entity", **key, attribute_name="statuses#999999999"), 310)
    _error(call("entity", **key, attribute_name="statuses#" + "9" * 40), 223)
    hostile = _error(call("entity.update", **key, attribute_name="address/" * 200_000, attributes={}), 223)
    assert len(hostile["attribute_name"]) == 1000
    _error(call("entity", **key, attribute_name=f"/profiles#{status['id']}/domain"), 310)


def test_update_and_replace_change_only_the_named_part(call: Call) -> None:
    key, record = _member(call)
    first, second = record["statuses"]
    profile = record["profiles"][0]
    _ok(call("entity.update", **key, attribute_name="address", attributes={"city": "Nice"}))
    _ok(call("entity.update", **key, attribute_name="/givenName", value=json.dumps("Annie")))
    _ok(call("entity.update", **key, attribute_name="statuses", attributes=[{"status": "third"}]))
    _ok(call("entity.update", **key, attribute_name=f"statuses#{first['id']}",
             attributes={"statusCreated": "2015-12-15T07:36:25Z"}))
    _ok(call("entity.update", **key, attribute_name=f"/profiles#{profile['id']}/domain", value=json.dumps("idp2")))
    got = _read(call, key)
    assert got["address"] == {"city": "Nice", "badge": "A1"} and got["givenName"] == "Annie"
    assert [s["status"] for s in got["statuses"]] == ["new", "active", "third"]
    assert got["statuses"][0]["id"] == first["id"] and got["statuses"][0]["statusCreated"].startswith("2015-12-15")
    assert got["statuses"][2]["id"] > second["id"]
    assert got["profiles"][0]["domain"] == "idp2" and got["profiles"][0]["friends"] == profile["friends"]
    # replace: an element keeps its id, a replaced plural's elements all get new ones
    _ok(call("entity.replace", **key, attribute_name=f"statuses#{first['id']}", attributes={"status": "redone"}))
    assert _read(call, key)["statuses"][0] == {"id": first["id"], "status": "redone", "statusCreated": None}
    replaced = _ok(call("entity.replace", **key, attribute_name="statuses", include_record="true",
                        attributes=[{"status": "only", "id": first["id"]}]))["result"]["statuses"]
    assert len(replaced) == 1 and replaced[0]["status"] == "only" and replaced[0]["id"] > got["statuses"][2]["id"]
    _ok(call("entity.replace", **key, attribute_name="address", attributes={"city": "Metz"}))
    after = _read(call, key)
    assert after["address"] == {"city": "Metz", "badge": None} and after["email"] == "ann@x.com"


def test_delete_with_attribute_name_removes_only_that_part(call: Call) -> None:
    key, record = _member(call)
    first, second = record["statuses"]
    friend = record["profiles"][0]["friends"][0]
    _ok(call("entity.delete", **key, attribute_name=f"statuses#{first['id']}"))
    _ok(call("entity.delete", **key, attribute_name="/address/city"))
    _ok(call("entity.delete", **key, attribute_name=f"/profiles#{record['profiles'][0]['id']}/friends#{friend['id']}"))
    _ok(call("entity.delete", **key, attribute_name="givenName"))
    got = _read(call, key)
    assert got["statuses"] == [second] and got["address"] == {"city": None, "badge": "A1"}
    assert [f["identifier"] for f in got["profiles"][0]["friends"]] == ["cy"]
    assert got["givenName"] is None and got["email"] == "ann@x.com"
    _error(call("entity.delete", **key, attribute_name=f"statuses#{first['id']}"), 310)
    _error(call("entity.delete", **key, attribute_name="nothing"), 223, "/nothing")
    _ok(call("entity.delete", **key, attribute_name="address"))
    assert _read(call, key)["address"] == {"city": None, "badge": None}
    assert call("entity.count", type_name="member")["total_count"] == 1


def test_values_written_at_a_path_are_validated_in_place(call: Call) -> None:
    key, record = _member(call)
    profile = record["profiles"][0]
    cases = [
        ("entity.update", "address", {"city": 5}, 341, "/address/city"),
        ("entity.update", "givenName", 5, 341, "/givenName"),
        ("entity.update", "seen", json.dumps("yesterday"), 342, "/seen"),
        ("entity.update", "statuses", [{"status": "x" * 101}], 363, "/statuses/status"),
        ("entity.update", "statuses", {"status": "x"}, 341, "/statuses"),
        ("entity.update", "address", {"zip": "1"}, 223, "/address/zip"),
        ("entity.replace", f"profiles#{profile['id']}", {"domain": "d"}, 362, "/profiles/identifier"),
        ("entity.update", "profiles", [{"domain": "d"}], 362, "/profiles/identifier"),
        ("entity.update", "uuid", json.dumps(str(uuid.uuid4())), 234, "/uuid"),
        ("entity.delete", "created", None, 234, "/created"),
    ]
    for op, path, value, code, attribute in cases:
        extra = {} if value is None else {"attributes": value}
        _error(call(op, **key, attribute_name=path, **extra), code, attribute)
    _error(call("entity.update", **key, attribute_name="statuses#123456789", attributes={"status": "x"}), 310)
    assert _read(call, key)["lastUpdated"] == record["lastUpdated"]                 # nothing was written


# -- include_record, appends, replace ids ----------------------------------------------------------

def test_include_record_on_update_and_replace_returns_the_full_record(call: Call) -> None:
    key, record = _member(call)
    body = _ok(call("entity.update", **key, include_record="true", attributes={"givenName": "Anna"}))
    assert set(body) == {"result", "stat"} and body["result"]["givenName"] == "Anna"
    assert body["result"]["id"] == record["id"] and body["result"]["lastUpdated"] > record["lastUpdated"]
    assert body["result"] == _read(call, key)
    body = _ok(call("entity.replace", **key, include_record="true", attributes={"email": "ann@x.com"}))
    assert body["result"]["givenName"] is None and body["result"]["statuses"] == []
    assert set(_ok(call("entity.update", **key, attributes={"givenName": "A"}))) == {"stat"}
    _error(call("entity.update", **key, include_record="maybe", attributes={}), 200)


def test_update_appends_elements_without_id_and_merges_those_with_one(call: Call) -> None:
    key, record = _member(call)
    first, second = record["statuses"]
    _ok(call("entity.update", **key, attributes={"statuses": [{"id": second["id"], "status": "gone"},
                                                             {"status": "later"}]}))
    got = _read(call, key)["statuses"]
    assert [(s["id"], s["status"]) for s in got][:2] == [(first["id"], "new"), (second["id"], "gone")]
    assert got[2]["status"] == "later" and got[2]["id"] > second["id"]
    _error(call("entity.update", **key, attributes={"statuses": [{"id": 987654321, "status": "x"}]}), 310)
    _ok(call("entity.update", **key, attributes={"statuses": None}))
    assert _read(call, key)["statuses"] == []
    # replace drops the old elements and numbers the new ones afresh, ids given or not
    _ok(call("entity.replace", **key,
             attributes={"email": "ann@x.com", "statuses": [{"id": first["id"], "status": "z"}]}))
    (only,) = _read(call, key)["statuses"]
    assert only["status"] == "z" and only["id"] > got[2]["id"]


# -- uniqueness below the top level ----------------------------------------------------------------

def test_unique_children_of_objects_and_plurals_are_unique_across_records(call: Call) -> None:
    _member(call)
    dup_profile = {"profiles": [{"identifier": "HTTPS://IDP/ANN", "domain": "idp"}]}
    _error(call("entity.create", type_name="member", attributes=dup_profile), 361, "/profiles/identifier")
    _error(call("entity.create", type_name="member", attributes={"address": {"badge": "a1"}}), 361, "/address/badge")
    # case-sensitive: another case is another value
    _ok(call("entity.create", type_name="member",
             attributes={"profiles": [{"identifier": "other", "domain": "d", "handle": "ann"}]}))
    _error(call("entity.create", type_name="member",
                attributes={"profiles": [{"identifier": "third", "domain": "d", "handle": "Ann"}]}),
           361, "/profiles/handle")
    batch = [{"profiles": [{"identifier": "p1", "domain": "d"}]}, {"profiles": [{"identifier": "P1", "domain": "d"}]},
             {"profiles": [{"identifier": "https://idp/ann", "domain": "d"}]},
             {"profiles": [{"identifier": "p2", "domain": "d"}, {"identifier": "p2", "domain": "e"}]},
             {"address": {"badge": "B2"}}]
    body = _ok(call("entity.bulkCreate", type_name="member", all_attributes=batch))
    slots = [r["attribute_name"] if isinstance(r, dict) else None for r in body["results"]]
    assert slots == [None, "/profiles/identifier", "/profiles/identifier", "/profiles/identifier", None]
    assert call("entity.count", type_name="member")["total_count"] == 4


def test_locally_unique_children_differ_within_one_plural_only(call: Call) -> None:
    key, _ = _member(call)
    _error(call("entity.create", type_name="member", attributes={"statuses": [{"status": "a"}, {"status": "A"}]}),
           361, "/statuses/status")
    _ok(call("entity.create", type_name="member", attributes={"statuses": [{"status": "new"}]}))  # other record
    friends_twice = {"profiles": [{"identifier": "q1", "domain": "d", "friends": [{"identifier": "f"}]},
                                  {"identifier": "q2", "domain": "d", "friends": [{"identifier": "f"}]}]}
    _ok(call("entity.create", type_name="member", attributes=friends_twice))  # one per plural: fine
    _error(call("entity.update", **key, attributes={"statuses": [{"status": "NEW"}]}), 361, "/statuses/status")
    _error(call("entity.update", **key, attribute_name="statuses", attributes=[{"status": "active"}]),
           361, "/statuses/status")
    assert len(_read(call, key)["statuses"]) == 2


def test_writes_keep_the_nested_unique_index_right(call: Call) -> None:
    key, record = _member(call)
    other_key, _ = _member(call, {"profiles": [{"identifier": "bee", "domain": "d"}]})
    _error(call("entity.update", **other_key, attribute_name="profiles",
                attributes=[{"identifier": "https://idp/ANN", "domain": "d"}]), 361, "/profiles/identifier")
    _error(call("entity.replace", **other_key, attributes={"address": {"badge": "a1"}}), 361, "/address/badge")
    profile_id = record["profiles"][0]["id"]
    _ok(call("entity.update", **key, attribute_name=f"profiles#{profile_id}", attributes={"identifier": "ann2"}))
    _ok(call("entity.update", **other_key, attribute_name="profiles",
             attributes=[{"identifier": "https://idp/ann", "domain": "d"}]))  # freed by the update above
    _ok(call("entity.delete", **key))
    _ok(call("entity.create", type_name="member", attributes={"profiles": [{"identifier": "ANN2", "domain": "d"}],
                                                               "address": {"badge": "A1"}}))  # freed by the delete


# -- preconditions ---------------------------------------------------------------------------------

def test_created_and_last_updated_preconditions(call: Call) -> None:
    key, record = _member(call)
    created, updated = record["created"], record["lastUpdated"]
    iso = created[:10] + "T" + created[11:26] + "Z"
    _ok(call("entity.update", **key, created=iso, lastUpdated=updated, attributes={"givenName": "B"}))
    body = _error(call("entity.update", **key, lastUpdated=updated, attributes={"givenName": "C"}), 330)
    assert body["error"] == "timestamp_mismatch"
    assert body["error_description"] == "the created or lastUpdated value does not match the supplied argument"
    _error(call("entity.replace", **key, created="2001-01-01T00:00:00Z", attributes={}), 330)
    _error(call("entity.delete", **key, lastUpdated=updated), 330)
    _error(call("entity.delete", **key, lastUpdated="not a time"), 200)
    assert _read(call, key)["givenName"] == "B"                         # nothing written after the first
    now = _read(call, key)["lastUpdated"]
    _ok(call("entity.delete", **key, created=created, lastUpdated=now))
    _error(call("entity", **key), 310)


# -- passwords -------------------------------------------------------------------------------------

def test_passwords_read_back_as_hash_objects(call: Call) -> None:
    key, record = _member(call, {"email": "p@x.com", "password": "correct horse"})
    stored = record["password"]
    assert stored["type"] == "password-bcrypt" and set(stored) == {"type", "value"}
    assert re.fullmatch(r"\$2a\$04\$[./A-Za-z0-9]{53}", stored["value"]) and "correct" not in str(record)
    migrated = {"type": "password-md5", "value": "5f4dcc3b5aa765d61d8327deb882cf99", "salt": "s4lt"}
    key2, record2 = _member(call, {"email": "q@x.com", "password": migrated})
    assert record2["password"] == migrated
    _, record3 = _member(call, {"email": "r@x.com", "password": {"type": "password-bcrypt", "value": "$2a$10$x"}})
    assert record3["password"] == {"type": "password-bcrypt", "value": "$2a$10$x"}   # no salt added
    assert _ok(call("entity", **key, attribute_name="password"))["result"] == stored
    picked = _ok(call("entity", **key2, attributes=["password", "email"]))["result"]
    assert picked == {"password": migrated, "email": "q@x.com"}
    found = _ok(call("entity.find", type_name="member", filter="email = 'q@x.com'", attributes=["password"]))
    assert found["results"] == [{"password": migrated}]
    _ok(call("entity.update", **key, attribute_name="password", value=json.dumps("another one")))
    changed = _read(call, key)["password"]
    assert changed["type"] == "password-bcrypt" and changed["value"] != stored["value"]
    _ok(call("entity.delete", **key, attribute_name="password"))
    assert _read(call, key)["password"] is None


# -- records shaped like real ones -----------------------------------------------------------------

EXPORTED = {
    "uuid": "4c7ad2b3-2b4b-4a5e-9a1c-8a9f0f3c1d11",
    "created": "2013-06-26 19:22:52.823252 +0000",
    "aboutMe": None,
    "email": "Jane.Doe@Example.com",
    "emailVerified": "2013-07-16 18:44:04.120000 +0000",
    "password": {"value": "$2a$04$e2XjQ7v3ihYZ5rNfM0xH1uF0zK2aMkcm3xq9H8yqkL5VwU0xQO3mC", "type": "password-bcrypt"},
    "lastLogin": None,
    "givenName": "Jane",
    "familyName": "Doe",
    "birthday": "1978-07-22",
    "display": {"theme": ["dark"], "n": 1},
    "primaryAddress": {"city": None, "zip": "02139", "phone": None},
    "photos": [],
    "statuses": [{"status": "active", "statusCreated": "2013-06-26 19:22:52.823252 +0000"}],
    "profiles": [{"identifier": "https://www.facebook.com/profile.php?id=1", "domain": "facebook.com",
                  "accessCredentials": {"accessToken": "t", "expires": 1372276972}, "friends": [],
                  "profile": {"displayName": "Jane Doe", "name": {"givenName": None}}}],
}


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _element_ids(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [i for k, v in value.items() for i in ([v] if k == "id" else _element_ids(v))]
    if isinstance(value, list):
        return [i for v in value for i in _element_ids(v)]
    return []


def test_records_shaped_like_real_exports_read_back_unchanged(call: Call) -> None:
    sent = copy.deepcopy(EXPORTED)
    made = _ok(call("entity.create", type_name="classic", attributes=sent, include_record="true"))
    assert made["uuid"] == EXPORTED["uuid"] and sent == EXPORTED
    second = {**copy.deepcopy(EXPORTED), "uuid": str(uuid.uuid4()), "email": "other@example.com",
              "profiles": [{"identifier": "https://twitter.com/2", "domain": "twitter.com", "accessCredentials": None,
                            "friends": [], "profile": {"displayName": None, "name": {"givenName": None}}}]}
    bulk = _ok(call("entity.bulkCreate", type_name="classic", all_attributes=[second]))
    assert bulk["uuid_results"] == [second["uuid"]]
    for original, uid in ((EXPORTED, made["uuid"]), (second, second["uuid"])):
        got = _ok(call("entity", type_name="classic", uuid=uid))["result"]
        assert _without_ids({k: v for k, v in got.items() if k not in ("id", "lastUpdated")}) == original
        ids = _element_ids({k: got[k] for k in ("statuses", "profiles")})
        assert ids and all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    assert made["result"] == _ok(call("entity", type_name="classic", uuid=made["uuid"]))["result"]


# -- filters: a dateTime against a date alone ------------------------------------------------------

def test_a_date_alone_compares_with_datetimes_as_midnight_utc(call: Call) -> None:
    seen = ["2015-12-31T23:59:59.999999Z", "2016-01-01T00:00:00Z", "2016-01-01 12:00:00 +0000",
            "2016-01-02T00:00:00+01:00", "2016-01-02T00:00:00Z"]
    body = _ok(call("entity.bulkCreate", type_name="member", all_attributes=[{"seen": s} for s in seen]))
    ids = body["results"]

    def found(flt: str) -> list[int]:
        results = _ok(call("entity.find", type_name="member", filter=flt, sort_on=["id"]))["results"]
        assert call("entity.count", type_name="member", filter=flt)["total_count"] == len(results)
        return [r["id"] for r in results]

    assert found("seen >= '2016-01-01'") == ids[1:]
    assert found("seen < '2016-01-02'") == ids[:4]           # 00:00+01:00 is 23:00 UTC the day before
    assert found("seen = '2016-01-02'") == ids[4:]
    assert found("seen > '2016-01-01' and seen < '2016-01-02'") == ids[2:4]
    assert found("lastUpdated >= '2000-01-01' and created < '9999-01-02'") == ids
    assert found("lastUpdated < '2000-01-01'") == []
    _error(call("entity.find", type_name="member", filter="seen > '2016-13-01'"), 200)


def test_datetimes_stored_without_a_fraction_compare_as_moments() -> None:
    """Values supplied without a fraction are stored without one (``2013-07-16 18:44:04 +0000``): a
    comparison must not depend on the shape, so run the compiled SQL over both shapes directly."""
    schema = load_schema(DATA / "member.schema.json")
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE entities (id INTEGER, created TEXT, last_updated TEXT, data TEXT)")
    stored = ["2013-07-16 18:44:04 +0000", "2013-07-16 18:44:04.000000 +0000", "2013-07-16 18:44:04.5 +0000",
              "2013-07-16 18:44:05 +0000", "2013-07-15 23:59:59 +0000"]
    db.executemany("INSERT INTO entities VALUES (?, ?, ?, ?)",
                   [(i, s, s, json.dumps({"seen": s, "statuses": [{"statusCreated": s}]}))
                    for i, s in enumerate(stored)])
    cases = {"= '2013-07-16 18:44:04'": [0, 1], ">= '2013-07-16T18:44:04Z'": [0, 1, 2, 3],
             "> '2013-07-16 18:44:04.4'": [2, 3], "< '2013-07-16'": [4], ">= '2013-07-16'": [0, 1, 2, 3],
             "!= '2013-07-16 18:44:04.000000 +0000'": [2, 3, 4]}
    for name in ("seen", "created", "statuses.statusCreated"):
        for test, expected in cases.items():
            where, args = compile_filter(f"{name} {test}", schema)
            rows = db.execute(f"SELECT id FROM entities e WHERE {where} ORDER BY id", args).fetchall()
            assert [r[0] for r in rows] == expected, (name, test)


def test_sort_on_a_datetime_orders_by_moment_whatever_its_stored_shape() -> None:
    """``18:44:04 +0000`` (stored without a fraction) sorts before ``18:44:04.25 +0000``: as text too, since
    every stored value ends in `` +0000`` and ``' '`` sorts before ``'.'``, so sort_on needs no conversion."""
    schema = load_schema(DATA / "member.schema.json")
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE entities (id INTEGER, data TEXT)")
    stored = ["2013-07-16 18:44:04.5 +0000", "2013-07-16 18:44:05 +0000", "2013-07-16 18:44:04 +0000",
              "2013-07-16 18:44:04.25 +0000"]
    db.executemany("INSERT INTO entities VALUES (?, ?)", [(i, json.dumps({"seen": s})) for i, s in enumerate(stored)])
    for sort_on, expected in ((["seen"], [2, 3, 0, 1]), (["-seen"], [1, 0, 3, 2])):
        rows = db.execute(f"SELECT id FROM entities e ORDER BY {compile_sort(sort_on, schema)}").fetchall()
        assert [r[0] for r in rows] == expected, sort_on

"""The Entity API operations over real HTTP: shapes, errors and their classification order."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from loadgen.sandbox import Sandbox
from loadgen.schema import default_schema

Call = Callable[..., dict[str, Any]]

ALICE = {"email": "Alice@Example.com", "givenName": "Alice", "birthday": "1881-01-29 00:00:00",
         "statuses": [{"status": "active", "statusCreated": "2015-12-15T07:36:25Z"}],
         "primaryAddress": {"city": "Lyon"}, "password": "s3cret!"}


def _is_error(body: dict, code: int) -> None:
    assert body["stat"] == "error", body
    assert body["code"] == code, body
    assert re.fullmatch(r"[a-z0-9]{16}", body["request_id"])
    assert body["error"] and body["error_description"]


def test_create_returns_id_and_uuid_and_the_full_record(call: Call) -> None:
    body = call("entity.create", type_name="user", attributes=ALICE, include_record="true")
    assert body["stat"] == "ok" and isinstance(body["id"], int)
    assert uuid.UUID(body["uuid"]).version == 4
    record = body["result"]
    names = [a.name for a in default_schema().attributes]
    assert list(record) == names                                   # every schema attribute, in order
    assert set(record["password"]) == {"type", "value"}            # the stored hash, never the clear text
    assert record["password"]["type"] == "password-bcrypt"
    assert re.fullmatch(r"\$2a\$04\$[./A-Za-z0-9]{53}", record["password"]["value"])
    assert record["middleName"] is None and record["photos"] == []  # unset: null and []
    assert record["birthday"] == "1881-01-29"                      # time part dropped
    assert record["primaryAddress"]["city"] == "Lyon" and record["primaryAddress"]["zip"] is None
    status = record["statuses"][0]
    assert isinstance(status["id"], int) and status["statusCreated"] == "2015-12-15 07:36:25 +0000"  # none sent
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \+0000", record["created"])
    plain = call("entity.create", type_name="user", attributes={"email": "b@example.com"})
    assert set(plain) == {"id", "uuid", "stat"} and plain["id"] > body["id"]


def test_entity_by_uuid_id_and_key(call: Call) -> None:
    made = call("entity.create", type_name="user", attributes=ALICE)
    by_uuid = call("entity", method="GET", type_name="user", uuid=made["uuid"])["result"]
    by_id = call("entity", type_name="user", id=str(made["id"]))["result"]
    by_key = call("entity", type_name="user", key_attribute="email", key_value='"alice@EXAMPLE.com"')["result"]
    assert by_uuid == by_id == by_key and by_uuid["givenName"] == "Alice"
    picked = call("entity", type_name="user", id=str(made["id"]), attributes=["email", "primaryAddress.city"])
    assert picked["result"] == {"email": "Alice@Example.com", "primaryAddress": {"city": "Lyon"}}
    _is_error(call("entity", type_name="user", uuid=str(uuid.uuid4())), 310)
    _is_error(call("entity", type_name="user", uuid="not-a-uuid"), 200)
    _is_error(call("entity", type_name="user", id="1", uuid=made["uuid"]), 201)
    _is_error(call("entity", type_name="user"), 100)
    _is_error(call("entity", type_name="user", key_attribute="givenName", key_value='"Alice"'), 200)


def test_duplicate_email_is_361_case_insensitively(call: Call) -> None:
    call("entity.create", type_name="user", attributes=ALICE)
    body = call("entity.create", type_name="user", attributes={"email": "ALICE@example.COM"})
    _is_error(body, 361)
    assert body["attribute_name"] == "/email"
    assert call("entity.count", type_name="user")["total_count"] == 1


def test_bulk_create_positional_results_and_per_record_errors(sandbox: Sandbox, call: Call) -> None:
    batch = [{"email": "one@x.com"}, {"email": "ONE@x.com"}, {"email": 5}, {"nope": 1},
             {"email": "two@x.com", "id": 3}, "not an object", {"email": "three@x.com"}]
    body = call("entity.bulkCreate", type_name="user", all_attributes=batch)
    assert body["stat"] == "ok"
    uuids, ids = body["uuid_results"], body["results"]
    assert len(uuids) == len(ids) == len(batch)
    codes = [r["code"] if isinstance(r, dict) else None for r in ids]
    assert codes == [None, 361, 341, 223, 320, 341, None]
    assert [r["code"] if isinstance(r, dict) else None for r in uuids] == codes
    for slot in ids:
        if isinstance(slot, dict):
            assert slot["stat"] == "error" and slot["error"] and slot["error_description"]
    assert ids[1]["attribute_name"] == "/email" and ids[3]["attribute_name"] == "/nope"
    assert call("entity.count", type_name="user")["total_count"] == 2
    assert sandbox.stats()["errors"] == {"361": 1, "341": 2, "223": 1, "320": 1}   # per-record errors count
    got = call("entity", type_name="user", uuid=uuids[6])["result"]
    assert got["id"] == ids[6] and got["email"] == "three@x.com"


def test_bulk_create_envelope_errors_create_nothing(sandbox: Sandbox, call: Call) -> None:
    good = [{"email": f"e{i}@x.com"} for i in range(3)]
    cases = [
        ({"type_name": "user"}, 100, "all_attributes"),
        ({"all_attributes": good}, 100, "type_name"),
        ({"type_name": "nope", "all_attributes": good}, 222, "type_name"),
        ({"type_name": "user", "all_attributes": '[{"email": "a@x.com"},'}, 200, "all_attributes"),
        ({"type_name": "user", "all_attributes": {"email": "a@x.com"}}, 200, "all_attributes"),
        ({"type_name": "user", "all_attributes": [{"email": "a@x.com"}] * 2001}, 200, "all_attributes"),
    ]
    for params, code, argument in cases:
        body = call("entity.bulkCreate", **params)
        _is_error(body, code)
        assert body["argument_name"] == argument
        assert "results" not in body and "uuid_results" not in body
    assert sandbox.stats()["records"]["user"] == 0


def test_unparseable_json_is_exactly_200_invalid_argument(call: Call) -> None:
    bad = ['{"email": NaN}', '{"a": Infinity}', '{"a": 1,}', "{'a': 1}", '{"a": 1} x', '{"a": 1 /* c */}',
           '{"a": "\\ud800"}', '{"a": "tab\there"}', '["x"', ""]
    for text in bad:
        body = call("entity.create", type_name="user", attributes=text)
        _is_error(body, 200)
        assert body["argument_name"] == "attributes"
        assert body["error"] == "invalid_argument"
    assert call("entity.create", type_name="user", attributes='{"email": "x@x.com", "email": "y@x.com"}')[
        "code"] == 200
    deep = '{"aboutMe": ' + "[" * 70 + "]" * 70 + "}"
    assert call("entity.create", type_name="user", attributes=deep)["code"] == 200
    assert call("entity.create", type_name="user", attributes="[1, 2]")["argument_name"] == "attributes"
    first = call("entity.create", type_name="user", attributes="{nope")
    assert first["error_description"] == ("attributes was not valid for the following reason: "
                                          "the JSON is not syntactically valid")


def test_classification_order(sandbox: Sandbox, call: Call) -> None:
    # missing params (100) before type_name (222) before parsing (200) before validation
    _is_error(call("entity.create", type_name="nope"), 100)
    _is_error(call("entity.create", type_name="nope", attributes="{bad"), 222)
    _is_error(call("entity.create", type_name="user", attributes="{bad"), 200)
    # per-attribute order: 223 before 341 before 363 ... before 320 and 234
    body = call("entity.create", type_name="user",
                attributes={"lastUpdated": "x", "id": 4, "givenName": 5, "zzz": 1})
    assert (body["code"], body["attribute_name"]) == (223, "/zzz")
    body = call("entity.create", type_name="user", attributes={"lastUpdated": "x", "id": 4, "gender": "x" * 101})
    assert (body["code"], body["attribute_name"]) == (363, "/gender")
    assert call("entity.create", type_name="user", attributes={"lastUpdated": "x", "id": 4})["code"] == 320
    assert call("entity.create", type_name="user", attributes={"birthday": "1999-02-30"})["code"] == 342
    assert call("entity.create", type_name="user", attributes={"givenName": "bell\x07"})["code"] == 360
    # auth (402) comes before everything, without credentials
    anonymous = httpx.post(f"{sandbox.url}/entity.create", data={"type_name": "nope"}).json()
    _is_error(anonymous, 402)


def test_created_and_uuid_may_be_supplied(call: Call) -> None:
    mine = str(uuid.uuid4())
    made = call("entity.create", type_name="user", include_record="true",
                attributes={"email": "m@x.com", "uuid": mine, "created": "2001-02-03T04:05:06Z"})
    assert made["uuid"] == mine and made["result"]["created"] == "2001-02-03 04:05:06.000000 +0000"
    again = call("entity.create", type_name="user", attributes={"email": "n@x.com", "uuid": mine})
    _is_error(again, 361)
    assert call("entity.create", type_name="user", attributes={"uuid": "zzz"})["code"] == 200


def test_update_replace_and_delete(call: Call) -> None:
    made = call("entity.create", type_name="user", attributes=ALICE)
    key = {"type_name": "user", "uuid": made["uuid"]}
    before = call("entity", **key)["result"]
    assert call("entity.update", **key, attributes={"familyName": "Liddell", "primaryAddress": {"zip": "1"},
                                                   "middleName": None})["stat"] == "ok"
    after = call("entity", **key)["result"]
    assert after["familyName"] == "Liddell" and after["givenName"] == "Alice"
    assert after["primaryAddress"]["city"] == "Lyon" and after["primaryAddress"]["zip"] == "1"
    assert after["lastUpdated"] > before["lastUpdated"] and after["created"] == before["created"]
    status_id = after["statuses"][0]["id"]
    call("entity.update", **key, attributes={"statuses": [{"id": status_id, "status": "gone"}, {"status": "new"}]})
    statuses = call("entity", **key)["result"]["statuses"]
    assert statuses[0]["id"] == status_id and statuses[0]["status"] == "gone" and statuses[1]["id"] > status_id
    _is_error(call("entity.update", **key, attributes={"statuses": [{"id": 999999, "status": "x"}]}), 310)
    _is_error(call("entity.update", **key, attributes={"id": 5}), 234)
    other = call("entity.create", type_name="user", attributes={"email": "other@x.com"})
    _is_error(call("entity.update", type_name="user", uuid=other["uuid"], attributes={"email": "alice@example.com"}),
              361)
    assert call("entity.replace", **key, value={"email": "alice@example.com", "givenName": "A"})["stat"] == "ok"
    replaced = call("entity", **key)["result"]
    assert replaced["givenName"] == "A" and replaced["familyName"] is None and replaced["statuses"] == []
    assert call("entity.delete", **key)["stat"] == "ok"
    _is_error(call("entity", **key), 310)
    _is_error(call("entity.delete", **key), 310)
    # the freed email can be used again
    assert call("entity.create", type_name="user", attributes={"email": "ALICE@example.com"})["stat"] == "ok"


def test_entity_type_count_and_unknown_operation(call: Call, http: httpx.Client) -> None:
    body = call("entityType", method="GET", type_name="user")
    assert body["stat"] == "ok" and body["schema"]["name"] == "user"
    assert {d["name"] for d in body["schema"]["attr_defs"]} >= {"email", "statuses", "primaryAddress"}
    _is_error(call("entityType", type_name="nope"), 222)
    call("entity.create", type_name="user", attributes={"email": "c@x.com"}, timeout="10", application_id="x")
    assert call("entity.count", method="GET", type_name="user")["total_count"] == 1
    unknown = http.post("/entity.frobnicate", data={"type_name": "user"})
    assert unknown.status_code == 200
    _is_error(unknown.json(), 200)
    _is_error(http.get("/entity.create", params={"type_name": "user", "attributes": "{}"}).json(), 200)
    _is_error(http.get("/_sandbox/nothing").json(), 200)


def test_stats_count_requests_and_errors(sandbox: Sandbox, call: Call) -> None:
    call("entity.create", type_name="user", attributes={"email": "s@x.com"})
    call("entity.create", type_name="user", attributes={"email": "s@x.com"})
    stats = sandbox.stats()
    assert stats == {"records": {"user": 1}, "requests": {"entity.create": 2}, "errors": {"361": 1}}

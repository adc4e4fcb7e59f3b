"""The entity-type model: loading Capture's own format, the shared validator, normalisation, uniqueness keys."""

from __future__ import annotations

import copy
import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen import schema as schema_module
from loadgen.errors import CaptureError, Code, UsageError
from loadgen.schema import (
    ORDER,
    SYSTEM_ATTRIBUTES,
    Attribute,
    Schema,
    Violation,
    default_schema,
    load_schema,
    normalize,
    unique_key,
    validate,
)
from loadgen.wire import format_timestamp, parse_date, parse_datetime

SHIPPED = Path(__file__).resolve().parent.parent / "profiles" / "user.schema.json"

FULL: dict[str, Any] = {
    "email": "maria.garcia.r7w3k2.000123@example.com",
    "givenName": "María", "middleName": "José", "familyName": "García", "displayName": "María García",
    "gender": "female", "birthday": "1987-04-12", "aboutMe": "Likes hiking.\nAnd tea.",
    "currentLocation": "Madrid, ES", "emailVerified": "2024-03-01T10:11:12Z",
    "lastLogin": "2024-05-01 08:00:00.123456 +0000", "password": "correct horse battery staple",
    "primaryAddress": {"company": "Acme SL", "address1": "Calle Mayor 5", "address2": "3B", "city": "Madrid",
                       "stateAbbreviation": "MD", "zip": "28013", "zipPlus4": None, "country": "Spain",
                       "phone": "+34 912 345 678", "mobile": "+34 612 345 678"},
    "statuses": [{"status": "active", "statusCreated": "2023-01-02T03:04:05Z"},
                 {"status": "verified", "statusCreated": "2023-02-02T03:04:05.5+01:00"}],
    "photos": [{"type": "avatar", "value": "https://example.com/a.png"}],
    "profiles": [{"domain": "facebook.com", "identifier": "http://www.facebook.com/profile.php?id=1",
                  "accessCredentials": {"accessToken": "x"}, "profile": {"name": {"givenName": "María"}}}],
    "display": {"theme": "dark"},
}


def custom(*defs: dict[str, Any]) -> Schema:
    return load_schema({"name": "thing", "attr_defs": list(defs)})


def codes(violations: list[Violation]) -> list[tuple[int, str]]:
    return [(v.code.value, v.path) for v in violations]


def with_(**changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(FULL)
    record.update(changes)
    return record


# -- the shipped schema and loading ----------------------------------------------------------------

def test_default_schema_is_the_classic_user_type() -> None:
    s = default_schema()
    assert s.name == "user"
    assert [a.name for a in s.attributes[:4]] == list(SYSTEM_ATTRIBUTES)
    email = s["email"]
    assert (email.type, email.length, email.case_sensitive) == ("string", 256, False)
    assert email.constraints == {"unique"} and email.unique and not email.required  # no email-address
    assert s.unique == (email,)
    assert s["givenName"].constraints == {"unicode-printable"} and s["givenName"].length == 1000
    assert s["birthday"].type == "date" and s["password"].is_password and s["lastLogin"].type == "dateTime"
    address = s["primaryAddress"]
    assert address.is_object and [a.name for a in address.attrs] == [
        "company", "address1", "address2", "city", "stateAbbreviation", "zip", "zipPlus4", "country",
        "phone", "mobile"]
    assert all(a.type == "string" and a.length for a in address.attrs)
    zip_attr = address.child("zip")
    assert zip_attr is not None and zip_attr.path == "/primaryAddress/zip" and zip_attr.length == 100
    assert s.find("/primaryAddress/zip") == zip_attr and s.find("/nope/zip") is None
    statuses = s["statuses"]
    assert statuses.is_plural and statuses.child("statusCreated") == Attribute(
        "statusCreated", "dateTime", "/statuses/statusCreated")
    for plural in ("photos", "profiles", "statuses"):
        assert s[plural].is_plural
    identifier = s.find("/profiles/identifier")
    assert identifier is not None and identifier.required and identifier.unique and identifier.length == 1000
    assert s.find("/profiles/profile/name/honorificPrefix") == Attribute(
        "honorificPrefix", "string", "/profiles/profile/name/honorificPrefix")  # "length": null
    assert s["display"].type == "json" and s.get("clients") is None
    assert s["id"].is_system and s["created"].is_system and not s["email"].is_system
    assert statuses.child("id") is None  # the reference lists no element id: the server assigns it anyway
    assert s.get("nope") is None
    with pytest.raises(KeyError):
        s["nope"]


def test_both_forms_and_a_mapping_load_the_same_schema() -> None:
    wrapped = json.loads(SHIPPED.read_text())
    assert wrapped["stat"] == "ok"
    a, b, c = load_schema(SHIPPED), load_schema(wrapped), load_schema(wrapped["schema"])
    d = load_schema(str(SHIPPED))
    assert a == b == c == d
    assert len({a.fingerprint, b.fingerprint, c.fingerprint, d.fingerprint}) == 1
    assert len(a.fingerprint) == 64 and hash(a) == hash(c)
    # the shipped file is the reference as Janrain's SDK ships it: no system attributes, so raw gains them
    assert a.raw["attr_defs"][4:] == wrapped["schema"]["attr_defs"]
    assert [d["name"] for d in a.raw["attr_defs"][:4]] == list(SYSTEM_ATTRIBUTES)


def test_system_attributes_are_added_when_absent_also_to_raw() -> None:
    s = custom({"name": "color", "type": "string", "length": 10})
    assert [a.name for a in s.attributes] == [*SYSTEM_ATTRIBUTES, "color"]
    assert [d["name"] for d in s.raw["attr_defs"]] == [*SYSTEM_ATTRIBUTES, "color"]
    assert s["uuid"].type == "uuid" and s["created"].type == "dateTime"
    assert s.fingerprint != default_schema().fingerprint


def test_a_schema_pickles_and_copies_and_can_be_built_directly() -> None:
    s = default_schema()
    for clone in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert clone == s and clone.fingerprint == s.fingerprint and clone is not s
        assert codes(validate(with_(givenName="Ann\nMarie"), clone)) == [(360, "/givenName")]
    direct = Schema("t", (Attribute("a", "string", "/a", length=3),), {"name": "t", "attr_defs": []})
    assert codes(validate({"a": "abcd", "id": 1, "b": 2}, direct)) == [(223, "/b"), (363, "/a"), (320, "/id")]


def test_default_schema_is_found_in_a_checkout_and_in_an_installed_wheel(tmp_path: Path) -> None:
    checkout = tmp_path / "src"
    (checkout / "loadgen").mkdir(parents=True)
    (checkout / "profiles").mkdir()
    assert schema_module._profiles_dir(checkout / "loadgen") == checkout / "profiles"
    wheel = tmp_path / "site-packages" / "loadgen"
    shutil.copytree(SHIPPED.parent, wheel / "_profiles")
    found = schema_module._profiles_dir(wheel)
    assert found == wheel / "_profiles"
    assert load_schema(found / "user.schema.json") == default_schema()


BAD_SCHEMAS: list[tuple[str, str]] = [
    ("{", "the JSON is not syntactically valid: Expecting property name"),
    ('{"a": NaN}', "the JSON is not syntactically valid: NaN is not JSON"),
    ("7", "expected a JSON object"),
    ('{"name": 5, "attr_defs": []}', "bad 'name' 5"),
    ('{"name": "user"}', "missing 'attr_defs'"),
    ('{"name": "user", "attr_defs": {}}', "'attr_defs' must be a list"),
    ('{"stat": "error", "code": 222, "error_description": "unknown entity type"}', "is an error response"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "strng"}]}', "attr_defs[0] (a): unknown type 'strng'"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "object", "attr_defs": [{"name": "b", "type": "string"},'
     '{"name": "zip", "type": "strng"}]}]}', "attr_defs[0].attr_defs[1] (zip): unknown type 'strng'"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "string", "length": 0}]}', "(a): bad length 0"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "string", "length": "9"}]}', "(a): bad length '9'"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "string", "length": true}]}', "(a): bad length True"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "string", "constraints": ["uniq"]}]}',
     "(a): unknown constraint 'uniq'"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "string", "constraints": "unique"}]}',
     "(a): 'constraints' must be a list"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "string", "case-sensitive": "no"}]}',
     "(a): 'case-sensitive' must be true or false"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "string"}, {"name": "a", "type": "date"}]}',
     "attr_defs[1] (a): duplicate attribute name"),
    ('{"name": "u", "attr_defs": [{"type": "string"}]}', "attr_defs[0]: missing or bad 'name'"),
    ('{"name": "u", "attr_defs": [7]}', "attr_defs[0]: must be an object"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "plural"}]}', "(a): an plural needs 'attr_defs'"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "string", "attr_defs": []}]}',
     "(a): only object and plural"),
    ('{"name": "u", "attr_defs": [{"name": "id", "type": "string"}]}', "system attribute 'id' must have type"),
    ('{"name": "u", "attr_defs": [{"name": "a", "type": "password-"}]}', "unknown type 'password-'"),
    ('{"name": "u", "attr_defs": [{"name": "seen", "type": "version"}]}',
     "attr_defs[0] (seen): type 'version' is only the older type of lastUpdated"),
    ('[{"name": "a", "type": "strng"}]', "attr_defs[0] (a): unknown type 'strng'"),
    ('{"name": "u", "attr_defs": []}', "no attributes besides the system ones"),
    ('{"name": "u", "attr_defs": [{"name": "uuid", "type": "uuid"}]}', "no attributes besides the system ones"),
]


def test_a_schema_file_that_is_not_json_says_so_once(tmp_path: Path) -> None:
    """It read "not valid JSON: the JSON is not syntactically valid: ..."."""
    path = tmp_path / "x.json"
    path.write_text('{"a": NaN}')
    with pytest.raises(UsageError) as info:
        load_schema(path)
    assert str(info.value) == f"{path}: the JSON is not syntactically valid: NaN is not JSON"


@pytest.mark.parametrize(("text", "problem"), BAD_SCHEMAS)
def test_a_bad_schema_file_gets_one_line_naming_the_file_and_the_problem(
        tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_schema(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message


def test_a_missing_file_and_a_directory_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.json: no such file$"):
        load_schema(tmp_path / "nope.json")
    with pytest.raises(UsageError, match="cannot read"):
        load_schema(tmp_path)
    with pytest.raises(UsageError, match=r"^<schema>: missing 'name'"):
        load_schema({"attr_defs": []})
    with pytest.raises(UsageError, match=r"^<schema>: not JSON-serialisable"):
        load_schema({"name": "u", "attr_defs": [{"name": "a", "type": "string", "description": {1, 2}}]})


def test_the_shapes_clients_hold_load_the_same_type(tmp_path: Path) -> None:
    """The /entityType body, its inner object and the SDKs' bare attr_defs list are one schema."""
    body = json.loads(SHIPPED.read_text())
    bare = body["schema"]["attr_defs"]
    for name in ("user.json", "user.schema.json"):
        (tmp_path / name).write_text(json.dumps(bare))
        assert load_schema(tmp_path / name) == default_schema()  # the name comes from the file name
    assert load_schema(bare, type_name="user") == load_schema(body["schema"]) == default_schema()
    (tmp_path / "member.schema.json").write_text(json.dumps(bare))
    assert load_schema(tmp_path / "member.schema.json").name == "member"
    assert load_schema(tmp_path / "member.schema.json", type_name="person").name == "person"
    assert load_schema(SHIPPED, type_name="person").name == "user"  # a schema that names itself keeps it
    with pytest.raises(UsageError, match=r"^<schema>: missing 'name' \(the entity type name\): add it"):
        load_schema(bare)


def test_older_schemas_version_and_plain_password_types() -> None:
    s = custom({"name": "lastUpdated", "type": "version"}, {"name": "password", "type": "password"})
    assert s["lastUpdated"].type == "dateTime" and s["password"].is_password
    assert validate({"password": "secret"}, s) == []
    assert validate({"password": {"type": "password-bcrypt", "value": "$2a$04$x"}}, s) == []
    assert codes(validate({"lastUpdated": "2015-12-15T07:36:25Z"}, s)) == [(234, "/lastUpdated")]


def test_the_unknown_attribute_message_is_capture_s_own() -> None:
    (violation,) = validate({"emailer": "x"}, default_schema())
    assert (violation.code, violation.message) == (Code.UNKNOWN_ATTRIBUTE, "attribute does not exist: /emailer")
    (nested,) = validate({"primaryAddress": {"planet": "Mars"}}, default_schema())
    assert nested.message == "attribute does not exist: /primaryAddress/planet"


def test_compact_dates_are_valid_and_stored_with_dashes() -> None:
    s = default_schema()
    assert validate({"birthday": "19780722"}, s) == []
    assert normalize({"birthday": "19780722"}, s) == {"birthday": "1978-07-22"}
    assert normalize({"birthday": "1978-07-22 00:00:00"}, s) == {"birthday": "1978-07-22"}
    assert codes(validate({"birthday": "19781322"}, s)) == [(342, "/birthday")]
    assert parse_date("19780722") == parse_date("1978-07-22")


def test_every_documented_type_and_constraint_loads() -> None:
    types = ["string", "boolean", "integer", "decimal", "date", "dateTime", "ipAddress", "json",
             "password-bcrypt", "password-md5", "uuid", "id"]
    s = custom(*({"name": f"a{i}", "type": t} for i, t in enumerate(types)),
               {"name": "s", "type": "string", "length": None, "case-sensitive": True, "features": ["x"],
                "constraints": sorted(schema_module.CONSTRAINTS)})
    assert [s[f"a{i}"].type for i in range(len(types))] == types
    assert s["s"].constraints == schema_module.CONSTRAINTS and s["s"].case_sensitive


# -- validate: the valid path and the documented coercions -----------------------------------------

def test_a_full_profile_is_valid_and_validate_does_not_change_it() -> None:
    record = copy.deepcopy(FULL)
    assert validate(record, default_schema()) == []
    assert record == FULL


@pytest.mark.parametrize("changes", [
    {"birthday": "1881-01-29 00:00:00"},
    {"birthday": "2000-02-29"},
    {"emailVerified": "2015-12-15T07:36:25Z"},
    {"emailVerified": "2015-12-15T07:36:25.123+05:30"},
    {"emailVerified": "2015-12-15T07:36:25-0800"},
    {"emailVerified": "2013-08-23 12:38:33.475581 +0000"},
    {"emailVerified": "2013-08-23 12:38:33"},
    {"emailVerified": "0999-01-01T00:00:00Z"},
    {"password": {"type": "password-bcrypt", "value": "$2a$10$abc", "salt": "s"}},
    {"password": {"type": "password-md5", "value": "5f4dcc3b"}},
    {"created": "2010-01-01T00:00:00Z"},
    {"uuid": "02b0c68d-7d7a-49d8-a88d-022585b0f877"},
    {"email": None, "givenName": None, "primaryAddress": None, "statuses": None},
    {"statuses": [], "primaryAddress": {}},
    {"givenName": "x" * 1000, "displayName": "Zoë 🙂 ‌ née"},
    {"email": "a.b+tag@sub.example.test"},
    {"email": "not-an-email"},  # the real email has only the unique constraint
    {"email": ""},
    {"birthday": "19780722"},  # compact, as a real 2013 call sent it
    {"emailVerified": "2013-07-16 18:44:04 +0000"},
    {"primaryAddress": {"zip": "9" * 100, "city": "x" * 1000}},
    {"profiles": [{"identifier": "id", "domain": "d", "profile": {"name": {"honorificPrefix": "x" * 5000}}}]},
])
def test_input_coercions_of_capture_are_valid(changes: dict[str, Any]) -> None:
    assert validate(with_(**changes), default_schema()) == []


def test_boolean_integer_decimal_ip_and_json_accept_their_values() -> None:
    s = custom({"name": "b", "type": "boolean"}, {"name": "i", "type": "integer"},
               {"name": "d", "type": "decimal"}, {"name": "ip", "type": "ipAddress"}, {"name": "j", "type": "json"})
    records: list[dict[str, Any]] = [
        {"b": True, "i": 0, "d": 1.5, "ip": "10.0.0.255", "j": {"a": [1]}},
        {"b": "false", "i": -(2 ** 63), "d": 3, "ip": "0.0.0.0", "j": "text"},
        {"b": "true", "i": 2 ** 63 - 1, "d": -0.0, "ip": "255.255.255.255", "j": [None]},
        {"b": False, "i": 0, "d": 0, "j": ""}, {"j": 0}, {"j": []}, {"j": {}}, {"j": False}]
    for record in records:
        assert validate(record, s) == [], record


# -- validate: each code, with its path ------------------------------------------------------------

@pytest.mark.parametrize(("changes", "expected"), [
    ({"nickname": "x"}, (223, "/nickname")),
    ({"primaryAddress": {"planet": "Mars"}}, (223, "/primaryAddress/planet")),
    ({"statuses": [{"status": "a", "mood": "b"}]}, (223, "/statuses/mood")),
    ({"email": 5}, (341, "/email")),
    ({"givenName": ["Ann"]}, (341, "/givenName")),
    ({"primaryAddress": "Calle Mayor 5"}, (341, "/primaryAddress")),
    ({"primaryAddress": {"zip": 28013}}, (341, "/primaryAddress/zip")),
    ({"statuses": {"status": "a"}}, (341, "/statuses")),
    ({"statuses": ["active"]}, (341, "/statuses")),
    ({"birthday": 19870412}, (341, "/birthday")),
    ({"password": {"value": "x"}}, (341, "/password")),
    ({"password": {"type": "bcrypt", "value": "x"}}, (341, "/password")),
    ({"password": {"type": "password-md5", "value": "x", "pepper": "y"}}, (341, "/password")),
    ({"password": 1234}, (341, "/password")),
    ({"birthday": "1990-02-30"}, (342, "/birthday")),
    ({"birthday": "1990-13-01"}, (342, "/birthday")),
    ({"birthday": "12/04/1987"}, (342, "/birthday")),
    ({"birthday": "1987-04-12T00:00:00Z"}, (342, "/birthday")),
    ({"birthday": "١٩٨٧-٠٤-١٢"}, (342, "/birthday")),
    ({"lastLogin": "2015-12-15T24:00:00Z"}, (342, "/lastLogin")),
    ({"lastLogin": "2015-12-15"}, (342, "/lastLogin")),
    ({"lastLogin": " 2015-12-15T07:36:25Z"}, (342, "/lastLogin")),
    ({"lastLogin": "2015-12-15T07:36:25+24:00"}, (342, "/lastLogin")),
    ({"lastLogin": "0001-01-01T00:00:00+01:00"}, (342, "/lastLogin")),
    ({"statuses": [{"status": "a", "statusCreated": "yesterday"}]}, (342, "/statuses/statusCreated")),
    ({"profiles": [{"identifier": "i", "domain": "d", "profile": {"published": "2023-02-29T00:00:00Z"}}]},
     (342, "/profiles/profile/published")),
    ({"birthday": "19870230"}, (342, "/birthday")),
    ({"birthday": "1987041"}, (342, "/birthday")),
    ({"givenName": "x" * 1001}, (363, "/givenName")),
    ({"email": "a" * 245 + "@example.com"}, (363, "/email")),
    ({"primaryAddress": {"zip": "1" * 101}}, (363, "/primaryAddress/zip")),
    ({"statuses": [{"status": "s" * 1001}]}, (363, "/statuses/status")),
    ({"profiles": [{"identifier": "x"}]}, (362, "/profiles/domain")),
    ({"profiles": [{"identifier": None, "domain": "d"}]}, (362, "/profiles/identifier")),
    ({"profiles": [{"identifier": "i", "domain": "d", "friends": [{}]}]}, (362, "/profiles/friends/identifier")),
    ({"givenName": "Ann\nMarie"}, (360, "/givenName")),
    ({"familyName": "Null\x00Byte"}, (360, "/familyName")),
    ({"middleName": "bad\ud800surrogate"}, (360, "/middleName")),
    ({"id": 7}, (320, "/id")),
    ({"statuses": [{"id": 3, "status": "a"}]}, (320, "/statuses/id")),
    ({"lastUpdated": "2015-12-15T07:36:25Z"}, (234, "/lastUpdated")),
    ({"uuid": "not-a-uuid"}, (200, "/uuid")),
    ({"uuid": "02b0c68d7d7a49d8a88d022585b0f877"}, (200, "/uuid")),
    ({"uuid": 12}, (341, "/uuid")),
    ({"created": "long ago"}, (342, "/created")),
])
def test_each_violation_has_its_code_and_path(changes: dict[str, Any], expected: tuple[int, str]) -> None:
    assert codes(validate(with_(**changes), default_schema())) == [expected]


def test_scalar_types_reject_wrong_json_types() -> None:
    s = custom({"name": "b", "type": "boolean"}, {"name": "i", "type": "integer"},
               {"name": "d", "type": "decimal"}, {"name": "ip", "type": "ipAddress"}, {"name": "j", "type": "json"})
    bad = {"b": "yes", "i": 1.0, "d": "1.5", "ip": 10, "j": {1, 2}}
    assert sorted(codes(validate(bad, s))) == [(341, f"/{k}") for k in ("b", "d", "i", "ip", "j")]
    assert codes(validate({"i": True, "d": float("nan"), "b": 1}, s)) == [(341, "/i"), (341, "/d"), (341, "/b")]
    assert codes(validate({"i": 2 ** 63, "d": float("inf")}, s)) == [(341, "/i"), (341, "/d")]
    assert codes(validate({"ip": "256.1.1.1"}, s)) == [(340, "/ip")]
    assert codes(validate({"ip": "1.2.3"}, s)) == [(340, "/ip")]
    assert codes(validate({"ip": "01.2.3.4"}, s)) == [(340, "/ip")]


def test_a_record_that_is_not_an_object_is_341_at_the_root() -> None:
    for record in ([FULL], "x", None, 5):
        assert codes(validate(record, default_schema())) == [(341, "/")]


def test_length_is_inclusive_and_counts_characters_not_bytes() -> None:
    s = default_schema()
    assert validate({"primaryAddress": {"zip": "9" * 100}, "gender": "é" * 100}, s) == []
    assert codes(validate({"gender": "é" * 101}, s)) == [(363, "/gender")]


def test_string_constraints() -> None:
    s = custom({"name": "alpha", "type": "string", "constraints": ["alphabetic"]},
               {"name": "alnum", "type": "string", "constraints": ["alphanumeric"]},
               {"name": "letters", "type": "string", "constraints": ["unicode-letters"]},
               {"name": "both", "type": "string", "length": 5, "constraints": ["alphabetic", "email-address"]})
    ok = {"alpha": "abcXYZ", "alnum": "abc123", "letters": "Zoë\u0301Ωмир日本", "both": ""}
    assert codes(validate(ok, s)) == [(360, "/both")]  # empty is alphabetic but not an email address
    bad = {"alpha": "abc1", "alnum": "abc_1", "letters": "Zoë 2", "both": "a" * 6}
    assert codes(validate(bad, s)) == [(363, "/both"), (360, "/alpha"), (360, "/alnum"), (360, "/letters")]
    assert codes(validate({"alpha": "héllo", "letters": ""}, s)) == [(360, "/alpha")]


def test_required_missing_null_and_partial() -> None:
    s = custom({"name": "email", "type": "string", "constraints": ["required", "unique"]},
               {"name": "addr", "type": "object", "attr_defs": [
                   {"name": "city", "type": "string", "constraints": ["required"]},
                   {"name": "zip", "type": "string"}]},
               {"name": "tags", "type": "plural", "attr_defs": [
                   {"name": "tag", "type": "string", "constraints": ["required"]}]})
    assert codes(validate({}, s)) == [(362, "/email")]
    assert codes(validate({"email": None}, s)) == [(362, "/email")]
    assert codes(validate({"email": "a", "addr": {"zip": "1"}}, s)) == [(362, "/addr/city")]
    assert validate({}, s, new=False, partial=True) == []
    assert validate({"addr": {"zip": "1"}}, s, new=False, partial=True) == []
    assert codes(validate({"email": None}, s, new=False, partial=True)) == [(362, "/email")]
    # an update may touch one field of an existing plural element (with id), not omit one in a new element
    assert validate({"tags": [{"id": 4}]}, s, new=False, partial=True) == []
    assert codes(validate({"tags": [{}]}, s, new=False, partial=True)) == [(362, "/tags/tag")]


def test_update_mode_reserves_all_system_attributes_and_allows_element_ids() -> None:
    s = default_schema()
    record = {"id": 1, "uuid": "02b0c68d-7d7a-49d8-a88d-022585b0f877", "created": "2015-12-15T07:36:25Z",
              "lastUpdated": "2015-12-15T07:36:25Z", "givenName": "Ann"}
    assert codes(validate(record, s, new=False)) == [(234, "/id"), (234, "/uuid"), (234, "/created"),
                                                     (234, "/lastUpdated")]
    assert validate({"statuses": [{"id": 12, "status": "x"}]}, s, new=False) == []
    assert codes(validate({"statuses": [{"id": "12"}]}, s, new=False)) == [(341, "/statuses/id")]


def test_violations_follow_the_classification_order() -> None:
    record = with_(lastUpdated="x", id=1, givenName="\x00", birthday="1990-02-30", nickname="n",
                   primaryAddress={"zip": "1" * 101}, gender=7, uuid="bad")
    record["profiles"] = [{"identifier": "x"}]
    found = validate(record, default_schema())
    assert codes(found) == [(200, "/uuid"), (223, "/nickname"), (341, "/gender"), (342, "/birthday"),
                            (363, "/primaryAddress/zip"), (362, "/profiles/domain"), (360, "/givenName"),
                            (320, "/id"), (234, "/lastUpdated")]
    ranks = [ORDER.index(v.code) for v in found]
    assert ranks == sorted(ranks)
    assert all(isinstance(v.code, Code) for v in found)


def test_a_violation_becomes_the_capture_error_the_sandbox_sends() -> None:
    (violation,) = validate(with_(givenName="Ann\nMarie"), default_schema())
    error = violation.to_error("geup8cd3gvcvjjnc")
    assert isinstance(error, CaptureError)
    body = error.to_body()
    assert body["code"] == 360 and body["error"] == "constraint_violation" and body["stat"] == "error"
    assert body["attribute_name"] == "/givenName" and body["request_id"] == "geup8cd3gvcvjjnc"
    assert body["error_description"] == violation.message != ""
    (bad_uuid,) = validate({"uuid": "x"}, default_schema())
    assert type(bad_uuid.to_error()).__name__ == "InvalidArgumentError"


# The fast shapes in schema.py must agree with wire's parsers on every string.
_TS_ALPHABET = st.sampled_from([*"0123456789-: T.Z+", "٣", "\n", "24", "60", "99", "00"])
_TS_BASE = ("2016", "02", "29", "T", "23", "59", "59", ".123456", "Z")  # valid, on a leap day
_TS_EDGES = (["0000", "0001", "0999", "1000", "2015", "8999", "9000", "9999"], ["00", "01", "12", "13"],
             ["00", "01", "28", "30", "31", "32"], [" ", "t", "_"], ["00", "24", "29"], ["00", "60"],
             ["00", "60", "61"], ["", ".1", ".1234567"],
             ["", "+00:00", " +0000", "-0530", "+2359", "-23:59", "+2400", "+0060", " Z", "  +0000", "+5"])


def _perturbed(picks: list[tuple[int, int]]) -> str:
    """The valid base timestamp with one or two fields replaced by boundary values."""
    fields = list(_TS_BASE)
    for field, choice in picks:
        fields[field] = _TS_EDGES[field][choice % len(_TS_EDGES[field])]
    return "{}-{}-{}{}{}:{}:{}{}{}".format(*fields)


_TS_TEXT = st.one_of(
    st.lists(_TS_ALPHABET, max_size=30).map("".join),
    st.builds(lambda d, sep: d.isoformat(sep=sep), st.datetimes(), st.sampled_from(" T")),
    st.lists(st.tuples(st.integers(0, len(_TS_BASE) - 1), st.integers(0, 10)), min_size=1, max_size=2)
    .map(_perturbed),
)


@settings(derandomize=True, max_examples=600, deadline=None)
@given(_TS_TEXT)
def test_fast_date_and_datetime_checks_agree_with_wire(text: str) -> None:
    moment = parse_datetime(text)
    assert schema_module._datetime_ok(text) == (moment is not None)
    canonical = None if moment is None else format_timestamp(moment)
    if canonical is not None and "." not in text:
        canonical = canonical.replace(".000000 ", " ")  # no fraction given: none read back
    assert schema_module._canonical_datetime(text) == (text if canonical is None else canonical)
    assert schema_module._date_ok(text) == (parse_date(text) is not None)
    assert schema_module._date_ok(text[:10]) == (parse_date(text[:10]) is not None)
    assert schema_module._date_ok(text[:10] + " 12:00:00") == (parse_date(text[:10] + " 12:00:00") is not None)


# -- normalize and unique_key ---------------------------------------------------------------------

def test_normalize_gives_the_canonical_stored_form() -> None:
    s = custom({"name": "b", "type": "boolean"}, {"name": "d", "type": "date"},
               {"name": "t", "type": "dateTime"}, {"name": "o", "type": "object", "attr_defs": [
                   {"name": "t", "type": "dateTime"}, {"name": "b", "type": "boolean"}]},
               {"name": "p", "type": "plural", "attr_defs": [{"name": "t", "type": "dateTime"}]},
               {"name": "pw", "type": "password-bcrypt"}, {"name": "name", "type": "string"})
    record: dict[str, Any] = {
        "b": "true", "d": "1881-01-29 00:00:00", "t": "2015-12-15T07:36:25Z",
        "o": {"t": "2015-12-15T07:36:25.5+05:30", "b": "false"},
        "p": [{"t": "2013-08-23 12:38:33.475581 +0000"}, {"t": "2013-08-23 12:38:33", "id": 5}],
        "pw": "secret", "name": "2015-12-15T07:36:25Z", "uuid": "02B0C68D-7D7A-49D8-A88D-022585B0F877",
        "created": "0001-01-01T01:00:00+01:00", "lastUpdated": None}
    original = copy.deepcopy(record)
    stored = normalize(record, s)
    assert record == original  # the input is not touched
    # a dateTime keeps a fraction only if it had one, as real records read back
    assert stored == {"b": True, "d": "1881-01-29", "t": "2015-12-15 07:36:25 +0000",
                      "o": {"t": "2015-12-15 02:06:25.500000 +0000", "b": False},
                      "p": [{"t": "2013-08-23 12:38:33.475581 +0000"},
                            {"t": "2013-08-23 12:38:33 +0000", "id": 5}],
                      "pw": "secret", "name": "2015-12-15T07:36:25Z",
                      "uuid": "02b0c68d-7d7a-49d8-a88d-022585b0f877",
                      "created": "0001-01-01 00:00:00 +0000", "lastUpdated": None}
    assert stored["o"] is not record["o"]
    assert stored["p"][0] is not record["p"][0]
    assert normalize(stored, s) == stored
    assert codes(validate(stored, s)) == [(320, "/p/id")]  # the element id is kept, so not a new record


def test_a_normalized_full_profile_is_still_valid_and_stable() -> None:
    s = default_schema()
    stored = normalize(FULL, s)
    assert validate(stored, s) == []
    assert stored["lastLogin"] == "2024-05-01 08:00:00.123456 +0000"
    assert stored["statuses"][1]["statusCreated"] == "2023-02-02 02:04:05.500000 +0000"
    assert normalize(stored, s) == stored


def test_unique_key_folds_case_unless_case_sensitive() -> None:
    s = default_schema()
    assert unique_key(s["email"], "Ann.Lee@Example.COM") == unique_key(s["email"], "ann.lee@example.com")
    assert unique_key(s["email"], "STRASSE@x.test") == unique_key(s["email"], "straße@x.test")
    identifier = s.find("/profiles/identifier")
    assert identifier is not None and not identifier.case_sensitive
    assert unique_key(identifier, "AbC") == unique_key(identifier, "abc")
    username = s.find("/profiles/profile/preferredUsername")
    assert username is not None and username.case_sensitive
    assert unique_key(username, "AbC") == "AbC" != unique_key(username, "abc")

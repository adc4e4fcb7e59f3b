"""entity.find / entity.count: the filter grammar, paging, sorting and attribute selection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from loadgen.sandbox.filters import compile_filter
from loadgen.schema import default_schema

Call = Callable[..., dict[str, Any]]

PEOPLE = [
    {"email": "ann@x.com", "givenName": "Ann", "birthday": "1980-01-01", "primaryAddress": {"city": "Lyon"},
     "statuses": [{"status": "active"}]},
    {"email": "bob@x.com", "givenName": "Bob", "birthday": "1990-06-15", "primaryAddress": {"city": "Paris"},
     "statuses": [{"status": "gone"}, {"status": "active"}]},
    {"email": "cy@x.com", "givenName": "Cy", "birthday": "2000-12-31", "displayName": "it's me"},
    {"email": "dee@x.com", "givenName": "Dee"},
]


@pytest.fixture
def people(call: Call) -> Call:
    body = call("entity.bulkCreate", type_name="user", all_attributes=PEOPLE)
    assert all(isinstance(i, int) for i in body["results"])
    return call


def _names(call: Call, flt: str, **extra: Any) -> list[str]:
    body = call("entity.find", type_name="user", filter=flt, **extra)
    assert body["stat"] == "ok", body
    assert body["result_count"] == len(body["results"])
    count = call("entity.count", type_name="user", filter=flt)["total_count"]
    if "max_results" not in extra and "first_result" not in extra:
        assert count == body["result_count"]
    return [r["givenName"] for r in body["results"]]


@pytest.mark.parametrize(("flt", "expected"), [
    ("givenName = 'Ann'", ["Ann"]),
    ("givenName != 'Ann'", ["Bob", "Cy", "Dee"]),
    ("birthday < '1990-06-15'", ["Ann"]),
    ("birthday <= '1990-06-15'", ["Ann", "Bob"]),
    ("birthday > '1990-06-15 00:00:00'", ["Cy"]),
    ("birthday >= '1990-06-15'", ["Bob", "Cy"]),
    ("birthday is null", ["Dee"]),
    ("birthday is not null", ["Ann", "Bob", "Cy"]),
    ("not givenName = 'Ann'", ["Bob", "Cy", "Dee"]),
    ("!(birthday is null)", ["Ann", "Bob", "Cy"]),
    ("givenName = 'Ann' or givenName = 'Cy' and birthday is null", ["Ann"]),
    ("(givenName = 'Ann' or givenName = 'Cy') and birthday is not null", ["Ann", "Cy"]),
    ("primaryAddress.city = 'Paris'", ["Bob"]),
    ("statuses.status = 'active'", ["Ann", "Bob"]),
    ("statuses is null", ["Cy", "Dee"]),
    ("displayName = 'it''s me'", ["Cy"]),
    ("displayName = 'it\\'s me'", ["Cy"]),
    ("id > 0 AND uuid IS NOT NULL", ["Ann", "Bob", "Cy", "Dee"]),
    ("created > '2000-01-01T00:00:00Z'", ["Ann", "Bob", "Cy", "Dee"]),
])
def test_filter_grammar(people: Call, flt: str, expected: list[str]) -> None:
    assert _names(people, flt) == expected


@pytest.mark.parametrize("flt", ["givenName =", "= 'x'", "nope = 'x'", "givenName = 'x' and", "(givenName = 'x'",
                                 "givenName = 'x')", "givenName ~ 'x'", "birthday = 'soon'", "statuses = 'x'",
                                 "givenName = 'unterminated", "password = 'x'", "(" * 100 + "id = 1" + ")" * 100,
                                 "id = 99999999999999999999999"])
def test_bad_filters_are_200_filter(people: Call, flt: str) -> None:
    for op in ("entity.find", "entity.count"):
        body = people(op, type_name="user", filter=flt)
        assert body["stat"] == "error" and body["code"] == 200, body
        assert body["argument_name"] == "filter"


def test_paging_sorting_and_attributes(people: Call) -> None:
    page = people("entity.find", type_name="user", sort_on=["-birthday"], max_results="2", first_result="0",
                  attributes=["givenName", "primaryAddress.city"])
    assert page["results"] == [{"givenName": "Cy", "primaryAddress": {"city": None}},
                               {"givenName": "Bob", "primaryAddress": {"city": "Paris"}}]
    ids = [r["id"] for r in people("entity.find", type_name="user", sort_on=["id"])["results"]]
    last, seen = 0, []
    while True:
        chunk = people("entity.find", type_name="user", filter=f"id > {last}", sort_on=["id"], max_results="3")
        if not chunk["results"]:
            break
        seen += [r["id"] for r in chunk["results"]]
        last = seen[-1]
    assert seen == ids and len(ids) == 4
    assert _names(people, "id > 0", first_result="3", sort_on=["givenName"]) == ["Dee"]
    for bad in [{"max_results": "0"}, {"max_results": "10001"}, {"first_result": "-1"}, {"max_results": "x"}]:
        body = people("entity.find", type_name="user", **bad)
        assert body["code"] == 200 and body["argument_name"] == next(iter(bad))
    assert people("entity.find", type_name="user", sort_on=["statuses"])["argument_name"] == "sort_on"
    assert people("entity.find", type_name="user", sort_on="[1]")["argument_name"] == "sort_on"
    assert people("entity.find", type_name="user", attributes=["nope"])["argument_name"] == "attributes"
    statuses = people("entity.find", type_name="user", filter="givenName = 'Bob'", attributes=["statuses.status"])
    assert [s["status"] for s in statuses["results"][0]["statuses"]] == ["gone", "active"]


def test_compile_filter_uses_parameters_not_text() -> None:
    sql, params = compile_filter("givenName = 'x''; DROP TABLE entities; --'", default_schema())
    assert "DROP" not in sql and params == ["x'; DROP TABLE entities; --"]

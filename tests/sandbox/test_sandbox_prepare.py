"""``prepare`` normalises while it splits a record: the same stored form as ``normalize`` first."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings

from loadgen.sandbox.records import prepare
from loadgen.schema import default_schema, normalize, validate
from loadgen.strategies import valid_records

_SCHEMA = default_schema()


@settings(derandomize=True, max_examples=150, deadline=None)
@given(record=valid_records(_SCHEMA, coerce=True))
def test_prepare_stores_the_normalized_record(record: dict[str, Any]) -> None:
    before = copy.deepcopy(record)
    for new in (True, False):
        once, reference = prepare(record, _SCHEMA, new=new), prepare(normalize(record, _SCHEMA), _SCHEMA, new=new)
        assert (once.data, once.keys, once.elements, once.uuid, once.created) == \
            (reference.data, reference.keys, reference.elements, reference.uuid, reference.created)
        assert once.secret.keys() == reference.secret.keys()
    assert record == before  # the parsed input is not changed: objects and plural elements are copies


def test_prepare_canonicalises_coerced_values() -> None:
    record = {"email": "A@Example.com", "birthday": "1980-02-03 00:00:00", "emailVerified": "2015-12-15T07:36:25Z",
              "statuses": [{"status": "active", "statusCreated": "2015-12-15 07:36:25+00:00"}]}
    assert validate(record, _SCHEMA) == []
    prepared = prepare(record, _SCHEMA)
    assert prepared.data["birthday"] == "1980-02-03"
    assert prepared.data["emailVerified"] == "2015-12-15 07:36:25 +0000"  # no fraction sent, none stored
    assert prepared.elements == [{"status": "active", "statusCreated": "2015-12-15 07:36:25 +0000"}]
    assert prepared.elements[0] is not record["statuses"][0]
    assert prepared.keys == [("email", "a@example.com")]

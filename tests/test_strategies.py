"""The fuzzing strategies: each yields what it promises, judged by the real validator and strict parser."""

from __future__ import annotations

import calendar
import contextlib
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from loadgen._mutations import SEEDS, seed_text
from loadgen.errors import Code, JSONSyntaxError
from loadgen.schema import default_schema, load_schema, validate
from loadgen.strategies import (
    MALFORMED_KINDS,
    VIOLATION_CODES,
    BulkCase,
    ViolationCase,
    bulk_payloads,
    malformed_json,
    schema_violations,
    valid_records,
    wrong_shape,
)
from loadgen.wire import MAX_DEPTH, loads_strict

SCHEMA = default_schema()
#: Every attribute type and constraint the user type lacks (a required unique alphanumeric key...).
WIDGET = load_schema(Path(__file__).parent / "data" / "widget.schema.json")
FAST = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _strict_fails(data: str | bytes) -> bool:
    try:
        loads_strict(data)
    except JSONSyntaxError:
        return True
    return False


@FAST
@given(valid_records(SCHEMA))
def test_valid_records_pass_validate(record: dict[str, Any]) -> None:
    assert validate(record, SCHEMA) == []
    assert not {"id", "uuid", "created", "lastUpdated"} & record.keys()


@FAST
@given(valid_records(SCHEMA, coerce=False, max_optional=2, max_plural=0))
def test_valid_records_respect_their_knobs(record: dict[str, Any]) -> None:
    assert validate(record, SCHEMA) == []
    assert len(record) <= 2
    assert all(v == [] for k, v in record.items() if SCHEMA[k].is_plural)
    assert not any(v in ("true", "false") for v in record.values())


def test_valid_records_shrink_to_the_simplest_value() -> None:
    minimal = find(valid_records(SCHEMA), lambda r: r.get("birthday") is not None,
                   settings=settings(database=None, derandomize=True))
    assert minimal == {"birthday": "2000-01-01"}


def test_seed_records_are_all_valid() -> None:
    for seed in range(SEEDS):
        record = loads_strict(seed_text(SCHEMA, seed))
        assert validate(record, SCHEMA) == [], seed
    assert loads_strict(seed_text(SCHEMA, 0)).keys() == {"email"}


# What each mutation kind must visibly leave in the text (beyond being unparseable).
MARKS: dict[str, Any] = {
    "empty": lambda t: t == "",
    "whitespace": lambda t: t != "" and t.strip(" \t\r\n") == "",
    "bom": lambda t: t.startswith("\ufeff"),
    "nan": lambda t: "nan" in t.lower(),
    "infinity": lambda t: "inf" in t.lower() or "1e999" in t,
    "hex_number": lambda t: "0x" in t.lower(),
    "comment": lambda t: any(c in t for c in ("/*", "//", "#c")),
    "lone_surrogate": lambda t: "\\ud" in t.lower(),
    "deep_nesting": lambda t: "[" * (MAX_DEPTH + 1) in t,
    "control_char": lambda t: any(ord(c) < 32 for c in t),
    "single_quotes": lambda t: "'" in t,
    "invalid_utf8": lambda b: isinstance(b, bytes) and _not_utf8(b),
}


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_every_malformed_kind_is_rejected_by_the_strict_parser(kind: str) -> None:
    seen: list[str | bytes] = []

    @settings(max_examples=40, derandomize=True, database=None)
    @given(malformed_json(SCHEMA, kinds=[kind], binary=kind == "invalid_utf8"))
    def check(text: str | bytes) -> None:
        assert _strict_fails(text)
        assert MARKS.get(kind, lambda t: True)(text), text
        seen.append(text)

    check()
    assert len(set(seen)) == 1 if kind == "empty" else len(set(seen)) > 5


def test_malformed_text_stays_near_valid() -> None:
    """A lenient parser (Python's json) takes some of it: that is what makes it worth sending."""
    lenient: list[Any] = []

    @FAST
    @given(malformed_json(SCHEMA, kinds=["nan", "duplicate_key", "lone_surrogate"]))
    def check(text: str) -> None:
        with contextlib.suppress(ValueError):
            lenient.append(json.loads(text))

    check()
    assert len(lenient) > 10


def test_the_docs_own_bug_is_the_simplest_dropped_quote() -> None:
    text = find(malformed_json(SCHEMA, kinds=["dropped_quote"]), lambda t: True,
                settings=settings(database=None, derandomize=True))
    assert text == '{email":"x_10@test.org"}'


@pytest.mark.parametrize("search", range(3))
@pytest.mark.parametrize(("found", "minimal"), [
    (lambda t: "NaN" in t, '{"email":NaN}'),
    (lambda t: t.count('"email"') == 2, '{"email":"x_10@test.org","email":"x_10@test.org"}'),
    (lambda t: "\\ud" in t, '{"\\ud800email":"x_10@test.org"}'),
], ids=["nan", "duplicate_key", "lone_surrogate"])
def test_a_failure_shrinks_to_the_simplest_record_wherever_it_was_found(
        found: Callable[[str], bool], minimal: str, search: int) -> None:
    """What a conformance failure reports: the simplest seed record, whichever record the search broke."""
    text = find(malformed_json(SCHEMA), found, settings=settings(database=None, max_examples=300),
                random=random.Random(search))
    assert text == minimal


@FAST
@given(malformed_json(SCHEMA, binary=True, documents=st.lists(valid_records(SCHEMA), min_size=1, max_size=3)))
def test_malformed_arrays_and_bytes(data: bytes) -> None:
    assert isinstance(data, bytes)
    assert _strict_fails(data)


@FAST
@given(st.data())
def test_wrong_shape_is_valid_json_of_another_type(data: st.DataObject) -> None:
    argument = data.draw(st.sampled_from(["attributes", "all_attributes"]))
    value = loads_strict(data.draw(wrong_shape(SCHEMA, argument=argument)))
    assert not isinstance(value, dict if argument == "attributes" else list)


@FAST
@given(schema_violations(SCHEMA))
def test_violations_are_reported_as_promised(case: ViolationCase) -> None:
    found = validate(case.record, SCHEMA)
    assert [(found[0].code, found[0].path)] == [(case.code, case.path)], found
    assert len(found) == 1


@pytest.mark.parametrize("code", VIOLATION_CODES, ids=lambda c: c.error)
def test_each_violation_code_is_produced(code: Code) -> None:
    if code == Code.MISSING_REQUIRED_ATTRIBUTE:  # the user type requires only plural children
        case = find(schema_violations(SCHEMA, codes=[code]), lambda c: True,
                    settings=settings(database=None, derandomize=True))
        assert case.path.count("/") == 2
    paths: set[str] = set()

    @settings(max_examples=25, derandomize=True, database=None)
    @given(schema_violations(SCHEMA, codes=[code]))
    def check(case: ViolationCase) -> None:
        assert case.code == code
        assert validate(case.record, SCHEMA)[0].code == code
        paths.add(case.path)

    check()
    assert paths


@FAST
@given(bulk_payloads(SCHEMA))
def test_bulk_payloads_carry_their_per_position_answers(case: BulkCase) -> None:
    if case.expected is None:
        try:
            value = loads_strict(case.text)
        except JSONSyntaxError:
            return
        assert not isinstance(value, list)
        return
    records = loads_strict(case.text)
    assert len(records) == len(case.expected) >= 1
    for record, expect in zip(records, case.expected, strict=True):
        found = validate(record, SCHEMA)
        if expect is None:
            assert found == []
        elif expect[0] == Code.UNIQUE_VIOLATION:
            assert found == [] and expect[1] == "/email"
        else:
            assert (found[0].code, found[0].path) == expect


def test_bulk_payloads_spot_duplicates_inside_a_batch() -> None:
    case = find(bulk_payloads(SCHEMA, violations=False, envelope=False),
                lambda c: c.expected is not None and Code.UNIQUE_VIOLATION in [s and s[0] for s in c.expected],
                settings=settings(database=None, derandomize=True, max_examples=2000))
    assert case.expected == (None, (Code.UNIQUE_VIOLATION, "/email"))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: valid_records({"name": "user"}), "must be a loadgen.schema.Schema"),  # type: ignore[arg-type]
    (lambda: valid_records(SCHEMA, max_plural=-1), "max_plural=-1"),
    (lambda: malformed_json(SCHEMA, kinds=["nope"]), "unknown malformed kind 'nope'"),
    (lambda: malformed_json(SCHEMA, kinds=["invalid_utf8"]), "needs binary=True"),
    (lambda: malformed_json(SCHEMA, kinds="nan"), "non-empty collection"),
    (lambda: malformed_json(SCHEMA, documents=[{}]), "must be a strategy"),  # type: ignore[arg-type]
    (lambda: wrong_shape(SCHEMA, argument="value"), "argument='value'"),
    (lambda: schema_violations(SCHEMA, codes=[361]), "code 361"),
    (lambda: bulk_payloads(SCHEMA, min_size=3, max_size=2), "max_size=2"),
])
def test_bad_arguments_fail_at_once(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace("[", r"\[")):
        make()


def test_a_schema_without_required_attributes_cannot_promise_362() -> None:
    tiny = load_schema({"name": "thing", "attr_defs": [{"name": "label", "type": "string", "length": 5}]})
    with pytest.raises(InvalidArgument, match="no attribute that can produce code 362"):
        schema_violations(tiny, codes=[362])
    case = find(schema_violations(tiny, codes=[363]), lambda c: True, settings=settings(database=None))
    assert case == ViolationCase({"label": "xxxxxx"}, Code.LENGTH_VIOLATION, "/label")


@pytest.mark.parametrize("make", [valid_records, schema_violations, bulk_payloads], ids=lambda f: f.__name__)
def test_every_type_and_constraint_of_another_schema(make: Any) -> None:
    @settings(max_examples=150, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(make(WIDGET))
    def check(example: Any) -> None:
        if isinstance(example, dict):
            assert validate(example, WIDGET) == []
        elif isinstance(example, ViolationCase):
            assert [(v.code, v.path) for v in validate(example.record, WIDGET)][:1] == [(example.code, example.path)]
        elif example.expected is not None:
            for record, expect in zip(loads_strict(example.text), example.expected, strict=True):
                found = [(v.code, v.path) for v in validate(record, WIDGET)][:1]
                assert found == ([] if expect is None or expect[0] == 361 else [expect])

    check()


def test_widget_seeds_are_valid() -> None:
    for seed in range(SEEDS):
        assert validate(loads_strict(seed_text(WIDGET, seed)), WIDGET) == [], seed_text(WIDGET, seed)


# -- a faithful server is never accused -----------------------------------------------------------

COERCIBLE = load_schema({"name": "coercible", "attr_defs": [
    {"name": "flag", "type": "boolean"}, {"name": "born", "type": "date"}, {"name": "seen", "type": "dateTime"},
    {"name": "password", "type": "password-bcrypt"},
    {"name": "events", "type": "plural", "attr_defs": [
        {"name": "on", "type": "date"}, {"name": "ok", "type": "boolean"}]},
]})


def _impossible(text: str) -> bool:
    """Is this a calendar value no parser takes: month 13, 30 February, hour 25, minute 61?"""
    year, month, day, *clock = (int(n) for n in re.findall(r"\d+", text)[:5])
    if not 1 <= month <= 12:
        return True
    return not 1 <= day <= calendar.monthrange(year, month)[1] or (len(clock) == 2 and (
        clock[0] > 23 or clock[1] > 59))


def test_capture_s_coercions_are_valid() -> None:
    record = {"flag": "true", "born": "19780722", "seen": "2013-07-16 18:44:04 +0000",
              "password": {"type": "password-bcrypt", "value": "$2a$04$x"},
              "events": [{"on": "1881-01-29 00:00:00", "ok": "false"}, {"on": "2015-12-15"}],
              "created": "2015-12-15T07:36:25Z", "uuid": "02b0c68d-7d7a-49d8-a88d-022585b0f877"}
    assert validate(record, COERCIBLE) == []
    assert validate({"flag": None, "born": None, "seen": None, "password": None, "events": None}, COERCIBLE) == []


def _offending(schema: Any, case: ViolationCase) -> list[Any]:
    """The values at ``case.path`` that the validator flags on their own (other plural elements are valid)."""
    names = case.path.strip("/").split("/")
    found: list[Any] = [case.record]
    for name in names[:-1]:
        found = [e for node in found if isinstance(node, dict)
                 for e in (node.get(name) if isinstance(node.get(name), list) else [node.get(name)])]
    values = [node[names[-1]] for node in found if isinstance(node, dict) and names[-1] in node]
    flagged = []
    for value in values:
        wrapped: Any = value
        for depth in range(len(names) - 1, -1, -1):
            wrapped = {names[depth]: wrapped}
            parent = schema.find("/" + "/".join(names[:depth])) if depth else None
            if parent is not None and parent.is_plural:
                wrapped = [wrapped]
        if any(v.path == case.path for v in validate(wrapped, schema, partial=True)):
            flagged.append(value)
    return flagged


@pytest.mark.parametrize("schema", [COERCIBLE, SCHEMA], ids=["coercible", "user"])
def test_coercions_real_capture_accepts_are_never_generated_as_violations(schema: Any) -> None:
    seen: set[Code] = set()

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(schema_violations(schema, codes=[341, 342]))
    def check(case: ViolationCase) -> None:
        flagged = _offending(schema, case)
        assert flagged, case
        attr = schema.find(case.path)
        for value in flagged:
            assert value not in ("true", "false"), case
            if case.code == Code.INVALID_DATE_TIME:  # never a compact or any other spelling: a bad calendar
                assert isinstance(value, str) and not re.fullmatch(r"\d{8}", value) and _impossible(value), case
            else:  # never a JSON type Capture could coerce: an object or array for a scalar
                assert isinstance(value, dict | list) != (attr.is_object or attr.is_plural), case
                assert not (attr.is_password and isinstance(value, dict)), case
        seen.add(case.code)

    check()
    assert seen == {Code.INVALID_JSON_TYPE, Code.INVALID_DATE_TIME}

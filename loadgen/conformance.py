"""Five properties any Capture application must hold, as plain pytest tests.

Run them against the embedded sandbox or a real domain::

    pytest --pyargs loadgen.conformance                      # a fresh sandbox on 127.0.0.1
    pytest --pyargs loadgen.conformance --capture-url https://app.eu.janraincapture.com \\
        --capture-allow-writes                               # credentials from CAPTURE_CLIENT_ID/SECRET

Each test reads its target from the ``capture_fuzz`` fixture of ``loadgen.pytest_plugin`` and runs
a Hypothesis search inside it, so the number of examples and the seed come from the command line
(``--capture-max-examples``, ``--capture-seed``) instead of being frozen at import time. Malformed
input is sent as raw form bodies over httpx, not through ``CaptureClient``, so that the HTTP status
and timeouts are observed exactly as the server produced them. This module holds the properties; the
machinery they run on (the ``Fuzzer``: raw sending, tracking and deleting created records, the
server-error watch, seeding, the summary rows) is ``loadgen/fuzzer.py``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
)

from loadgen.answers import Created, bulk_slots
from loadgen.errors import CaptureError, Code, NotFoundError, TransportError
from loadgen.failures import Expected
from loadgen.fuzz_coverage import WRONG_SHAPE, Exercise
from loadgen.fuzzer import Fuzzer as Fuzzer  # the machinery, importable from here too (as before the split)
from loadgen.fuzzer import PropertyResult as PropertyResult
from loadgen.fuzzer import ServerErrorWatch as ServerErrorWatch
from loadgen.fuzzer import plugin_args as plugin_args
from loadgen.fuzzer import suite_args as suite_args
from loadgen.schema import Schema, normalize
from loadgen.strategies import (
    MALFORMED_KINDS,
    BulkCase,
    ViolationCase,
    bulk_payloads,
    malformed_json,
    schema_violations,
    valid_records,
    wrong_shape,
)
from loadgen.wire import dumps, loads_strict


def matches(expected: Any, actual: Any) -> bool:
    """Is ``actual`` (read back) the stored form of ``expected`` (normalised input)?

    Unset (``None``) reads back as null, an empty plural or an object of nulls; plural elements
    gain their server ``id``; numbers compare by value; booleans only with booleans.
    """
    if expected is None:
        return actual in (None, []) or (isinstance(actual, dict) and all(matches(None, v) for v in actual.values()))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(matches(v, actual.get(k)) for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(matches(e, a) for e, a in zip(expected, actual, strict=True)))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def stored_form(record: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """What reading ``record`` back must show: normalised, passwords left out (never returned)."""
    return {k: v for k, v in normalize(record, schema).items()
            if not ((attr := schema.get(k)) is not None and attr.is_password)}


def readback(fz: Fuzzer, uuid: str, record: dict[str, Any]) -> None:
    stored = fz.client.entity(uuid=uuid)
    expected = stored_form(record, fz.schema)
    assert matches(expected, stored), f"read back {uuid}: expected {expected!r}, got {stored!r}"


def malformed_by_kind(fz: Fuzzer, *, argument: str = "attributes", documents: st.SearchStrategy[Any] | None = None
                      ) -> st.SearchStrategy[tuple[str, str | bytes]]:
    """``(kind, text)``: ``malformed_json`` with the mutation kind it drew named (for the coverage table), or
    ``wrong_shape`` text. The kind is drawn first, as ``malformed_json`` itself does, so the search and its
    shrinking stay the same; the per-kind strategies are built once."""
    kinds = MALFORMED_KINDS if fz.binary else MALFORMED_KINDS[:-1]
    per_kind = {k: malformed_json(fz.schema, kinds=[k], binary=fz.binary, documents=documents) for k in kinds}
    broken = st.sampled_from(kinds).flatmap(lambda k: per_kind[k].map(partial(_tagged, k)))
    return broken | wrong_shape(fz.schema, argument=argument).map(partial(_tagged, WRONG_SHAPE))


def _tagged(kind: str, text: str | bytes) -> tuple[str, str | bytes]:
    # a named function, not a lambda: Hypothesis prints a failing example through the lambda's source
    return kind, text


def _malformed(case: tuple[str, str | bytes]) -> Exercise:
    return Exercise(kind=case[0], code=Code.INVALID_ARGUMENT)


def _violation(case: ViolationCase) -> Exercise:
    return Exercise(code=case.code, path=case.path)


def _first_slot(case: BulkCase) -> Exercise:
    """A batch counts under the code and path of its first failing slot (all valid: under none)."""
    first = next((slot for slot in case.expected or () if slot is not None), None)
    return Exercise() if first is None else Exercise(code=first[0], path=first[1])


# -- the properties ----------------------------------------------------------------------------------

def test_malformed_attributes_are_rejected(capture_fuzz: Fuzzer) -> None:
    """entity.create with unparseable or non-object ``attributes``: 200 invalid_argument, nothing created."""
    fz = capture_fuzz
    fz.require_writes()

    def check(case: tuple[str, str | bytes]) -> None:
        before = fz.count()
        answer = fz.send("entity.create", {"attributes": case[1]})
        fz.track(answer, keep=False)
        fz.expect_invalid(answer, "attributes")
        assert fz.count() == before, f"the entity count changed after {answer}"

    fz.run("malformed attributes (entity.create)", malformed_by_kind(fz), check, _malformed)


def test_malformed_all_attributes_create_nothing(capture_fuzz: Fuzzer) -> None:
    """entity.bulkCreate with unparseable or non-array ``all_attributes``: envelope error, none created."""
    fz = capture_fuzz
    fz.require_writes()
    arrays = st.lists(valid_records(fz.schema, max_optional=3, max_plural=1), min_size=1, max_size=4)
    texts = malformed_by_kind(fz, argument="all_attributes", documents=arrays)

    def check(case: tuple[str, str | bytes]) -> None:
        before = fz.count()
        answer = fz.send("entity.bulkCreate", {"all_attributes": case[1]})
        fz.track(answer, keep=False)
        fz.expect_invalid(answer, "all_attributes")
        assert "uuid_results" not in (answer.body or {})
        assert fz.count() == before, f"the entity count changed after {answer}"

    fz.run("malformed all_attributes (entity.bulkCreate)", texts, check, _malformed)


def test_schema_violations_get_their_code(capture_fuzz: Fuzzer) -> None:
    """A violation gets its code and attribute_name; in a batch only that position fails."""
    fz = capture_fuzz
    fz.require_writes()

    def one(case: ViolationCase) -> None:
        answer = fz.send("entity.create", {"attributes": dumps(case.record)})
        fz.track(answer)
        fz.expect(answer, Expected(case.code, attribute=case.path))

    fz.run("schema violation (entity.create)", schema_violations(fz.schema), one, _violation)

    def batch(case: Any) -> None:
        records = loads_strict(case.text)
        records = fz.tag_batch(records, [e is None or e[0] == Code.UNIQUE_VIOLATION for e in case.expected])
        answer = fz.send("entity.bulkCreate", {"all_attributes": dumps(records)})
        fz.track(answer)
        assert answer.status == 200 and answer.body is not None and answer.body.get("stat") == "ok", str(answer)
        try:
            slots = bulk_slots(answer.body, len(records))
        except TransportError as exc:
            raise AssertionError(f"{exc}: {answer}") from None
        for pos, (record, expect, slot) in enumerate(zip(records, case.expected, slots, strict=True)):
            if expect is None:
                assert isinstance(slot, Created), f"position {pos}: expected a uuid, got {slot!r}"
                readback(fz, slot.uuid, record)
            else:
                got = (slot.code, slot.attribute_name) if isinstance(slot, CaptureError) else slot
                assert got == expect, f"position {pos}: expected {expect[0].label} at {expect[1]}, got {slot!r}"

    fz.run("schema violation (entity.bulkCreate)", bulk_payloads(fz.schema, envelope=False), batch, _first_slot)


def test_valid_records_read_back_equal(capture_fuzz: Fuzzer) -> None:
    """A valid record is accepted and reads back equal (after the server's normalisation)."""
    fz = capture_fuzz
    fz.require_writes()

    def check(record: dict[str, Any]) -> None:
        record = fz.unique(record)
        try:
            created = fz.client.create(record)
        except CaptureError as exc:
            raise AssertionError(f"a valid record was refused: {exc}") from None
        fz.tracker.add(created.uuid)
        readback(fz, created.uuid, record)

    fz.run("valid record (entity.create + entity)", valid_records(fz.schema), check)


def test_store_model(capture_fuzz: Fuzzer) -> None:
    """create, bulkCreate, duplicate-email creates, delete and count keep the store equal to a model."""
    fz = capture_fuzz
    fz.require_writes()
    fz.run_machine(NAME, store_machine(fz))


NAME = "store model (state machine steps)"


def store_machine(fz: Fuzzer) -> type[RuleBasedStateMachine]:
    """A state machine over ``fz``: the model is {uuid: record}; every step is checked against the server."""
    schema = fz.schema
    records = valid_records(schema, max_optional=3, max_plural=1)
    unique = next(iter(schema.unique), None)

    class StoreMachine(RuleBasedStateMachine):
        created = Bundle("created")

        def __init__(self) -> None:
            super().__init__()
            self.baseline = fz.count()
            self.model: dict[str, dict[str, Any]] = {}

        def _keep(self, done: Created, record: dict[str, Any]) -> str:
            fz.tracker.add(done.uuid)
            self.model[done.uuid] = record
            return done.uuid

        @rule(target=created, record=records)
        def create(self, record: dict[str, Any]) -> str:
            record = fz.unique(record)
            return self._keep(fz.client.create(record), record)

        @rule(target=created, batch=st.lists(records, min_size=1, max_size=3))
        def bulk_create(self, batch: list[dict[str, Any]]) -> Any:
            batch = [fz.unique(r) for r in batch]
            result = fz.client.bulk_create(batch)
            assert not result.failed, f"valid records refused: {result.failed}"
            return multiple(*(self._keep(done, r) for done, r in zip(result.created, batch, strict=True)))

        @rule(uuid=created)
        def duplicate_email(self, uuid: str) -> None:
            """The same record again, its unique value re-cased where that still collides: 361.

            Only ASCII is re-cased: how a server folds the case of other scripts (``ß``, dotless ``ı``)
            is not documented, so a faithful one might call those distinct.
            """
            if unique is None or not isinstance(value := self.model[uuid].get(unique.name), str):
                return
            recased = value if unique.case_sensitive or not value.isascii() else value.upper()
            again = {**self.model[uuid], unique.name: recased}
            try:
                done = fz.client.create(again)
            except CaptureError as exc:
                assert exc.code == Code.UNIQUE_VIOLATION, f"expected 361, got {exc}"
            else:
                fz.tracker.add(done.uuid)
                raise AssertionError(f"a duplicate {unique.name} {again[unique.name]!r} was accepted")

        @rule(uuid=consumes(created))
        def delete(self, uuid: str) -> None:
            fz.client.delete(uuid=uuid)
            self.model.pop(uuid)
            try:
                fz.client.entity(uuid=uuid)
            except NotFoundError:
                pass
            else:
                raise AssertionError(f"{uuid} can still be read after entity.delete")

        @invariant()
        def store_matches_model(self) -> None:
            fz.checkpoint()
            fz.results[NAME].examples += 1
            counted = fz.count()
            if counted is not None and self.baseline is not None:
                expected = self.baseline + len(self.model)
                assert counted == expected, f"entity.count says {counted}, the model holds {expected} records"
            for uuid, record in self.model.items():
                readback(fz, uuid, record)

    return StoreMachine

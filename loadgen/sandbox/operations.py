"""The Entity API operations: parameters in, a response body out, errors raised as ``CaptureError``.

Each operation checks its parameters in the classification order of capture-api.md: missing
parameters (100), then ``type_name`` (222), then parsing and shape (200), then per-attribute
validation (``schema.validate``, first violation reported), then uniqueness (361, in the store).
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from datetime import datetime
from typing import Any

from loadgen import wire
from loadgen.errors import CaptureError, Code, JSONSyntaxError, capture_error
from loadgen.sandbox.config import ClientSpec
from loadgen.sandbox.filters import compile_filter, compile_sort, filter_error
from loadgen.sandbox.paths import Edit, Mode, Target, parse, wrap
from loadgen.sandbox.records import forget_plural_ids, prepare, project, render
from loadgen.sandbox.state import SandboxState
from loadgen.schema import Schema, unique_key, validate

_DEFAULT_MAX_RESULTS = 100
_MAX_ID = 2**63 - 1
#: An unsigned decimal integer short enough for ``int()`` to be cheap (ASCII digits only).
_DIGITS = re.compile(r"[0-9]{1,19}")
_KEYS = ("id", "uuid", "key_attribute")


def _missing(params: dict[str, str], *names: str) -> None:
    absent = [n for n in names if n not in params]
    if absent:
        raise capture_error(Code.MISSING_ARGUMENT, f"missing arguments: {', '.join(absent)}",
                            argument_name=absent[0])


def _invalid(argument: str, reason: str) -> CaptureError:
    return capture_error(Code.INVALID_ARGUMENT, f"{argument} was not valid for the following reason: {reason}",
                         argument_name=argument)


def _include_record(params: dict[str, str]) -> bool:
    include = params.get("include_record", "false").strip().lower()
    if include not in ("true", "false", "1", "0", ""):
        raise _invalid("include_record", "it must be true or false")
    return include in ("true", "1")


def _preconditions(params: dict[str, str]) -> dict[str, datetime]:
    """``created`` / ``lastUpdated`` given as parameters of a write: the moments the record must have."""
    expect: dict[str, datetime] = {}
    for name in ("created", "lastUpdated"):
        if name in params:
            moment = wire.parse_datetime(params[name].strip())
            if moment is None:
                raise _invalid(name, "it is not a dateTime")
            expect[name] = moment
    return expect


class Operations:
    """Dispatches an operation name to its handler; shares the state's store, schemas and faults."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.handlers = {
            "entity.create": self.create, "entity.bulkCreate": self.bulk_create,
            "entity.update": self.update, "entity.replace": self.replace, "entity.delete": self.delete,
            "entity": self.entity, "entity.find": self.find, "entity.count": self.count,
            "entityType": self.entity_type,
        }

    async def run(self, op: str, params: dict[str, str], client: ClientSpec, request_id: str) -> dict[str, Any]:
        try:
            return await self.handlers[op](params, client)
        except CaptureError as exc:
            exc.request_id = request_id
            raise

    # -- parameter helpers ---------------------------------------------------------------------

    def _schema(self, params: dict[str, str]) -> Schema:
        name = params["type_name"]
        schema = self.state.schemas.get(name)
        if schema is None:
            raise capture_error(Code.UNKNOWN_ENTITY_TYPE, f"unknown entity type {name[:100]!r}",
                                argument_name="type_name")
        return schema

    def _json(self, params: dict[str, str], name: str, client: ClientSpec, max_items: int | None = None) -> Any:
        text = params[name]
        if self.state.faults_for(client).accept_nan:
            try:
                return json.loads(text)  # the accept_nan test switch: deliberately not strict
            except ValueError:
                pass
        try:
            return wire.loads_strict(text, max_items=max_items)
        except JSONSyntaxError as exc:
            reason = str(exc) if any(word in str(exc) for word in ("nested", "duplicate", "more than")) \
                else "the JSON is not syntactically valid"
            raise _invalid(name, reason) from None

    def _record(self, params: dict[str, str], client: ClientSpec) -> tuple[str, Any]:
        name = "attributes" if "attributes" in params or "value" not in params else "value"
        record = self._json(params, name, client)
        if not isinstance(record, dict):
            raise _invalid(name, "it must be a JSON object")
        return name, record

    async def _locate(self, params: dict[str, str], schema: Schema, client: ClientSpec) -> tuple[Any, ...]:
        """The stored row that ``id``, ``uuid`` or ``key_attribute``+``key_value`` point to (310 if none)."""
        given = [k for k in _KEYS if k in params]
        if len(given) > 1:
            raise capture_error(Code.DUPLICATE_ARGUMENT, f"give only one of {', '.join(given)}",
                                argument_name=given[1])
        key = given[0]
        if key == "id":
            text = params["id"].strip()
            if not _DIGITS.fullmatch(text) or int(text) > _MAX_ID:
                raise _invalid("id", "it must be an integer")
            by, value = "id", int(text)  # type: tuple[str, Any]
        elif key == "uuid":
            try:
                by, value = "uuid", str(uuidlib.UUID(params["uuid"].strip()))
            except ValueError:
                raise _invalid("uuid", "it is not a uuid") from None
        else:
            by, value = self._key(params, schema, client)
        row = await self.state.db(self.state.store.lookup, schema.name, by, value)
        if row is None:
            raise capture_error(Code.RECORD_NOT_FOUND, "record not found")
        return row

    def _key(self, params: dict[str, str], schema: Schema, client: ClientSpec) -> tuple[str, Any]:
        name = params["key_attribute"]
        value = self._json(params, "key_value", client)
        if name == "id":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ID:
                raise _invalid("key_value", "an id is a positive integer")
            return name, value
        if name == "uuid":
            if not isinstance(value, str):
                raise _invalid("key_value", "a uuid is a JSON string")
            return name, value
        attr = schema.get(name)
        if attr is None or attr not in schema.unique:
            raise _invalid("key_attribute", f"{name[:100]!r} is not a unique attribute of {schema.name}")
        if isinstance(value, dict | list):
            raise _invalid("key_value", "it must be a JSON string, number or boolean")
        return name, unique_key(attr, value) if isinstance(value, str) else wire.dumps(value)

    def _require_key(self, params: dict[str, str]) -> None:
        if not any(k in params for k in _KEYS):
            raise capture_error(Code.MISSING_ARGUMENT, "missing arguments: uuid (or id, or key_attribute)",
                                argument_name="uuid")
        if "key_attribute" in params and "key_value" not in params:
            _missing(params, "key_value")

    @staticmethod
    def _validated(record: dict[str, Any], schema: Schema, *, new: bool, partial: bool = False) -> dict[str, Any]:
        """The record, if valid (``prepare`` normalises it while splitting it)."""
        violations = validate(record, schema, new=new, partial=partial)
        if violations:
            raise violations[0].to_error()
        return record

    # -- writes ----------------------------------------------------------------------------------

    async def create(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        _missing(params, "type_name", "attributes")
        schema = self._schema(params)
        include = _include_record(params)
        _, record = self._record(params, client)
        prepared = prepare(self._validated(record, schema, new=True), schema)
        (result,) = await self.state.db(self.state.store.insert, schema.name, [prepared])
        if isinstance(result, CaptureError):
            raise result
        body: dict[str, Any] = {"id": result[0], "uuid": result[1], "stat": "ok"}
        if include:
            row = await self.state.db(self.state.store.lookup, schema.name, "id", result[0])
            assert row is not None
            body = {"id": result[0], "uuid": result[1], "result": render(schema, row), "stat": "ok"}
        return body

    async def bulk_create(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        _missing(params, "type_name", "all_attributes")
        schema = self._schema(params)
        limit = self.state.config.max_batch
        records = self._json(params, "all_attributes", client, max_items=limit)  # stops past the limit
        if not isinstance(records, list):
            raise _invalid("all_attributes", "it must be a JSON array of attribute objects")
        if len(records) > limit:  # the accept_nan test switch parses without the bound
            raise _invalid("all_attributes", f"{len(records)} records is more than the maximum of {limit}")
        items: list[Any] = []
        for record in records:
            violations = validate(record, schema, new=True)
            if violations:
                items.append(violations[0].to_error())
                continue
            try:
                items.append(prepare(record, schema))
            except CaptureError as exc:  # a value the record holds twice where it must be unique
                items.append(exc)
        # inline, not on the DB thread: measured, the thread hop costs ~10% and buys no overlap (the GIL is
        # held while each row is bound); a batch of 100 holds the loop for about 2 ms
        results = await self.state.db(self.state.store.insert, schema.name, items)
        uuids: list[Any] = []
        ids: list[Any] = []
        for result in results:
            if isinstance(result, CaptureError):
                self.state.errors[str(result.code)] += 1
                slot = {"code": result.code, "error": result.error, "error_description": result.description,
                        "stat": "error"}
                if result.attribute_name is not None:
                    slot["attribute_name"] = result.attribute_name
                uuids.append(slot)
                ids.append(slot)
            else:
                ids.append(result[0])
                uuids.append(result[1])
        return {"uuid_results": uuids, "results": ids, "stat": "ok"}

    async def _write(self, params: dict[str, str], client: ClientSpec, mode: Mode) -> dict[str, Any]:
        """update, replace, and a delete of part of a record (``attribute_name``) or with preconditions."""
        _missing(params, "type_name")
        if mode != "delete" and "attributes" not in params and "value" not in params:
            _missing(params, "attributes")
        self._require_key(params)
        schema = self._schema(params)
        include = _include_record(params)
        expect = _preconditions(params)
        target = self._target(params, schema)
        if target is not None and target.steps[0].attr.is_system:
            raise capture_error(Code.RESERVED_ATTRIBUTE, f"{target.text} cannot be changed",
                                attribute_name=target.text)
        value = None
        if mode != "delete":
            name = "attributes" if "attributes" in params or "value" not in params else "value"
            value = self._json(params, name, client) if target is not None else self._record(params, client)[1]
        row = await self._locate(params, schema, client)
        edit = Edit(mode, target=target) if mode == "delete" else self._edit(value, schema, target, mode)
        if mode == "delete" and target is None:
            error = await self.state.db(self.state.store.delete, schema.name, row[0], expect)
            if error is not None:
                raise error
            return {"stat": "ok"}
        written = await self.state.db(self.state.store.write, schema.name, row[0], edit, expect)
        if isinstance(written, CaptureError):
            raise written
        return {"result": render(schema, written), "stat": "ok"} if include else {"stat": "ok"}

    def _edit(self, value: Any, schema: Schema, target: Target | None, mode: Mode) -> Edit:
        """An update or replace of the whole record or of the part at ``target``, validated and prepared.

        A part is validated in its place in a record (``wrap``), keeping only the violations about it.
        An update validates partially (elements with an id merge into theirs), a replace fully; every
        element of a replaced plural gets a new id, whatever id it carried.
        """
        partial = mode == "update"
        if target is None:
            prepared = prepare(self._validated(value, schema, new=False, partial=partial), schema, new=False)
        else:
            value = wrap(target, value)
            violations = [v for v in validate(value, schema, new=False, partial=partial) if target.covers(v)]
            if violations:
                raise violations[0].to_error()
            prepared = prepare(value, schema, new=False)
        if mode == "replace":
            forget_plural_ids(prepared.data, schema)
        return Edit(mode, prepared, target)

    @staticmethod
    def _target(params: dict[str, str], schema: Schema) -> Target | None:
        return parse(params["attribute_name"], schema) if "attribute_name" in params else None

    async def update(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        return await self._write(params, client, "update")

    async def replace(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        return await self._write(params, client, "replace")

    async def delete(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        return await self._write(params, client, "delete")

    # -- reads -----------------------------------------------------------------------------------

    async def entity(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        _missing(params, "type_name")
        self._require_key(params)
        schema = self._schema(params)
        target = self._target(params, schema)
        names = self._json(params, "attributes", client) if "attributes" in params and target is None else None
        record = render(schema, await self._locate(params, schema, client))
        if target is not None:
            return {"result": target.read(record), "stat": "ok"}
        return {"result": project(record, names, schema) if names is not None else record, "stat": "ok"}

    def _where(self, params: dict[str, str], schema: Schema) -> tuple[str | None, list[Any]]:
        text = params.get("filter", "").strip()
        if not text:
            return None, []
        return compile_filter(text, schema)

    @staticmethod
    def _int(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
        text = params.get(name, "").strip()
        if not text:
            return default
        if not _DIGITS.fullmatch(text.removeprefix("-")) or not low <= int(text) <= high:
            raise _invalid(name, f"it must be an integer from {low} to {high}")
        return int(text)

    async def find(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        _missing(params, "type_name")
        schema = self._schema(params)
        where, args = self._where(params, schema)
        limit = self._int(params, "max_results", _DEFAULT_MAX_RESULTS, 1, self.state.config.max_results)
        offset = self._int(params, "first_result", 0, 0, 10**12)
        order = compile_sort(self._json(params, "sort_on", client), schema) if "sort_on" in params else "e.id ASC"
        names = self._json(params, "attributes", client) if "attributes" in params else None
        lag = self.state.faults_for(client).read_lag
        try:
            rows = await self.state.db(self.state.store.find, schema.name, where, args, order, limit, offset, lag,
                                       offload=True)
        except OverflowError:
            raise filter_error("a number is out of range") from None
        results = [render(schema, row) for row in rows]
        if names is not None:
            results = [project(r, names, schema) for r in results]
        return {"result_count": len(results), "results": results, "stat": "ok"}

    async def count(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        _missing(params, "type_name")
        schema = self._schema(params)
        where, args = self._where(params, schema)
        lag = self.state.faults_for(client).read_lag
        try:
            total = await self.state.db(self.state.store.count, schema.name, where, args, lag, offload=True)
        except OverflowError:
            raise filter_error("a number is out of range") from None
        return {"total_count": total, "stat": "ok"}

    async def entity_type(self, params: dict[str, str], client: ClientSpec) -> dict[str, Any]:
        _missing(params, "type_name")
        return {"schema": self._schema(params).raw, "stat": "ok"}

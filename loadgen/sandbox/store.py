"""SQLite storage: one transaction per request, unique attributes held by a unique index.

Layout: ``entities`` (system attributes in columns, the rest as a JSON document), ``uniques``
(entity type, attribute, folded value) whose primary key is the unique index that makes duplicates
impossible even under concurrency, ``counters`` (record and plural-element ids come from the
database in ranges, never reused) and ``clients`` (the demo client survives restarts).

WAL with ``synchronous=NORMAL``: a committed transaction survives a killed process. All methods are
synchronous; the app serialises them (one connection, one writer at a time).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from loadgen import wire
from loadgen._fast.json_text import compact_json
from loadgen.errors import CaptureError, Code, UsageError, capture_error
from loadgen.sandbox.config import ClientSpec
from loadgen.sandbox.paths import Edit
from loadgen.sandbox.records import (
    Prepared,
    assign_plural_ids,
    duplicate,
    missing_plural_ids,
    plural_ids,
    stored,
    unique_keys,
)
from loadgen.schema import Schema

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY, type TEXT NOT NULL, uuid TEXT NOT NULL UNIQUE, created TEXT NOT NULL,
    last_updated TEXT NOT NULL, inserted REAL NOT NULL, data TEXT NOT NULL, secret TEXT);
CREATE TABLE IF NOT EXISTS uniques (
    type TEXT NOT NULL, attr TEXT NOT NULL, key TEXT NOT NULL, entity INTEGER NOT NULL,
    PRIMARY KEY (type, attr, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('entity', 0), ('plural', 0);
CREATE TABLE IF NOT EXISTS clients (client_id TEXT PRIMARY KEY, secret TEXT NOT NULL, features TEXT NOT NULL);
"""

_ROW = "e.id, e.uuid, e.created, e.last_updated, e.data, e.secret"
_CHUNK = 400
#: Ids a process takes from ``counters`` at a time for new records (and as many plural elements): a
#: create then updates no counter in its own transaction, one statement and one written page fewer.
#: Processes sharing the file take ranges of their own, so ids stay unique and are never reused; ids a
#: range leaves unused at exit are skipped.
_ID_RANGE = 100


def _mismatch(row: tuple[Any, ...], expect: Mapping[str, datetime] | None) -> CaptureError | None:
    """330 if a ``created`` / ``lastUpdated`` precondition names another moment than the row holds
    (compared as moments, so any format ``wire.parse_datetime`` reads matches)."""
    for name, moment in (expect or {}).items():
        if wire.parse_datetime(row[2] if name == "created" else row[3]) != moment:
            return capture_error(Code.TIMESTAMP_MISMATCH,
                                 "the created or lastUpdated value does not match the supplied argument",
                                 argument_name=name)
    return None


def _uuid4s(n: int) -> Iterator[str]:
    """n random (version 4) uuids as text, from one read of the OS random source (cheaper than uuid4())."""
    raw = os.urandom(16 * n).hex()
    for i in range(0, 32 * n, 32):
        h = raw[i:i + 32]
        yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class Store:
    """The sandbox database. Not thread-safe by itself: callers run one method at a time."""

    def __init__(self, path: str, schemas: Mapping[str, Schema]) -> None:
        self.path = path
        #: per counter, (the last id handed out, the last id of the range this process holds)
        self._ranges: dict[str, tuple[int, int]] = {"entity": (0, 0), "plural": (0, 0)}
        self.schemas = dict(schemas)
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            if path != ":memory:":
                self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=5000")
            self.conn.execute("PRAGMA cache_size=-65536")
            # each bulk batch dirties ~100 pages of the random-uuid index; a long WAL (up to 160 MB) lets
            # a checkpoint copy each page once for many batches and fsync less: measured, a fifth less
            # wall time per bulk insert than with 10,000 pages
            self.conn.execute("PRAGMA wal_autocheckpoint=40000")
            self.conn.executescript(_SCHEMA_SQL)
        except sqlite3.Error as exc:
            if hasattr(self, "conn"):  # connected, then a pragma or the schema failed: do not leak it
                self.conn.close()
            raise UsageError(f"--db {path}: cannot use it as the sandbox database: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def _begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def _count_up(self, name: str, n: int) -> int:
        """Add ``n`` to a counter; its new value. All rows fetched: outside a transaction the statement's
        own one then commits at once."""
        ((last,),) = self.conn.execute(
            "UPDATE counters SET value = value + ? WHERE name = ? RETURNING value", (n, name)).fetchall()
        return int(last)

    def _next_ids(self, name: str, n: int) -> Iterator[int]:
        if n == 0:
            return iter(())
        last = self._count_up(name, n)
        return iter(range(last - n + 1, last + 1))

    def _reserve(self, records: int, elements: int) -> None:
        """Make the ranges hold ``records`` record ids and ``elements`` element ids, taking new ones from
        ``counters`` outside any transaction: committed at once, so a request rolled back later never
        gives back ids that another process may since have taken."""
        for name, n in (("entity", records), ("plural", elements)):
            last, end = self._ranges[name]
            if end - last < n:
                size = max(n, _ID_RANGE)
                end = self._count_up(name, size)
                self._ranges[name] = (end - size, end)

    def _take(self, name: str, n: int) -> Iterator[int]:
        """``n`` ids from a range :meth:`_reserve` made large enough."""
        last, end = self._ranges[name]
        assert last + n <= end, "ids taken beyond the range reserved"  # the next range, maybe another process's
        self._ranges[name] = (last + n, end)
        return iter(range(last + 1, last + n + 1))

    # -- clients ---------------------------------------------------------------------------------

    def demo_client(self) -> ClientSpec:
        """The demo owner client, created on first start and kept in the database."""
        row = self.conn.execute("SELECT client_id, secret FROM clients WHERE features = 'owner' "
                                "ORDER BY rowid LIMIT 1").fetchone()
        if row is None:
            row = (f"sandbox-{secrets.token_hex(6)}", secrets.token_urlsafe(24))
            self.conn.execute("INSERT INTO clients VALUES (?, ?, 'owner')", row)
        return ClientSpec(row[0], row[1], frozenset({"owner"}))

    # -- writes ----------------------------------------------------------------------------------

    def insert(self, type_name: str, items: Sequence[Prepared | CaptureError]) -> list[tuple[int, str] | CaptureError]:
        """Create the prepared records in one transaction; errors stay in their slots.

        Uniqueness is checked against the database and within the batch (first one wins). The unique
        index is the last word: if another writer raced us, the batch is redone one record at a time.
        """
        self._reserve(len(items), sum(len(item.elements) for item in items if isinstance(item, Prepared)))
        self._begin()
        try:  # a single record skips the look-up: the unique index answers, and the fallback names the attribute
            out = self._insert(type_name, items, check=len(items) > 1)
            self.conn.execute("COMMIT")
            return out
        except sqlite3.IntegrityError:
            self.conn.execute("ROLLBACK")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        results: list[tuple[int, str] | CaptureError] = []
        for item in items:  # the try above used its ids up: each retry takes its own
            self._reserve(1, len(item.elements) if isinstance(item, Prepared) else 0)
            self._begin()
            try:
                results.extend(self._insert(type_name, [item]))
                self.conn.execute("COMMIT")
            except sqlite3.IntegrityError:
                self.conn.execute("ROLLBACK")
                attrs = [a.name for a in self.schemas[type_name].unique] or ["uuid"]
                results.append(duplicate(attrs[0]))
        return results

    def _taken(self, type_name: str, attr: str, keys: Iterable[str]) -> set[str]:
        found: set[str] = set()
        todo = list(keys)
        for i in range(0, len(todo), _CHUNK):
            chunk = todo[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            if attr == "uuid":
                sql = f"SELECT uuid FROM entities WHERE uuid IN ({marks})"
                args: list[str] = chunk
            else:
                sql = f"SELECT key FROM uniques WHERE type = ? AND attr = ? AND key IN ({marks})"
                args = [type_name, attr, *chunk]
            found.update(r[0] for r in self.conn.execute(sql, args))
        return found

    def _insert(self, type_name: str, items: Sequence[Prepared | CaptureError],
                check: bool = True) -> list[tuple[int, str] | CaptureError]:
        out: list[Any] = list(items)
        fresh = [i for i, item in enumerate(items) if isinstance(item, Prepared)]
        wanted: dict[str, set[str]] = {}
        for i in fresh:
            item = out[i]
            for attr, key in item.keys:
                wanted.setdefault(attr, set()).add(key)
            if item.uuid:
                wanted.setdefault("uuid", set()).add(item.uuid)
        taken = {attr: self._taken(type_name, attr, vals) if check else set() for attr, vals in wanted.items()}
        seen: set[tuple[str, str]] = set()
        good: list[int] = []
        for i in fresh:
            item = out[i]
            pairs = [*item.keys, ("uuid", item.uuid)] if item.uuid else item.keys
            for attr, key in pairs:  # plain loops here and below: a generator per record costs ~3% of a batch
                if key in taken[attr] or (attr, key) in seen:
                    out[i] = duplicate(attr)
                    break
            else:
                seen.update(pairs)
                good.append(i)
        ids = self._take("entity", len(good))
        element_ids = self._take("plural", sum(len(out[i].elements) for i in good))
        now = wire.now_timestamp()
        inserted = time.time()
        rows: list[tuple[Any, ...]] = []
        unique_rows: list[tuple[str, str, str, int]] = []
        uuids = _uuid4s(len(good))
        for i in good:
            new: Prepared = out[i]
            entity_id = next(ids)
            uuid = next(uuids)
            if new.uuid:
                uuid = new.uuid
            for element in new.elements:
                element["id"] = next(element_ids)
            secret = {k: v for k, v in new.secret.items() if v is not None} if new.secret else None
            rows.append((entity_id, type_name, uuid, new.created or now, now, inserted, compact_json(new.data),
                         compact_json(secret) if secret else None))
            for attr, key in new.keys:
                unique_rows.append((type_name, attr, key, entity_id))
            out[i] = (entity_id, uuid)
        self.conn.executemany("INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        if unique_rows:
            self.conn.executemany("INSERT INTO uniques VALUES (?, ?, ?, ?)", unique_rows)
        return out

    def write(self, type_name: str, entity_id: int, edit: Edit,
              expect: Mapping[str, datetime] | None = None) -> tuple[Any, ...] | CaptureError:
        """``entity.update``, ``entity.replace`` or a partial ``entity.delete`` of one stored record, in one
        transaction: the preconditions (330), the edit, uniqueness (361) and the new plural ids (310 for
        an element id the record lacks). Returns the new row, as ``lookup`` does."""
        schema = self.schemas[type_name]
        self._begin()
        try:
            row = self.conn.execute(f"SELECT {_ROW} FROM entities e WHERE e.id = ?", (entity_id,)).fetchone()
            error = capture_error(Code.RECORD_NOT_FOUND, "the record does not exist") if row is None \
                else _mismatch(row, expect)
            if error is not None:
                self.conn.execute("ROLLBACK")
                return error
            old = json.loads(row[4])
            try:
                data = stored(edit.apply(old, schema))
                keys = unique_keys(data, schema)
                assign_plural_ids(data, schema, self._next_ids("plural", missing_plural_ids(data, schema)),
                                  plural_ids(old, schema))
            except CaptureError as exc:
                self.conn.execute("ROLLBACK")
                return exc
            for attr, key in keys:
                owner = self.conn.execute("SELECT entity FROM uniques WHERE type = ? AND attr = ? AND key = ?",
                                          (type_name, attr, key)).fetchone()
                if owner is not None and owner[0] != entity_id:
                    self.conn.execute("ROLLBACK")
                    return duplicate(attr)
            secret = edit.secret(json.loads(row[5]) if row[5] else {})
            new_row = (entity_id, row[1], row[2], wire.now_timestamp(), compact_json(data),
                       compact_json(secret) if secret else None)
            self.conn.execute("UPDATE entities SET data = ?, secret = ?, last_updated = ? WHERE id = ?",
                              (new_row[4], new_row[5], new_row[3], entity_id))
            self._unindex(type_name, entity_id, old)
            self.conn.executemany("INSERT INTO uniques VALUES (?, ?, ?, ?)",
                                  [(type_name, a, k, entity_id) for a, k in keys])
            self.conn.execute("COMMIT")
        except sqlite3.IntegrityError:
            self.conn.execute("ROLLBACK")
            return duplicate(schema.unique[0].name if schema.unique else "uuid")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        return new_row

    def _unindex(self, type_name: str, entity_id: int, data: Mapping[str, Any]) -> None:
        """Drop a record's unique index entries (found from its stored values, so no index on entity)."""
        self.conn.executemany("DELETE FROM uniques WHERE type = ? AND attr = ? AND key = ? AND entity = ?",
                              [(type_name, a, k, entity_id) for a, k in unique_keys(data, self.schemas[type_name])])

    def delete(self, type_name: str, entity_id: int,
               expect: Mapping[str, datetime] | None = None) -> CaptureError | None:
        """``entity.delete`` of a whole record, if its timestamps are as ``expect`` says (else 330)."""
        self._begin()
        try:
            row = self.conn.execute(f"SELECT {_ROW} FROM entities e WHERE e.id = ?", (entity_id,)).fetchone()
            error = None if row is None else _mismatch(row, expect)
            if row is not None and error is None:
                self._unindex(type_name, entity_id, json.loads(row[4]))
                self.conn.execute("DELETE FROM entities WHERE id = ?", (entity_id,))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return error

    def reset(self) -> None:
        """Delete every record (ids keep counting up, as on a real domain)."""
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("DELETE FROM uniques")
        self.conn.execute("DELETE FROM entities")
        self.conn.execute("COMMIT")

    # -- reads -----------------------------------------------------------------------------------

    def lookup(self, type_name: str, by: str, value: Any) -> tuple[Any, ...] | None:
        """One row ``(id, uuid, created, last_updated, data)`` by ``id``, ``uuid`` or a unique attribute."""
        args: tuple[Any, ...] = (type_name, value)
        if by == "id":
            sql = f"SELECT {_ROW} FROM entities e WHERE e.type = ? AND e.id = ?"
        elif by == "uuid":
            sql = f"SELECT {_ROW} FROM entities e WHERE e.type = ? AND e.uuid = ?"
        else:
            sql = (f"SELECT {_ROW} FROM uniques u JOIN entities e ON e.id = u.entity "
                   "WHERE u.type = ? AND u.attr = ? AND u.key = ?")
            args = (type_name, by, value)
        row: tuple[Any, ...] | None = self.conn.execute(sql, args).fetchone()
        return row

    def _where(self, type_name: str, where: str | None, lag: float) -> tuple[str, list[Any]]:
        clause = "e.type = ?"
        args: list[Any] = [type_name]
        if lag > 0:
            clause += " AND e.inserted <= ?"
            args.append(time.time() - lag)
        if where:
            clause += f" AND ({where})"
        return clause, args

    def find(self, type_name: str, where: str | None, params: Sequence[Any], order: str,
             limit: int, offset: int, lag: float = 0.0) -> list[tuple[Any, ...]]:
        clause, args = self._where(type_name, where, lag)
        sql = f"SELECT {_ROW} FROM entities e WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?"
        return self.conn.execute(sql, [*args, *params, limit, offset]).fetchall()

    def count(self, type_name: str, where: str | None, params: Sequence[Any], lag: float = 0.0) -> int:
        clause, args = self._where(type_name, where, lag)
        (n,) = self.conn.execute(f"SELECT count(*) FROM entities e WHERE {clause}", [*args, *params]).fetchone()
        return int(n)

    def records_per_type(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT type, count(*) FROM entities GROUP BY type").fetchall()
        counts = {name: 0 for name in self.schemas}
        counts.update({t: int(n) for t, n in rows})
        return counts

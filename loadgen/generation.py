"""``loadgen generate`` end to end: profiles made, serialised and written at the factory's own pace.

Why it is built this way:

- **Chunks, not rows.** The output is a sequence of chunks of ``CHUNK`` profiles, each made by
  ``ProfileFactory.chunk`` from (seed, run id, worker, chunk index) alone. One process makes them in
  order; ``jobs`` processes make them in parallel and the parent writes them in order: the bytes are the
  same whatever the number of jobs.
- **One orjson call per chunk.** A call per profile costs about three times the serialisation itself,
  so a chunk is dumped as one list with a break marker between profiles and cut at the markers. Form
  bodies escape the whole chunk with ``bytes.replace`` (only profiles with non-ASCII names take one
  more call each); CSV rows are dumped by orjson too and turned into CSV by ``bytes.replace`` (see
  ``_Columns``), leaving one Python list per row.
- **Memory stays flat.** A chunk is written as one buffered write and dropped; at most two chunks per
  job are in flight.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice, repeat
from typing import Any, BinaryIO, Final

import orjson

from loadgen.errors import UsageError
from loadgen.profiles import Profile, ProfileFactory
from loadgen.schema import Schema
from loadgen.wire import dumps, form_escape_lean, form_escape_reserved, form_escape_unprintable

__all__ = ["CHUNK", "FORMATS", "Generation", "write"]

FORMATS: Final = ("jsonl", "json", "csv", "form")
#: Profiles per chunk: its fixed costs vanish already, and smaller chunks stay in the CPU caches (faster).
CHUNK: Final = 1000

_BREAK: Final = "\x00"  # orjson writes it as the six characters \u0000; a generated profile never holds it
_SEPARATOR: Final = b',"\\u0000",'
# Column kinds: text goes into a cell as it is; any other type is written as its JSON text.
_TEXT_TYPES: Final = frozenset({"string", "date", "dateTime", "uuid", "ipAddress"})


@dataclass(frozen=True)
class Generation:
    """What to generate: everything a worker process needs to make any chunk on its own."""

    schema: Schema
    profile: Profile
    fmt: str
    count: int
    seed: int = 0
    run_id: str = "local"
    worker: int = 0
    today: date | None = None

    def factory(self) -> ProfileFactory:
        return ProfileFactory(self.schema, self.profile, seed=self.seed, run_id=self.run_id, worker=self.worker,
                              today=self.today)


def write(gen: Generation, out: BinaryIO, *, jobs: int = 1, progress: Callable[[int], None] | None = None) -> int:
    """Write ``gen.count`` profiles to ``out`` in ``gen.fmt``; returns how many were written.

    An interruption leaves whole chunks (and a closed ``json`` array).
    """
    if gen.fmt not in FORMATS:
        raise UsageError(f"unknown format {gen.fmt!r} (expected one of {', '.join(FORMATS)})")
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    sizes = [min(CHUNK, gen.count - start) for start in range(0, gen.count, CHUNK)]
    head, separator, tail = _frame(gen)
    out.write(head)
    written = 0
    try:
        for i, body in enumerate(_chunks(gen, sizes, jobs)):
            out.write(separator + body if i and separator else body)
            written += sizes[i]
            if progress is not None:
                progress(written)
    finally:  # after Ctrl-C too: whole chunks only, and the array closed
        out.write(tail)
    return written


def _frame(gen: Generation) -> tuple[bytes, bytes, bytes]:
    """What goes before the chunks, between two of them and after them."""
    if gen.fmt == "json":
        return (b"[\n" if gen.count else b"["), b",\n", b"\n]\n"
    if gen.fmt == "csv":
        return _csv_lines([_Columns(gen.factory()).names]), b"", b""
    return b"", b"", b""


def _chunks(gen: Generation, sizes: list[int], jobs: int) -> Iterator[bytes]:
    """The encoded chunks in order: made here, or by ``jobs`` processes with a bounded window."""
    if jobs == 1 or len(sizes) < 2:
        encoder = _Encoder(gen)
        yield from (encoder.chunk(i, size) for i, size in enumerate(sizes))
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = min(jobs, len(sizes))
    todo = iter(enumerate(sizes))
    with context.Pool(workers, initializer=_start_worker, initargs=(gen,)) as pool:
        pending = deque(pool.apply_async(_make_chunk, (job,)) for job in islice(todo, 2 * workers))
        while pending:  # in order, at most two chunks per worker in flight (a slow reader holds no more)
            body = pending.popleft().get()
            job = next(todo, None)
            if job is not None:
                pending.append(pool.apply_async(_make_chunk, (job,)))
            yield body


_worker: _Encoder | None = None


def _start_worker(gen: Generation) -> None:
    """A worker's own factory, made after the fork (a factory copied by fork would reseed itself)."""
    global _worker
    _worker = _Encoder(gen)


def _make_chunk(job: tuple[int, int]) -> bytes:
    assert _worker is not None
    return _worker.chunk(*job)


class _Encoder:
    """Makes chunk ``i`` and encodes it in one format."""

    def __init__(self, gen: Generation) -> None:
        self.factory = gen.factory()
        self.encode: Callable[[list[dict[str, Any]]], bytes]
        if gen.fmt == "jsonl":
            self.encode = lambda records: b"\n".join(_dump_each(records)) + b"\n"
        elif gen.fmt == "json":
            self.encode = lambda records: b",\n".join(_dump_each(records))
        elif gen.fmt == "form":
            prefix = b"type_name=" + form_escape_lean(gen.schema.name.encode()) + b"&attributes="
            self.encode = lambda records: prefix + (b"\n" + prefix).join(_form_values(records)) + b"\n"
        else:
            self.encode = _Columns(self.factory).csv

    def chunk(self, index: int, size: int) -> bytes:
        return self.encode(self.factory.chunk(index, size))


def _dump_each(values: list[Any], escape: Callable[[bytes], bytes] | None = None) -> list[bytes]:
    """The compact JSON of each value (the same text as ``wire.dumps``), from one orjson call; ``escape``
    runs once on the whole text (it must leave the break marker as it is)."""
    if not values:
        return []
    spaced: list[Any] = [_BREAK] * (2 * len(values) - 1)
    spaced[::2] = values
    text = orjson.dumps(spaced)[1:-1]
    parts = (text if escape is None else escape(text)).split(_SEPARATOR)
    if len(parts) != len(values):  # a value held the break marker as a list element: one call each
        parts = list(map(orjson.dumps, values))
        return parts if escape is None else list(map(escape, parts))
    return parts


def _form_values(records: list[dict[str, Any]]) -> list[bytes]:
    """Each record's JSON escaped as ``wire.form_escape_lean`` does, its ``bytes.replace`` run once per chunk."""
    unprintable = form_escape_unprintable
    return [part if part.isascii() and b"\x7f" not in part else unprintable(part)
            for part in _dump_each(records, form_escape_reserved)]


class _Columns:
    """The CSV layout: dotted columns for object children, JSON text for plurals and non-text types.

    Every cell is quoted, so a chunk's rows can be written by orjson as JSON arrays of strings and
    turned into CSV with three ``bytes.replace``: ``["a","b\\"c"]`` is ``"a","b""c"``. A chunk whose text
    holds any other JSON escape (a control character) is written by the ``csv`` module instead.
    """

    def __init__(self, factory: ProfileFactory) -> None:
        self.names = factory.columns()
        self.groups: list[tuple[str | None, list[str]]] = []  # (object, or None for top level; its keys)
        self.json: list[int] = []  # the cells written as JSON text
        for i, name in enumerate(self.names):
            top, _, child = name.partition(".")
            parent = top if child else None
            attr = factory.schema[top]
            attr = attr.child(child) or attr if child else attr
            if attr.type not in _TEXT_TYPES and not attr.is_password:
                self.json.append(i)
            if not self.groups or self.groups[-1][0] != parent:
                self.groups.append((parent, []))
            self.groups[-1][1].append(child or top)

    def rows(self, records: list[dict[str, Any]]) -> list[list[Any]]:
        """The cells of each record in column order; JSON cells still hold their values, "" when absent."""
        empty: dict[str, Any] = {}
        rows = []
        for rec in records:
            row: list[Any] = []
            for parent, keys in self.groups:
                source = rec if parent is None else (rec.get(parent) or empty)
                row += map(source.get, keys, repeat(""))
            rows.append(row)
        if self.json:
            texts = iter(_dump_each([row[i] for row in rows for i in self.json]))
            for row in rows:
                for i in self.json:
                    text = next(texts)
                    row[i] = text.decode() if text != b'""' else ""
        return rows

    def csv(self, records: list[dict[str, Any]]) -> bytes:
        return _csv_lines(self.rows(records))


def _csv_lines(rows: list[list[Any]]) -> bytes:
    """Rows of strings as CSV with every cell quoted, from one orjson call (or the ``csv`` module)."""
    fast = _csv_from_json(rows) if rows else b""
    if fast is not None:
        return fast
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
        [[cell if isinstance(cell, str) else dumps(cell) for cell in row] for row in rows])
    return out.getvalue().encode()


def _csv_from_json(rows: list[list[Any]]) -> bytes | None:
    """``["a","b\\"c"],["d"]`` -> ``"a","b""c"`` and ``"d"`` on two lines; ``None`` if a cell is not a
    string or holds a control character (escapes other than ``\\"`` and ``\\\\``)."""
    text = orjson.dumps(rows)
    body = text[2:-2].replace(b'"],["', b'"\n"')  # 5 bytes become 3 at each row break, nowhere else
    if text.count(b'","') != len(rows) * (len(rows[0]) - 1) or len(text) - 4 - len(body) != 2 * (len(rows) - 1):
        return None
    unescaped = body.replace(b'\\"', b'""')
    if b"\\" in unescaped:  # an escaped backslash (\\" is one before a closing quote): hold it in \x00,
        unescaped = body.replace(b"\\\\", b"\x00").replace(b'\\"', b'""')  # never raw in orjson's text
        if b"\\" in unescaped:
            return None
        unescaped = unescaped.replace(b"\x00", b"\\")
    return unescaped + b"\n"

"""``loadgen generate`` end to end: profiles made, serialised and written at the factory's own pace.

Why it is built this way:

- **Chunks, not rows.** The output is a sequence of chunks of ``CHUNK`` profiles, each made by
  ``ProfileFactory.chunk`` from (seed, run id, worker, chunk index) alone. One process makes them in
  order; ``jobs`` processes make them in parallel and write them into the file at their place, in
  order (``_Place``): the bytes are the same whatever the number of jobs.
- **One orjson call per slice.** A call per profile pays orjson's set-up (its output buffer) each time, so
  a slice of ``SLICE`` profiles is dumped as one list with a break between profiles and cut at the
  breaks (a slice, not the whole chunk: its text stays in the CPU's caches). Form bodies escape the
  whole slice with ``bytes.replace`` (only profiles with non-ASCII names take one more call each);
  CSV rows, which the factory makes as lists (no dicts made and read back), are one orjson call each,
  with the JSON cells made ready on the slice's whole text (see ``_Columns``). A chunk's slices go to
  the file as they are (``writelines``, ``pwritev``), not joined first.
- **Memory stays flat.** A chunk is written as it is made and dropped; at most two chunks per job are
  in flight.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import multiprocessing
import os
import signal
import stat
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any, BinaryIO, Final

import orjson

from loadgen.errors import UsageError
from loadgen.profiles import Profile, ProfileFactory
from loadgen.schema import Schema
from loadgen.wire import dumps, form_escape_high, form_escape_lean, form_escape_reserved, form_escape_unprintable

__all__ = ["CHUNK", "FORMATS", "Generation", "json_and_form", "write"]

FORMATS: Final = ("jsonl", "json", "csv", "form")
#: Profiles per chunk, the unit of seeding, of work for ``--jobs`` and of writes: its fixed costs vanish.
CHUNK: Final = 1000
#: Profiles made and encoded at a time: a slice's objects and text (about 100 KB of it) stay in the CPU's
#: caches from the making through the passes over the text (dump, escape, split, join); a whole chunk's
#: do not. The factory itself makes profiles about a tenth faster this way (``bench/generate.py`` prints
#: the ratio), and the encoding's passes run on text still in the caches.
SLICE: Final = 100

#: Between two values in one orjson call: raw control bytes (a ``Fragment`` is written as it is), which
#: orjson's own text never holds (it escapes them in strings), so the breaks are all a split finds. Bytes
#: rare in JSON text even by their low six bits, the filter CPython's byte search skips by: it strides
#: over most of the text a separator's length at a time, stopping only at ``,``, ``l``, ``\\`` and ``^``,
#: where a break of ``"\\u0000"`` stopped it at every ``"``, ``0``, ``5``, ``b``, ``l``, ``p`` or ``u``
#: (``bench/generate.py`` measures the whole).
_BREAK_BYTES: Final = b"\x1e\x1c" * 8
_BREAK: Final = orjson.Fragment(_BREAK_BYTES)
_SEPARATOR: Final = b"," + _BREAK_BYTES + b","
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
        """The factory of the chunks; form-ready for form bodies (``_form_lines`` says why)."""
        return ProfileFactory(self.schema, self.profile, seed=self.seed, run_id=self.run_id, worker=self.worker,
                              today=self.today, form_ready=self.fmt == "form")


def write(gen: Generation, out: BinaryIO, *, jobs: int = 1, progress: Callable[[int], None] | None = None) -> int:
    """Write ``gen.count`` profiles to ``out`` in ``gen.fmt``; returns how many were written.

    An interruption leaves whole chunks (and a closed ``json`` array).
    """
    if gen.fmt not in FORMATS:
        raise UsageError(f"unknown format {gen.fmt!r} (expected one of {', '.join(FORMATS)})")
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    sizes = [min(CHUNK, gen.count - start) for start in range(0, gen.count, CHUNK)]
    head, tail = _frame(gen)
    out.write(head)
    place = _Place.of(out) if jobs > 1 and len(sizes) > 1 else None
    written = 0
    chunks = _chunks(gen, sizes, jobs, place)
    try:
        for i, body in enumerate(chunks):
            with _ctrl_c_after():
                if body is not None:
                    out.writelines(body)
                written += sizes[i]
            if progress is not None:
                progress(written)
    except BaseException:  # after Ctrl-C too: whole chunks only, and the array closed
        _close(chunks, place, out, tail, failing=True)
        raise
    _close(chunks, place, out, tail, failing=False)
    return written


def _close(chunks: Generator[Any, None, None], place: _Place | None, out: BinaryIO, tail: bytes, *,
           failing: bool) -> None:
    """Stop the workers, cut what follows the last whole chunk, end the format. A reader gone when the
    run is already failing is no news: a terminal's Ctrl-C reaches ``| head`` too, and its broken pipe
    hid the Ctrl-C (exit 0, as if the reader had all it wanted)."""
    chunks.close()  # the workers are gone before the file is cut
    if place is not None:
        place.settle(out)
    try:
        out.write(tail)
    except BrokenPipeError:
        if not failing:
            raise


@contextlib.contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """SIGINT is held back (blocked, so pending) while the block runs: a chunk is written whole, and a
    Ctrl-C comes as ``KeyboardInterrupt`` once it is. A SIGINT that interrupted a write blocked on a full pipe
    (``loadgen generate | slow-reader``) left part of a chunk (a ``json`` array cut inside a profile), and
    with a handler that does not raise, Python's buffered writer dropped bytes from the middle of the
    stream (3.11: 1.72 of 1.8 MB arrived)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _frame(gen: Generation) -> tuple[bytes, bytes]:
    """What goes before the chunks and after them."""
    if gen.fmt == "json":
        return (b"[\n" if gen.count else b"["), b"\n]\n"
    if gen.fmt == "csv":
        return _csv_lines([_Columns(gen.factory()).names]), b""
    return b"", b""


class _Place:
    """Where the next chunk goes in a regular file that the workers write themselves.

    Handing each chunk back to the parent to write costs the parent a core's sixth in copies and page
    faults, the share that keeps 2 jobs from being twice as fast as one. So the workers ``pwritev``
    their chunks: each takes its offset in chunk order (a short wait under one lock), then writes
    outside it. Only forked workers share the file descriptor and the lock; any other output (a pipe,
    a file in append mode) is written by the parent.
    """

    def __init__(self, fd: int, start: int) -> None:
        context = multiprocessing.get_context("fork")
        self.fd = fd
        self.turn = context.Condition()
        self.next = context.RawValue("q", 0)  # the chunk whose turn it is to take its offset
        self.offset = context.RawValue("q", start)
        self.end = start  # the parent's count: where the chunks it has seen complete, in order, end

    @classmethod
    def of(cls, out: BinaryIO) -> _Place | None:
        if "fork" not in multiprocessing.get_all_start_methods() or not hasattr(os, "pwritev"):
            return None
        try:
            fd = out.fileno()
            # pwritev ignores its offset in append mode (`loadgen generate >> file` too): chunks would land
            # in the order they are done
            if not stat.S_ISREG(os.fstat(fd).st_mode) or fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
                return None
            out.flush()
            return cls(fd, out.tell())
        except (OSError, ValueError, io.UnsupportedOperation):  # no descriptor: a BytesIO, say
            return None

    def put(self, index: int, body: list[bytes]) -> int:
        """Write chunk ``index`` at its place, in a worker; returns its length in the file."""
        size = sum(map(len, body))
        with self.turn:
            self.turn.wait_for(lambda: self.next.value == index)
            at = self.offset.value
            self.offset.value = at + size
            self.next.value = index + 1
            self.turn.notify_all()
        views = [memoryview(part) for part in body]
        while views:  # a regular file may take less than all at once
            done = os.pwritev(self.fd, views, at)
            at += done
            while views and done >= len(views[0]):
                done -= len(views.pop(0))
            if done:
                views[0] = views[0][done:]
        return size

    def settle(self, out: BinaryIO) -> None:
        """After the workers are gone: cut what lies past the last chunk seen in order (an interrupted
        run's later chunks) and go on writing from there."""
        os.ftruncate(self.fd, self.end)
        out.seek(self.end)


def _chunks(gen: Generation, sizes: list[int], jobs: int,
            place: _Place | None) -> Generator[list[bytes] | None, None, None]:
    """The encoded chunks in order: made here, or by ``jobs`` processes with a bounded window (``None``
    for a chunk a worker has written at its ``place``)."""
    if jobs == 1 or len(sizes) < 2:
        encoder = _Encoder(gen)
        yield from (encoder.chunk(i, size) for i, size in enumerate(sizes))
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = min(jobs, len(sizes))
    todo = iter(enumerate(sizes))
    with context.Pool(workers, initializer=_start_worker, initargs=(gen, place)) as pool:
        pending = deque(pool.apply_async(_make_chunk, (job,)) for job in islice(todo, 2 * workers))
        while pending:  # in order, at most two chunks per worker in flight (a slow reader holds no more)
            result = pending.popleft().get()
            job = next(todo, None)
            if job is not None:
                pending.append(pool.apply_async(_make_chunk, (job,)))
            if isinstance(result, int):
                assert place is not None
                place.end += result
                yield None
            else:
                yield result


_worker: _Encoder | None = None
_place: _Place | None = None


def _start_worker(gen: Generation, place: _Place | None) -> None:
    """A worker's own factory, made after the fork (a factory copied by fork would reseed itself).

    Ctrl-C reaches the whole process group: the parent answers it (it stops the pool and closes the
    output), so a worker ignores it rather than print a traceback of its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker, _place
    _worker, _place = _Encoder(gen), place


def _make_chunk(job: tuple[int, int]) -> list[bytes] | int:
    assert _worker is not None
    body = _worker.chunk(*job)
    return body if _place is None else _place.put(job[0], body)


class _Encoder:
    """Makes chunk ``i`` and encodes it in one format."""

    def __init__(self, gen: Generation) -> None:
        self.factory = gen.factory()
        self.encode: Callable[[list[Any]], bytes]
        self.json = gen.fmt == "json"  # slices and chunks need ",\n" between them
        self.rows = gen.fmt == "csv"  # the factory makes CSV rows, not dicts
        if gen.fmt == "jsonl":
            self.encode = lambda records: _lines(_dump_each(records))
        elif gen.fmt == "json":
            self.encode = lambda records: b",\n".join(_dump_each(records))
        elif gen.fmt == "form":
            prefix = b"type_name=" + form_escape_lean(gen.schema.name.encode()) + b"&attributes="
            self.encode = lambda records: _form_lines(records, prefix)
        else:
            self.encode = _Columns(self.factory).csv

    def chunk(self, index: int, size: int) -> list[bytes]:
        """The chunk's text, a slice's at a time (written as they are: joining them would copy it once more)."""
        slices = [self.encode(part) for part in self.factory.chunk_parts(index, size, SLICE, rows=self.rows)]
        # after the chunk before, a json chunk starts with a break of its own
        return _between(slices, b",\n", lead=index > 0) if self.json else slices


def _between(items: list[Any], separator: Any, *, lead: bool = False) -> list[Any]:
    """``items`` with ``separator`` between each two (and before the first, with ``lead``)."""
    first = 1 if lead else 0
    spaced = [separator] * (2 * len(items) - 1 + first)
    spaced[first::2] = items
    return spaced


def _joined(values: list[Any]) -> bytes:
    """The compact JSON of each value (the same text as ``wire.dumps``), ``_SEPARATOR`` between them, from
    one orjson call; ``values`` must not be empty (its text would split into one empty part)."""
    return orjson.dumps(_between(values, _BREAK))[1:-1]


def _split(text: bytes) -> list[bytes]:
    """``text`` cut at its breaks. ``rsplit``, which searches backwards: ``split`` searches a long text
    with CPython's two-way algorithm, set up anew at every break."""
    return text.rsplit(_SEPARATOR)


def _dump_each(values: list[Any], escape: Callable[[bytes], bytes] | None = None) -> list[bytes]:
    """The compact JSON of each value; ``escape`` runs once on the whole text (it must leave the breaks,
    control bytes and commas, as they are)."""
    if not values:
        return []
    text = _joined(values)
    parts = _split(text if escape is None else escape(text))
    assert len(parts) == len(values), "a value held an orjson.Fragment of the break"  # CSV cells would shift
    return parts


def _form_lines(records: list[dict[str, Any]], prefix: bytes) -> bytes:
    """One form body per line, ``prefix`` and each record's JSON, from a form-ready factory's records
    (``wire.form_ready``): their JSON text is the form escape of the plain profile's, so the form costs
    what JSONL costs."""
    return _lines(_dump_each(records), prefix)


def _form_texts(text: bytes) -> list[bytes]:
    """The values of a :func:`_joined` text, each escaped as ``wire.form_escape_lean`` escapes it: the
    four ``bytes.replace`` of ``%&+`` and space once on the whole text, then bytes outside printable ASCII
    in the third of profiles with non-ASCII letters, one by one. DEL is ASCII to ``isascii`` and no
    generator writes it; a profile file's fixed value may, and sends them all the long way."""
    text = form_escape_reserved(text)
    if b"\x7f" in text:
        return list(map(form_escape_unprintable, _split(text)))
    return [part if part.isascii() else form_escape_high(part) for part in _split(text)]


def _lines(parts: list[bytes], prefix: bytes = b"") -> bytes:
    """Each part on a line of its own after ``prefix``, in one copy of the whole (not three)."""
    if not parts:
        return b""
    parts[0] = prefix + parts[0]
    parts[-1] += b"\n"  # after the line above: with one part, the same one
    return (b"\n" + prefix).join(parts)


def json_and_form(records: list[dict[str, Any]]) -> tuple[list[bytes], list[bytes]]:
    """Each record's compact JSON (the bytes ``wire.dumps_fast`` writes) and that JSON escaped as
    ``wire.form_escape_lean`` escapes it, from one orjson call and one ``form_escape_reserved`` for all.

    The load generator's creates take their profiles a chunk at a time (``LoadState.fresh_create``): the
    JSON is what a janrain signature signs, the escaped text what the form body carries.
    """
    if not records:
        return [], []
    text = _joined(records)
    return _split(text), _form_texts(text)


def _double_quotes(text: bytes) -> bytes:
    return text.replace(b'"', b'""')


class _Columns:
    """The CSV layout: dotted columns for object children, JSON text for plurals and non-text types.

    The factory makes the rows (``ProfileFactory.row``: no dicts made and read back). Every cell is
    quoted. A slice's rows are written by orjson, one call per row: the text cells as JSON strings, which
    are CSV cells as long as they need no JSON escape (no quote, backslash or control character), and the
    JSON cells as ready CSV cells (``orjson.Fragment``, their quotes doubled on the slice's whole text at
    once). A slice where some text cell needs an escape goes through the ``csv`` module instead.
    """

    def __init__(self, factory: ProfileFactory) -> None:
        self.names = factory.columns()
        self.json: list[int] = []  # the cells written as JSON text
        for i, name in enumerate(self.names):
            top, _, child = name.partition(".")
            attr = factory.schema[top]
            attr = attr.child(child) or attr if child else attr
            if attr.type not in _TEXT_TYPES and not attr.is_password:
                self.json.append(i)

    def csv(self, rows: list[list[Any]]) -> bytes:
        """``rows`` (``ProfileFactory.row``) as CSV lines; their JSON cells are replaced by their text."""
        values = [row[i] for row in rows for i in self.json]
        self._place(rows, ["" if text == b'""""' else orjson.Fragment(b'"' + text + b'"')
                           for text in _dump_each(values, _double_quotes)])
        body = _lines([text[1:-1] for text in map(orjson.dumps, rows)])
        if b"\\" not in body:  # no text cell needed a JSON escape: this is the CSV
            return body
        self._place(rows, [text.decode() if text != b'""' else "" for text in _dump_each(values)])
        return _csv_lines(rows)

    def _place(self, rows: list[list[Any]], cells: list[Any]) -> None:
        ready = iter(cells)
        for row in rows:
            for i in self.json:
                row[i] = next(ready)


def _csv_lines(rows: list[list[Any]]) -> bytes:
    """Rows of strings as CSV with every cell quoted (the ``csv`` module; a non-string as its JSON text)."""
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
        [[cell if isinstance(cell, str) else dumps(cell) for cell in row] for row in rows])
    return out.getvalue().encode()

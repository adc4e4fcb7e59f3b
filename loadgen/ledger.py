"""The ledger: one JSON line per record a run created, so clean-up can remove exactly those.

Format version 2, one object per line::

    {"v":2,"type":"user","key":"email","uuid":"…","id":11649,"value":"a@example.com","time":…,"worker":0,"n":1}

``type`` is the entity type the record was created in, ``key``/``value`` the unique attribute that
identifies it besides its ids (``email`` for the user type; null when the type has none), so
clean-up can check a record is still the one we created before deleting it. ``n`` numbers a worker's
lines from 1, so a reader sees lines that went missing from the middle of a file. Never a secret,
never the profile. A record the run deleted again (a scenario's ``entity.delete``) gets a second
line, the same fields plus ``"deleted":true``: readers drop that uuid, so clean-up leaves it alone
and the "nothing lost" check counts only what is still there.

Each Locust process appends to its own ``ledger/worker-<n>.jsonl`` (no locking, no shared file
across processes or machines). A worker also hands each flushed batch to a ``sink``: in a
distributed run that sends it to the master, which writes the run's one ``ledger.jsonl`` as it
goes (see ``loadgen/locust/hooks.py``). Readers take the union of ``ledger.jsonl`` and every part, and report each
line they cannot read (file, line number, why) instead of skipping it.

Ledgers written before the format had a version (early development builds) have no ``v`` field and no
entity type: they are refused with a one-line error naming the format found and the one read, rather than
guessed at (deleting by uuid in the wrong type, or the right uuid in
the wrong application, is what the version guards against).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _encode_string  # what JSONEncoder.encode calls for a str
from pathlib import Path
from typing import IO

from loadgen.errors import UsageError
from loadgen.runfolder import LEDGER, LEDGER_PARTS, WorkerAccount, ledger_part, run_folder
from loadgen.schema import Schema

VERSION = 2
#: Flush after this many lines or this many seconds, whichever comes first.
FLUSH_LINES = 200
FLUSH_SECONDS = 0.5
#: How many unreadable lines a message quotes (the count covers them all).
EXAMPLES = 3
#: A Capture uuid; anything else in a ledger line is damage (and never reaches a find filter).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def identity_key(schema: Schema) -> str | None:
    """The attribute every ledger line records besides uuid and id, so clean-up can tell our record from
    another's: ``email`` when the type has a unique email, else its first unique top-level string, else None."""
    candidates = [a for a in schema.unique if a.type == "string"]
    return next((a.name for a in candidates if a.name == "email"), candidates[0].name if candidates else None)


@dataclass(frozen=True)
class LedgerEntry:
    """One created record, as a ledger line holds it."""

    uuid: str
    id: int
    type_name: str
    key: str | None
    value: str | None
    time: float
    worker: int
    n: int
    #: a tombstone: the run deleted this record again
    deleted: bool = False

    def to_line(self) -> str:
        """The line as a worker wrote it: the merged ``ledger.jsonl`` reads like the workers' parts."""
        return _line(_head(self.type_name, self.key), self.uuid, self.id, self.value, self.time, self.worker, self.n,
                     deleted=self.deleted)

    @classmethod
    def parse(cls, line: str) -> LedgerEntry:
        """The entry of one line; ``ValueError`` saying what is wrong (``OldLedger`` for another format)."""
        try:
            data = json.loads(line)
        except ValueError:
            raise ValueError("not JSON") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if "v" not in data:
            raise OldLedger("no ledger format version (a ledger of an early development build, which recorded no "
                            "entity type)")
        if data["v"] != VERSION:
            raise OldLedger(f"ledger format version {data['v']!r}")
        uuid, id_, type_name = data.get("uuid"), data.get("id"), data.get("type")
        key, value, when, worker = data.get("key"), data.get("value"), data.get("time"), data.get("worker")
        n = data.get("n")
        if not isinstance(uuid, str) or not _UUID.fullmatch(uuid):
            raise ValueError("no valid uuid")
        if not isinstance(id_, int) or isinstance(id_, bool):
            raise ValueError("no integer id")
        if not isinstance(type_name, str) or not type_name:
            raise ValueError("no entity type")
        if not (key is None or isinstance(key, str)) or not (value is None or isinstance(value, str)):
            raise ValueError("key and value must be strings or null")
        if not isinstance(when, int | float) or not isinstance(worker, int) or not isinstance(n, int):
            raise ValueError("no time, worker or line number")
        deleted = data.get("deleted", False)
        if not isinstance(deleted, bool):
            raise ValueError("deleted must be true or false")
        return cls(uuid, id_, type_name, key, value, float(when), worker, n, deleted)


class OldLedger(ValueError):
    """A line of another ledger format version."""


@dataclass(frozen=True)
class Damage:
    """One line a reader could not use."""

    path: Path
    line: int
    reason: str
    text: str = ""      # the start of the line, to find its uuid elsewhere; never printed

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class LedgerRead:
    """What the ledger files of a run hold: entries by uuid (first seen wins) and the lines that were not read."""

    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    damage: list[Damage] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    #: worker -> the line numbers ``n`` read, in any file
    numbers: dict[int, set[int]] = field(default_factory=dict)
    #: uuids the run deleted again (their tombstone lines), never in ``entries``
    deleted: set[str] = field(default_factory=set)

    def gaps(self) -> int:
        """Lines missing from the middle of a worker's numbering (deleted or lost without a trace)."""
        return sum(max(seen) - len(seen) for seen in self.numbers.values())

    def describe_damage(self) -> str:
        """``"3 unreadable ledger lines (a:4: torn last line; ...)"``, a few examples and the count."""
        shown = "; ".join(str(d) for d in self.damage[:EXAMPLES])
        more = f"; {len(self.damage) - EXAMPLES} more" if len(self.damage) > EXAMPLES else ""
        plural = "" if len(self.damage) == 1 else "s"
        return f"{len(self.damage)} unreadable ledger line{plural} ({shown}{more})"


class Ledger:
    """Appends created records of one worker to ``<directory>/worker-<worker>.jsonl``.

    ``sink`` gets each flushed batch of lines too (a worker sends them to the master): a worker
    that dies loses at most the batch it had not flushed, about ``FLUSH_SECONDS`` of creates.
    """

    def __init__(self, directory: str | Path, worker: int, *, type_name: str, key: str | None,
                 sink: Callable[[list[str]], None] | None = None) -> None:
        self.path = Path(directory) / Path(ledger_part(worker)).name
        self.worker = worker
        self.count = 0
        self.sink = sink
        self._head = _head(type_name, key)
        self._pending: list[str] = []
        self._last_flush = time.monotonic()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the ledger {self.path}: {exc.strerror}") from None

    def add(self, uuid: str, id: int, value: object, *, deleted: bool = False) -> None:
        """Ledger a created record, or (``deleted``) its tombstone once the run deleted it again."""
        if self._file is None:
            return
        line = _line(self._head, uuid, id, _key_text(value), time.time(), self.worker, self.count + 1, deleted=deleted)
        self._file.write(line)
        self._pending.append(line)
        self.count += 1
        if len(self._pending) >= FLUSH_LINES or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._file is not None and self._pending:
            self._file.flush()
            batch, self._pending = self._pending, []
            if self.sink is not None:
                self.sink(batch)
        self._last_flush = time.monotonic()

    @property
    def closed(self) -> bool:
        return self._file is None

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None


class MasterLedger:
    """The master's side of a distributed run's ledger: the one file, and what each worker sent and said.

    Workers send batches of lines (``write``) and report their totals (``claim``); the difference is
    what a worker acknowledged but the master never got. No Locust here: ``loadgen/locust/hooks.py`` feeds it.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self.received: Counter[int] = Counter()
        self.claimed: dict[int, int] = {}          # worker -> creates it said it had ledgered
        self.nodes: dict[int, str] = {}            # worker -> Locust node id
        self.warned: set[str] = set()              # warnings already logged (the run files are written twice)

    def claim(self, worker: int, count: int) -> None:
        self.claimed[worker] = max(count, self.claimed.get(worker, 0))

    def write(self, worker: int, node: str, lines: list[str], sent: int) -> None:
        if self.path is None:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write("".join(lines))
        self._file.flush()
        self.received[worker] += len(lines)
        self.nodes[worker] = node
        self.claim(worker, sent)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def accounting(self, lost: set[str]) -> tuple[dict[int, WorkerAccount], list[str]]:
        """Each worker's account (missing: its Locust node is in ``lost``), and the warnings to print."""
        workers: dict[int, WorkerAccount] = {}
        warnings = []
        for worker in sorted(set(self.claimed) | set(self.received)):
            received = self.received[worker]
            unconfirmed = max(0, self.claimed.get(worker, 0) - received)
            missing = self.nodes.get(worker) in lost
            workers[worker] = WorkerAccount(self.claimed.get(worker, 0), received, unconfirmed, missing)
            if unconfirmed or missing:
                why = "stopped answering (killed or cut off)" if missing else "did not send every line"
                warnings.append(f"worker {worker} {why}: {unconfirmed} acknowledged creates not confirmed in the "
                                f"master's ledger; creates after its last batch (about {FLUSH_SECONDS:g}s) are only "
                                f"in its local part {ledger_part(worker)} on its machine: copy it into the "
                                "run folder's ledger/ before cleanup")
        return workers, warnings


def _key_text(value: object) -> str | None:
    return None if value is None else value if isinstance(value, str) else str(value)


def _head(type_name: str, key: str | None) -> str:
    """The start every line of one type and key shares (made once per ledger)."""
    return f'{{"v":{VERSION},"type":{_text(type_name)},"key":{_text(key)},'


def _line(head: str, uuid: str, id: int, value: str | None, when: float, worker: int, n: int, *,
          deleted: bool = False) -> str:
    """One ledger line, formatted by hand: it is written once per created record on the load generator's hot
    path, and the merged ledger writes the same text."""
    tail = ',"deleted":true}\n' if deleted else "}\n"
    return (f'{head}"uuid":{_text(uuid)},"id":{int(id)},"value":{_text(value)},'
            f'"time":{when:.6f},"worker":{worker},"n":{n}{tail}')


def _text(value: str | None) -> str:
    """JSON text of a string or null: the C string encoder, as on the hot path."""
    return "null" if value is None else _encode_string(value)


def read_ledger(path: str | Path, into: LedgerRead | None = None) -> LedgerRead:
    """The entries of one ledger file, and every line that could not be read (with why).

    A last line without its newline that does not parse is a "torn last line" (a process killed
    mid-write). A line of another format version, or none, is a one-line ``UsageError``.
    """
    read = into if into is not None else LedgerRead()
    source = Path(path)
    read.sources.append(source)
    try:
        data = source.read_bytes()
    except OSError as exc:
        read.damage.append(Damage(source, 0, f"cannot read the file: {exc.strerror or exc}"))
        return read
    lines = data.split(b"\n")
    torn_candidate = lines.pop()  # b"" when the file ends with a newline
    numbered = list(enumerate(lines, 1))
    if torn_candidate:
        numbered.append((len(lines) + 1, torn_candidate))
    for number, line in numbered:
        if not line.strip():
            continue
        try:
            entry = LedgerEntry.parse(line.decode("utf-8"))
        except OldLedger as exc:
            raise UsageError(f"{source}:{number}: {exc}; this release reads ledger format version {VERSION} only "
                             "and will not guess which records these are") from None
        except ValueError as exc:
            torn = bool(torn_candidate) and number == len(numbered)
            why = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
            text = line[:300].decode("utf-8", "replace")
            read.damage.append(Damage(source, number, "torn last line" if torn else why, text))
            continue
        read.numbers.setdefault(entry.worker, set()).add(entry.n)
        if entry.deleted:
            read.deleted.add(entry.uuid)
            read.entries.pop(entry.uuid, None)
        elif entry.uuid not in read.deleted:
            read.entries.setdefault(entry.uuid, entry)
    return read


def ledger_parts(run_dir: str | Path) -> list[Path]:
    """The per-worker ledgers of a run folder, in worker order."""
    root = Path(run_dir)
    if not (root / LEDGER_PARTS).is_dir():
        return []
    return sorted(root.glob(ledger_part("*")), key=lambda p: (len(p.name), p.name))


def has_ledger(run_dir: str | Path) -> bool:
    """Whether a run folder holds any ledger file (the merged one or a worker's)."""
    return (Path(run_dir) / LEDGER).is_file() or bool(ledger_parts(run_dir))


def load_run_ledger(run_dir: str | Path) -> LedgerRead:
    """The union of a run's ledgers: ``ledger.jsonl`` (the master's, or a merge) and every worker part."""
    root = run_folder(run_dir)
    read = _union(root)
    if not read.sources:
        raise UsageError(f"{root} holds no ledger ({LEDGER} or {ledger_part('*')})")
    return read


def _union(root: Path) -> LedgerRead:
    merged = root / LEDGER
    read = LedgerRead()
    for source in ([merged] if merged.is_file() else []) + ledger_parts(root):
        read_ledger(source, into=read)
    return read


def write_ledger(path: Path, entries: Iterable[LedgerEntry]) -> None:
    """Write ``entries`` to ``path`` in one atomic replace."""
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as file:
        for entry in entries:
            file.write(entry.to_line())
    tmp.replace(path)


def merge_ledgers(run_dir: str | Path) -> LedgerRead:
    """Join every ledger of a run into ``ledger.jsonl`` (by time, duplicates dropped).

    When a line could not be read the files are left as they are (rewriting would drop the
    evidence): the read's ``damage`` says which, and clean-up reads the union anyway.
    """
    read = _union(Path(run_dir))
    if read.sources and not read.damage:
        write_ledger(Path(run_dir) / LEDGER, sorted(read.entries.values(), key=lambda e: (e.time, e.uuid)))
    return read


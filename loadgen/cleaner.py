"""``loadgen cleanup RUN_DIR``: delete every record a run created, exactly those, and only once.

The run's ledgers (``ledger.jsonl`` and every worker part, read as one union) list the records with
their entity type, ids and unique key (the email of a user). Before deleting, each batch of
``BATCH`` records is looked up in one ``entity.find`` by uuid: a record whose id or key no longer
agrees with its ledger line is not ours any more (a restored backup, a ledger copied to the wrong
run) and is refused, counted and reported, never deleted. A record ``entity.find`` does not return
is read by uuid (a real domain's find lags new records by minutes): 310 ``record_not_found`` means
already gone (skipped, not failed), so a second clean-up is harmless, unless a record still holds the
ledgered id under another uuid (a damaged line: refused). Deletes go through
``entity.delete`` at a bounded rate. Every settled uuid is appended to ``cleanup.jsonl`` in the run
folder, so an interrupted clean-up resumes where it stopped. A run against the embedded sandbox is
cleaned by restarting the sandbox over the run's own ``sandbox.db`` with the run's own schema.

A ledger line that cannot be read is never skipped in silence: the result holds how many, a few
examples (file and line number) and how many records that leaves unaccounted for, and the CLI
exits non-zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.errors import (
    AuthError,
    CaptureError,
    NotFoundError,
    RuntimeFailure,
    TransientError,
    TransportError,
    UsageError,
)
from loadgen.ledger import LedgerEntry, LedgerRead, has_ledger, load_run_ledger
from loadgen.preflight import preflight
from loadgen.retry import retry_transient
from loadgen.runfolder import CLEANUP_PROGRESS, META, SANDBOX_DB, Meta, ledger_part, read_meta, read_summary

DEFAULT_RATE = 20.0
#: Records checked per ``entity.find`` (a filter of 100 uuids is about 5,000 characters).
BATCH = 100
#: How many refused records the result quotes.
EXAMPLES = 3
_UUID_IN_LINE = re.compile(r'"uuid"\s*:\s*"([^"]+)"')


@dataclass
class CleanupResult:
    """How each ledgered record ended, and what of the ledger could not be read."""

    total: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    #: found, but its id or key disagrees with the ledger: not deleted
    refused: int = 0
    refused_examples: list[str] = field(default_factory=list)
    #: ledger lines that could not be read, described with a few examples
    unreadable: int = 0
    damage: str = ""
    #: records the run created that no readable ledger line accounts for (a lower bound)
    unaccounted: int = 0
    #: workers of a distributed run that went missing and whose local part is not in the run folder
    lost_workers: list[int] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        """Every record of the run deleted or gone, nothing refused, every ledger line read."""
        return not (self.failed or self.refused or self.unreadable or self.unaccounted or self.lost_workers
                    or self.interrupted)


def _done(run_dir: Path) -> set[str]:
    path = run_dir / CLEANUP_PROGRESS
    done: set[str] = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("status") in ("deleted", "gone"):
                    done.add(str(entry.get("uuid")))
    return done


def recorded_target(run_dir: str | Path) -> str | None:
    """Where the run folder says its records are: its host, ``"its embedded sandbox"``, or None (no meta.json)."""
    meta = read_meta(run_dir)
    if meta is None:
        return None
    return "its embedded sandbox" if meta.embedded_sandbox else meta.host


def embedded(run_dir: str | Path) -> bool:
    """Whether the run went to the embedded sandbox (cleaned by restarting it over its database)."""
    meta = read_meta(run_dir)
    return meta is not None and meta.embedded_sandbox


def unaccounted(read: LedgerRead, expected: int) -> int:
    """How many records at least the run created that no readable line accounts for.

    The largest of: lines missing from a worker's numbering, unreadable lines whose uuid can be made
    out but is in no readable line, and the run's own count (``meta.json``, ``locust_run.json``, the
    creates the workers reported to the master) minus what was read.
    """
    uncovered = 0
    for damage in read.damage:
        found = _UUID_IN_LINE.search(damage.text)
        uncovered += found is not None and found.group(1) not in read.entries
    short = expected - len(read.entries)
    return max(read.gaps(), uncovered, short, 0)


@contextlib.contextmanager
def _target(run_dir: Path, meta: Meta | None, url: str | None,
            insecure: bool) -> Iterator[tuple[str, str, str]]:
    """(url, client id, secret): ``--url``, else the run's host, else its embedded sandbox restarted, else
    ``CAPTURE_URL`` (a folder of a plain Locust run records no host)."""
    if url or meta is None or not meta.embedded_sandbox:
        from loadgen.auth import credentials, resolve_url

        target = url or (meta.host if meta is not None else None) or os.environ.get("CAPTURE_URL", "").strip()
        if not target:
            why = "no host in meta.json" if meta is not None else "no meta.json (a plain Locust run records no host)"
            raise UsageError(f"{run_dir}: {why}; pass --url or set CAPTURE_URL")
        found = credentials()
        yield resolve_url(target, insecure=insecure), found.client_id, found.secret.reveal()
        return
    db = run_dir / SANDBOX_DB
    if not db.is_file():
        raise RuntimeFailure(f"{run_dir}: ran against the embedded sandbox but {db.name} is gone; nothing to clean")
    schema = meta.schema_file
    if schema and not (run_dir / schema).is_file():
        raise RuntimeFailure(f"{run_dir}: the run's schema {schema} is gone; the sandbox cannot be restarted with it")
    from loadgen.sandbox import serve

    with serve(db=db, admin=True, process=True, schema=run_dir / schema if schema else None) as sandbox:
        yield sandbox.url, sandbox.client_id, sandbox.client_secret


def created_nothing(meta: Meta | None) -> bool:
    """Whether a run that ended (its meta.json written at the end) knows it created nothing: no ledgered
    record, none the embedded sandbox counted, no request left without an answer (which may have)."""
    return (meta is not None and meta.ended_at is not None and meta.ledger_records == 0 and not meta.unanswered
            and not meta.server_records)


def step_folders(folder: Path) -> list[Path]:
    """The steps of a capacity search's folder, in order (each a run folder of its own, meta.json or not: a
    step whose Locust failed has a ledger and none); [] for a run."""
    if (folder / META).exists() or not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("step-*") if p.is_dir())


def cleanup(run_dir: str | Path, *, url: str | None = None, rate: float | None = DEFAULT_RATE,
            scheme: str = "basic", insecure: bool = False,
            progress: Callable[[CleanupResult], None] | None = None) -> CleanupResult:
    """Delete every ledgered record of ``run_dir`` that is still ours; ``rate`` caps deletes/s (None: unlimited).

    The entity type of each record comes from its ledger line (the run's ``--schema`` type, not
    always ``user``).
    """
    folder = Path(run_dir)
    meta = read_meta(folder)
    if created_nothing(meta) and not has_ledger(folder):
        return CleanupResult()   # stopped before its first create (Ctrl-C in the set-up): nothing to clean
    read = load_run_ledger(folder)
    # Locust's own account of the run: the records it created and, from a distributed run's master, the
    # creates each worker reported and who went missing
    summary = read_summary(folder)
    workers = summary.ledger.workers if summary is not None and summary.ledger is not None else {}
    reported = sum(w.reported for w in workers.values())
    expected = max(meta.ledger_records if meta else 0, summary.records if summary else 0, reported)
    result = CleanupResult(total=len(read.entries), unreadable=len(read.damage),
                           damage=read.describe_damage() if read.damage else "",
                           unaccounted=unaccounted(read, expected),
                           lost_workers=sorted(int(k) for k, w in workers.items() if w.missing
                                               and not (folder / ledger_part(k)).is_file()))
    done = _done(folder)
    by_type: dict[str, list[LedgerEntry]] = {}
    for entry in read.entries.values():
        if entry.uuid in done:
            result.skipped += 1
        else:
            by_type.setdefault(entry.type_name, []).append(entry)
    if not by_type:
        return result
    with _target(folder, meta, url, insecure) as (base, client_id, secret), \
            (folder / CLEANUP_PROGRESS).open("a", encoding="utf-8") as log:
        deleter = _Deleter(log, result, rate, progress)
        try:
            for type_name, entries in by_type.items():
                deleter.clean(base, client_id, secret, scheme, insecure, type_name, entries)
        except KeyboardInterrupt:  # a delete cut short is not logged: the next run finds it done or gone
            result.interrupted = True
    return result


class _Deleter:
    """Checks and deletes one type's records in batches, logging each settled uuid."""

    def __init__(self, log: Any, result: CleanupResult, rate: float | None,
                 progress: Callable[[CleanupResult], None] | None) -> None:
        self.log, self.result, self.progress = log, result, progress
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = time.monotonic()

    def clean(self, base: str, client_id: str, secret: str, scheme: str, insecure: bool, type_name: str,
              entries: list[LedgerEntry]) -> None:
        from loadgen.auth import make_auth
        from loadgen.client import CaptureClient, Retry
        # the run's preflight: a wrong URL, bad credentials or a missing entity type are one line at once
        preflight(base, client_id, secret, scheme=scheme, type_name=type_name, insecure=insecure)
        with CaptureClient(base, make_auth(scheme, client_id, secret), type_name=type_name, retry=Retry(),
                           insecure=insecure) as client:
            for start in range(0, len(entries), BATCH):
                batch = entries[start:start + BATCH]
                for entry, record in zip(batch, self._lookup(client, batch), strict=True):
                    self._settle(client, entry, record)

    def _lookup(self, client: Any, batch: list[LedgerEntry]) -> list[dict[str, Any] | None]:
        """The stored ``uuid``/``id``/key of each entry (None: not found), one ``entity.find`` per batch."""
        keys = sorted({e.key for e in batch if e.key})
        wanted = ["uuid", "id", *keys]
        where = " or ".join(f"uuid = '{e.uuid}'" for e in batch)
        with _lookup_errors():
            stored = retry_transient(lambda: list(client.find(where, attributes=wanted, page_size=1000)))
            found = {str(r.get("uuid")): r for r in stored}
            # find lags new records on a real domain: a read by uuid is sure
            return [found.get(e.uuid) or _read(client, {"uuid": e.uuid}, wanted) for e in batch]

    def _settle(self, client: Any, entry: LedgerEntry, record: dict[str, Any] | None) -> None:
        result = self.result
        if record is None:
            why = self._holds_id(client, entry)
            if not why:
                result.skipped += 1
                self._note(entry.uuid, "gone")
                return
        else:
            why = _not_ours(entry, record)
        if why:
            result.refused += 1
            if len(result.refused_examples) < EXAMPLES:
                result.refused_examples.append(f"{entry.uuid}: {why}")
            return
        wait = self.next_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.next_at = max(self.next_at + self.interval, time.monotonic() - 1.0)
        status = _delete_one(client, entry.uuid, result)
        if status != "failed":
            self._note(entry.uuid, status)
        elif self.progress is not None:
            self.progress(result)

    def _holds_id(self, client: Any, entry: LedgerEntry) -> str:
        """Why a record that is not found by uuid is not simply gone ("" when it is).

        A record that still holds the ledgered id under another uuid means the line's uuid was
        damaged: calling it gone would leave our record behind without a word.
        """
        with _lookup_errors():
            record = _read(client, {"id": entry.id}, ["uuid", "id"])
        if record is None:
            return ""
        return "no record has its uuid, but one holds its id (a damaged ledger line?)"

    def _note(self, uuid: str, status: str) -> None:
        self.log.write(json.dumps({"uuid": uuid, "status": status, "time": round(time.time(), 3)}) + "\n")
        self.log.flush()
        if self.progress is not None:
            self.progress(self.result)


@contextlib.contextmanager
def _lookup_errors() -> Iterator[None]:
    """A lookup that failed (after retries) is one line: nothing is deleted unchecked."""
    try:
        yield
    except AuthError as exc:
        raise UsageError(f"cleanup: credentials refused ({exc.label})") from None
    except (CaptureError, TransportError, TransientError) as exc:
        raise RuntimeFailure(f"cleanup: cannot look the records up ({exc})") from None


def _read(client: Any, key: dict[str, Any], attributes: list[str]) -> dict[str, Any] | None:
    """The record of ``key`` (``{"uuid": ...}`` or ``{"id": ...}``), or None when the server answers 310.

    Transient server errors are tried again (``retry_transient``).
    """
    try:
        record: dict[str, Any] = retry_transient(lambda: client.entity(**key, attributes=attributes))
    except NotFoundError as exc:
        if exc.code != 310:
            raise
        return None
    return record


def _not_ours(entry: LedgerEntry, record: dict[str, Any]) -> str:
    """Why the stored record is not the one the ledger line describes ("" when it is)."""
    if record.get("id") != entry.id:
        return f"stored id {record.get('id')!r}, the ledger says {entry.id}"
    if entry.key and entry.value is not None:
        stored = record.get(entry.key)
        # compared as Capture compares unique values: case-insensitively (values are not quoted: personal data)
        if not isinstance(stored, str) or stored.casefold() != entry.value.casefold():
            return f"its {entry.key} differs from the ledger's"
    return ""


def _delete_one(client: Any, uuid: str, result: CleanupResult) -> str:
    try:
        client.delete(uuid=uuid)
    except NotFoundError as exc:
        if exc.code != 310:
            raise RuntimeFailure(f"cleanup: the server answered {exc.label}") from None
        result.skipped += 1
        return "gone"
    except AuthError as exc:
        raise UsageError(f"cleanup: credentials refused ({exc.label})") from None
    except (CaptureError, TransportError) as exc:
        label = exc.label if isinstance(exc, CaptureError) else "transport error"
        result.errors[label] = result.errors.get(label, 0) + 1
        result.failed += 1
        if result.failed >= 50 and result.deleted == 0:
            raise RuntimeFailure(f"cleanup: giving up after {result.failed} failures ({exc})") from None
        return "failed"
    result.deleted += 1
    return "deleted"

"""The ledger: one JSON line per record a run created, so clean-up can remove exactly those.

Each Locust process appends to its own ``ledger/worker-<n>.jsonl`` (no locking, no shared file
across processes or machines); :func:`merge_ledgers` joins them into ``ledger.jsonl`` at the end.
A line holds ``uuid``, ``id``, ``email``, ``time`` and ``worker``: never a secret, never the profile.
Lines are flushed in small batches and on close, so a killed worker loses at most a fraction of a
second of entries, and a torn last line is skipped when reading.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from json.encoder import encode_basestring as _encode_string  # what JSONEncoder.encode calls for a str
from pathlib import Path
from typing import IO, Any

from loadgen.errors import UsageError

#: Flush after this many lines or this many seconds, whichever comes first.
FLUSH_LINES = 200
FLUSH_SECONDS = 0.5
MERGED = "ledger.jsonl"
PARTS = "ledger"


class Ledger:
    """Appends created records of one worker to ``<directory>/worker-<worker>.jsonl``."""

    def __init__(self, directory: str | Path, worker: int) -> None:
        self.path = Path(directory) / f"worker-{worker}.jsonl"
        self.worker = worker
        self.count = 0
        self._pending = 0
        self._last_flush = time.monotonic()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the ledger {self.path}: {exc.strerror}") from None

    def add(self, uuid: str, id: int, email: str | None) -> None:
        if self._file is None:
            return
        # formatted by hand: this runs once per created record on the load generator's hot path
        self._file.write(f'{{"uuid":{_text(uuid)},"id":{int(id)},"email":{_text(email)},'
                         f'"time":{time.time():.6f},"worker":{self.worker}}}\n')
        self.count += 1
        self._pending += 1
        if self._pending >= FLUSH_LINES or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._file is not None and self._pending:
            self._file.flush()
            self._pending = 0
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None


def _text(value: object) -> str:
    """JSON text of an email: the C string encoder on the hot path, plain json for anything odd."""
    return _encode_string(value) if isinstance(value, str) else json.dumps(value, default=str)


def read_ledger(path: str | Path) -> Iterator[dict[str, Any]]:
    """The entries of one ledger file; a torn or foreign line is skipped, not fatal."""
    with Path(path).open(encoding="utf-8", errors="replace") as file:
        for line in file:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("uuid"), str):
                yield entry


def ledger_parts(run_dir: str | Path) -> list[Path]:
    """The per-worker ledgers of a run folder, in worker order."""
    parts = Path(run_dir) / PARTS
    if not parts.is_dir():
        return []
    return sorted(parts.glob("worker-*.jsonl"), key=lambda p: (len(p.name), p.name))


def merge_ledgers(run_dir: str | Path) -> int:
    """Join the per-worker ledgers into ``ledger.jsonl`` (sorted by time, duplicates dropped); the count."""
    entries: dict[str, dict[str, Any]] = {}
    for part in ledger_parts(run_dir):
        for entry in read_ledger(part):
            entries.setdefault(entry["uuid"], entry)
    ordered = sorted(entries.values(), key=lambda e: (float(e.get("time") or 0), e["uuid"]))
    target = Path(run_dir) / MERGED
    tmp = target.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as file:
        for entry in ordered:
            file.write(json.dumps(entry, ensure_ascii=False) + "\n")
    tmp.replace(target)
    return len(ordered)


def load_run_ledger(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every entry of a run: the merged ledger, else the per-worker parts (a run that was killed)."""
    root = Path(run_dir)
    if not root.is_dir():
        raise UsageError(f"no run folder at {root}")
    merged = root / MERGED
    entries: dict[str, dict[str, Any]] = {}
    sources = [merged] if merged.is_file() else ledger_parts(root)
    if not sources:
        raise UsageError(f"{root} holds no ledger ({MERGED} or {PARTS}/worker-*.jsonl)")
    for source in sources:
        for entry in read_ledger(source):
            entries.setdefault(entry["uuid"], entry)
    return list(entries.values())


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object file of a run folder (meta, summary, recorder); ``{}`` when missing or torn."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

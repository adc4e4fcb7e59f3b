"""``loadgen cleanup RUN_DIR``: delete every record a run created, exactly those, and only once.

The run's ledger lists the records; each is deleted by uuid through ``entity.delete``, at a bounded
rate. 310 ``record_not_found`` means already gone (skipped, not failed), so a second clean-up is
harmless. Every settled uuid is appended to ``cleanup.jsonl`` in the run folder, so an interrupted
clean-up resumes where it stopped. A run against the embedded sandbox is cleaned by restarting the
sandbox over the run's own ``sandbox.db``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.errors import AuthError, CaptureError, LoadgenError, NotFoundError, TransportError, UsageError
from loadgen.locust.ledger import load_run_ledger, read_json

PROGRESS = "cleanup.jsonl"
DEFAULT_RATE = 20.0


@dataclass
class CleanupResult:
    """How each ledgered record ended: deleted now, already gone or done before, or failed."""

    total: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False


def _done(run_dir: Path) -> set[str]:
    path = run_dir / PROGRESS
    done: set[str] = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("status") in ("deleted", "gone"):
                    done.add(str(entry.get("uuid")))
    return done


def embedded(run_dir: str | Path) -> bool:
    """Whether the run went to the embedded sandbox (cleaned by restarting it over its database)."""
    return bool(read_json(Path(run_dir) / "meta.json").get("embedded_sandbox"))


@contextlib.contextmanager
def _target(run_dir: Path, url: str | None, insecure: bool) -> Iterator[tuple[str, str, str]]:
    """(url, client id, secret): ``--url``, else the run's host, else its embedded sandbox restarted."""
    meta = read_json(run_dir / "meta.json")
    if url or not meta.get("embedded_sandbox"):
        from loadgen.auth import resolve_url
        from loadgen.locust.options import credentials

        target = url or meta.get("host")
        if not target:
            raise UsageError(f"{run_dir}: no host in meta.json; pass --url")
        client_id, secret = credentials()
        yield resolve_url(str(target), insecure=insecure), client_id, secret
        return
    db = run_dir / "sandbox.db"
    if not db.is_file():
        raise UsageError(f"{run_dir}: ran against the embedded sandbox but {db.name} is gone; nothing to clean")
    from loadgen.sandbox import serve

    with serve(db=db, admin=True, process=True) as sandbox:
        yield sandbox.url, sandbox.client_id, sandbox.client_secret


def cleanup(run_dir: str | Path, *, url: str | None = None, rate: float | None = DEFAULT_RATE,
            scheme: str = "basic", insecure: bool = False, type_name: str = "user",
            progress: Callable[[CleanupResult], None] | None = None) -> CleanupResult:
    """Delete every ledgered record of ``run_dir``; ``rate`` caps deletes/s (None: as fast as answered)."""
    from loadgen.auth import make_auth
    from loadgen.client import CaptureClient, Retry
    from loadgen.run import preflight

    folder = Path(run_dir)
    entries = load_run_ledger(folder)
    done = _done(folder)
    result = CleanupResult(total=len(entries))
    interval = 1.0 / rate if rate else 0.0
    with _target(folder, url, insecure) as (base, client_id, secret), \
            CaptureClient(base, make_auth(scheme, client_id, secret), type_name=type_name,
                          retry=Retry(), insecure=insecure) as client, \
            (folder / PROGRESS).open("a", encoding="utf-8") as log:
        # the run's preflight: a wrong URL or bad credentials are one line at once, not 50 failed deletes
        preflight(base, client_id, secret, scheme=scheme, type_name=type_name, insecure=insecure)
        next_at = time.monotonic()
        try:
            for entry in entries:
                uuid = entry["uuid"]
                if uuid in done:
                    result.skipped += 1
                    continue
                wait = next_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                next_at = max(next_at + interval, time.monotonic() - 1.0)
                status = _delete_one(client, uuid, result)
                if status != "failed":
                    log.write(json.dumps({"uuid": uuid, "status": status, "time": round(time.time(), 3)}) + "\n")
                    log.flush()
                if progress is not None:
                    progress(result)
        except KeyboardInterrupt:  # a delete cut short is not logged: the next run finds it done or gone
            result.interrupted = True
    return result


def _delete_one(client: Any, uuid: str, result: CleanupResult) -> str:
    try:
        client.delete(uuid=uuid)
    except NotFoundError as exc:
        if exc.code != 310:
            raise UsageError(f"cleanup: the server answered {exc.label}") from None
        result.skipped += 1
        return "gone"
    except AuthError as exc:
        raise UsageError(f"cleanup: credentials refused ({exc.label})") from None
    except (CaptureError, TransportError) as exc:
        label = exc.label if isinstance(exc, CaptureError) else "transport error"
        result.errors[label] = result.errors.get(label, 0) + 1
        result.failed += 1
        if result.failed >= 50 and result.deleted == 0:
            raise LoadgenError(f"cleanup: giving up after {result.failed} failures ({exc})") from None
        return "failed"
    result.deleted += 1
    return "deleted"

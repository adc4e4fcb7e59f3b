"""``--prefill N``: seed the store with N records by bulkCreate before the measured phase, every one ledgered.

A unique index and an identity store slow down as they fill, so a latency means little without the
store size it was measured at: a create against an empty sandbox and one against ten million users
are two different tests. The prefill makes that size part of the run: it is sent at a stated rate
(gentle on a real domain), its records go to the run's ledger like the load's (``loadgen cleanup``
removes them too), and the report states the size (records counted before, plus those seeded).

Its ledger part is ``worker-<PREFILL_WORKER>.jsonl``, a number no Locust process takes, which the
Locust child knows as this run's own (not an earlier run's).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from loadgen.errors import Interrupted, LoadgenError, RuntimeFailure
from loadgen.ledger import Ledger, identity_key
from loadgen.runfolder import PREFILL_WORKER

if TYPE_CHECKING:
    from loadgen.auth import CaptureAuth
    from loadgen.phases import Phases


def prefill(phases: Phases, *, url: str, auth: CaptureAuth, type_name: str, schema: str | None,
            profile: str | None, seed: int, insecure: bool, ledger_dir: Path, run_id: str) -> int:
    """Create ``phases.prefill`` records in batches of ``prefill_batch`` at ``prefill_rate`` bulkCreate
    requests/s; return how many the server created (refused records are not retried: the store size is
    what it says)."""
    from loadgen.client import CaptureClient
    from loadgen.profiles import ProfileFactory, load_profile
    from loadgen.schema import default_schema, load_schema

    entity_type = load_schema(schema, type_name=type_name) if schema else default_schema()
    key = identity_key(entity_type)
    factory = ProfileFactory(entity_type, load_profile(profile), seed=seed, run_id=run_id, worker=PREFILL_WORKER)
    ledger = Ledger(ledger_dir, PREFILL_WORKER, type_name=type_name, key=key)
    made, due = 0, time.monotonic()
    try:
        with CaptureClient(url, auth, type_name=type_name, timeout=60.0, insecure=insecure) as client:
            for start in range(0, phases.prefill, phases.prefill_batch):
                time.sleep(max(0.0, due - time.monotonic()))
                due += 1 / phases.prefill_rate
                records = factory.batch(min(phases.prefill_batch, phases.prefill - start))
                for created in client.bulk_create(records).created:
                    ledger.add(created.uuid, created.id, records[created.slot].get(key) if key else None)
                    made += 1
    except LoadgenError as exc:
        raise RuntimeFailure(f"--prefill: stopped after {made} records (ledgered: loadgen cleanup "
                             f"{ledger_dir.parent} removes them): {exc}") from None
    except KeyboardInterrupt:
        raise Interrupted(f"--prefill: interrupted after {made} ledgered records (a batch in flight may add "
                          f"some): loadgen cleanup "
                          f"{ledger_dir.parent} removes them") from None
    finally:
        ledger.close()
    return made

"""Against a real sandbox: the report's created-record count equals what the server holds.

Locust's stats count requests; a bulkCreate with a duplicate email is one "successful" request and
99 records. Here real calls (creates, bulk batches with in-batch duplicates) are recorded exactly as
the load users do, and the report must agree with the sandbox's own count.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from loadgen.auth import make_auth
from loadgen.client import CaptureClient
from loadgen.errors import CaptureError
from loadgen.profiles import default_factory
from loadgen.report import Recorder, build_report, load_report
from loadgen.runfolder import Meta
from loadgen.sandbox import Sandbox


def test_report_counts_the_records_the_sandbox_created(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.reset()
    factory = default_factory(seed=11, run_id="report-count")
    recorder = Recorder()
    with CaptureClient(sandbox.url, make_auth("basic", sandbox.client_id, sandbox.client_secret)) as client:
        for i in range(30):
            profile = factory.make()
            started = time.perf_counter()
            try:
                client.create(profile)
                failure, records = None, 1
            except CaptureError as exc:
                failure, records = exc.label, 0
            recorder.record("create", service_ms=(time.perf_counter() - started) * 1000, failure=failure,
                            records=records)
            if i == 5:  # the same email again: a unique violation, no record
                started = time.perf_counter()
                try:
                    client.create(profile)
                    failure = None
                except CaptureError as exc:
                    failure = exc.label
                recorder.record("create", service_ms=(time.perf_counter() - started) * 1000, failure=failure)
        for _ in range(3):
            batch = factory.batch(40)
            batch.append(dict(batch[0]))  # an in-batch duplicate: one failed slot
            started = time.perf_counter()
            result = client.bulk_create(batch)
            labels = Counter(err.label for _, err in result.failed)
            recorder.record("bulkCreate", service_ms=(time.perf_counter() - started) * 1000,
                            records=len(result.created),
                            failure=labels.most_common(1)[0][0] if labels else None)
    report = build_report(tmp_path, recorder, Meta(run_id="count", scenario="bulk_create", host=sandbox.url))

    held = sandbox.stats()["records"]["user"]
    assert report.summary.records == held == 30 + 3 * 40
    assert report.endpoints["create"].failures == {"361 unique_violation": 1}
    assert report.endpoints["bulkCreate"].records == 120
    assert report.endpoints["bulkCreate"].failures == {"361 unique_violation": 3}
    assert load_report(tmp_path) == report  # what was written reads back as the same typed report

"""The public scenario API (``self.capture``, ``@paced``) and the example locustfiles, against a real sandbox."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from locust_support import LOCUSTFILES, dropped, records, run_locust, sandbox_env, stats_row

from loadgen.errors import UsageError
from loadgen.ledger import load_run_ledger
from loadgen.runner import RunOptions, run
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow

EXAMPLES = LOCUSTFILES / "examples"


@pytest.mark.parametrize(("example", "names"), [
    ("read_back.py", {"create", "entity by uuid"}),
    ("time_to_visible.py", {"create", "find until visible", "time_to_visible"}),
    ("update_after_create.py", {"create", "update"}),
    ("own_data.py", {"create"}),
    ("create_and_count.py", {"create", "count"}),
])
def test_each_example_runs_and_its_requests_are_in_the_report(example: str, names: set[str], tmp_path: Path) -> None:
    result = run(RunOptions(scenario="create", locustfile=str(EXAMPLES / example), duration=3, create_rate=5,
                            out=tmp_path, run_id="example"))
    assert result.nothing_lost, result.meta.warnings
    report = json.loads((result.run_dir / "report.json").read_text(encoding="utf-8"))
    for name in names:
        entry = report["endpoints"][name]
        assert entry["requests"] > 0 and entry["failed"] == 0, (name, entry["failures"])
        assert entry["latency"]["service"]["p95"] is not None
    page = (result.run_dir / "report.html").read_text(encoding="utf-8")
    summary = (result.run_dir / "report.md").read_text(encoding="utf-8")
    assert all(name in page and name in summary for name in names)
    assert report["endpoints"]["create"]["records"] == result.ledger_count > 0
    # the run's totals count requests only: a measure() row (time_to_visible) is not one
    sent = sum(e["requests"] for name, e in report["endpoints"].items() if name != "time_to_visible")
    assert report["summary"]["requests"] == sent


def test_a_failure_is_named_by_its_capture_code_in_the_report(tmp_path: Path) -> None:
    # every entity.update of this run is refused (a 200 with a Capture error body): 223 unknown_attribute
    locustfile = tmp_path / "bad_update.py"
    locustfile.write_text((EXAMPLES / "update_after_create.py").read_text(encoding="utf-8")
                          .replace('{"aboutMe"', '{"noSuchAttribute"'), encoding="utf-8")
    result = run(RunOptions(scenario="create", locustfile=str(locustfile), duration=2, create_rate=5,
                            out=tmp_path, run_id="bad"))
    update = json.loads((result.run_dir / "report.json").read_text(encoding="utf-8"))["endpoints"]["update"]
    assert update["requests"] == update["failed"] > 0
    assert [label.split()[0] for label in update["failures"]] == ["223"], update["failures"]
    summary = (result.run_dir / "report.md").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("| update |") and "| 223 " in line for line in summary), summary
    assert "223 " in (result.run_dir / "report.html").read_text(encoding="utf-8")


def test_a_paced_create_keeps_its_rate_beside_an_unpaced_task(sandbox_factory: Callable[..., Sandbox],
                                                              tmp_path: Path) -> None:
    """The issue's case: an ordinary @task beside a paced create halved the create rate, silently."""
    sandbox = sandbox_factory()
    proc = run_locust("examples/create_and_count.py", sandbox, tmp_path, "--create-rate", "20",
                      "--stages", "0s:20,10s:20", users=4)
    assert proc.returncode == 0, proc.stderr[-2000:]
    created, planned = records(sandbox), 200
    assert abs(created - planned) <= planned * 0.03 or planned - created <= dropped(tmp_path, "create"), created
    assert int(stats_row(tmp_path, "POST", "count")["Request Count"]) > 20   # the ordinary task ran too


def test_deleted_records_leave_the_ledger(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    locustfile = tmp_path / "create_delete.py"
    locustfile.write_text('''
from loadgen.locust.users import CaptureUser, paced


class CreateDelete(CaptureUser):
    @paced("create")
    def create_then_delete_every_other(self) -> None:
        made = self.capture.create()
        if made.ok and made.id is not None and made.id % 2 == 0 and made.uuid:
            self.capture.delete(made.uuid)
''', encoding="utf-8")
    sandbox = sandbox_factory()
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", sandbox.url,
                           "-u", "2", "-r", "2", "-t", "30s", "--only-summary", "--run-dir", str(tmp_path),
                           "--stages", "0s:10,2s:10", "--loglevel", "WARNING"],
                          env=sandbox_env(sandbox), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ledger = load_run_ledger(tmp_path)
    assert ledger.deleted and not ledger.damage
    assert len(ledger.entries) == records(sandbox) > 0        # only what is still there
    assert not set(ledger.entries) & ledger.deleted


def test_writes_refuse_without_a_run_id(sandbox: Sandbox, tmp_path: Path) -> None:
    # in a process of its own: importing the API imports Locust, which monkey-patches the standard library
    script = f'''
from types import SimpleNamespace
from loadgen.errors import LoadgenError
from loadgen.locust.capture import Capture
from loadgen.locust.load_state import LoadState
from loadgen.locust.options import Settings
from loadgen.locust.poster import FormPoster
from loadgen.locust.state import state

state.load = LoadState(Settings(run_dir={str(tmp_path)!r}), endpoints=[], worker=0, workers=1)
fired = []
user = SimpleNamespace(environment=SimpleNamespace(events=SimpleNamespace(
    request=SimpleNamespace(fire=lambda **kw: fired.append(kw)))))
capture = Capture(user, FormPoster({sandbox.url!r}, network_timeout=10, connection_timeout=10), "")
try:
    capture.create()
except LoadgenError as exc:
    print("refused:", exc)
print("count:", capture.count().count, [kw["name"] for kw in fired])
'''
    out = subprocess.run([sys.executable, "-c", script], env=sandbox_env(sandbox), capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "refused: a write needs a run id" in out
    assert re.search(r"count: \d+ \['count'\]", out), out   # reads need none: reported under their name


@pytest.mark.parametrize(("example", "name"), [
    ("read_back.py", "entity by uuid"), ("time_to_visible.py", "find until visible"),
    ("update_after_create.py", "update"), ("own_data.py", "create"), ("create_and_count.py", "count"),
])
def test_each_example_runs_a_single_user_for_debugging(example: str, name: str, sandbox: Sandbox,
                                                       tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / example), "--host", sandbox.url, "--create-rate", "20",
                             "--run-dir", str(tmp_path)], env=sandbox_env(sandbox), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    ledger = tmp_path / "ledger" / "worker-0.jsonl"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (ledger.exists() and ledger.stat().st_size):
            time.sleep(0.25)
        time.sleep(1)
    finally:
        proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=30)[0]
    assert f"POST\t{name}" in output, output[-2000:]
    assert "AttributeError" not in output, output[-2000:]    # the live view has no runner to read here: it waits


def test_a_locustfile_without_paced_tasks_ends_with_its_last_stage(tmp_path: Path) -> None:
    locustfile = tmp_path / "reads.py"
    locustfile.write_text('''
from locust import task
from locust.user.wait_time import constant

from loadgen.locust.users import CaptureUser


class Reads(CaptureUser):
    wait_time = constant(0.1)

    @task
    def count(self) -> None:
        self.capture.count()
''', encoding="utf-8")
    started = time.monotonic()
    result = run(RunOptions(scenario="create", locustfile=str(locustfile), duration=3, out=tmp_path, run_id="reads"))
    assert time.monotonic() - started < 3 + 12      # not the 15 s safety net after the duration
    assert result.meta.stop_reasons == ("the last stage ended",)
    assert result.recorder.endpoints["count"].requests > 10 and result.ledger_count == 0


def test_every_call_of_the_api_against_the_sandbox(tmp_path: Path) -> None:
    locustfile = tmp_path / "every_call.py"
    locustfile.write_text('''
from loadgen.locust.users import CaptureUser, paced


class EveryCall(CaptureUser):
    @paced("create")
    def every_call(self) -> None:
        made = self.capture.create()
        assert made.ok and made.uuid and made.record["email"], made
        uuid = made.uuid
        assert self.capture.entity(uuid, attribute_name="email").value == made.record["email"]
        assert self.capture.find(f"uuid = '{uuid}'", max_results=5, sort_on=["id"]).results[0]["uuid"] == uuid
        assert self.capture.count(f"uuid = '{uuid}'").count == 1
        assert self.capture.update(uuid, {"aboutMe": "a"}, include_record=True).record["aboutMe"] == "a"
        assert self.capture.replace(uuid, {"email": made.record["email"]}).ok
        assert self.capture.entity(uuid, attribute_name="aboutMe").value is None
        email = f"{self.capture.run_id}.{made.id}@example.com"
        bulk = self.capture.bulk_create([{"email": email}, {"email": email}], name="bulk of two")
        assert len(bulk.created) == 1 and list(bulk.record_failures) == ["361 unique_violation"], bulk
        assert self.capture.delete(bulk.created[0].uuid).ok
''', encoding="utf-8")
    result = run(RunOptions(scenario="create", locustfile=str(locustfile), duration=2, create_rate=3, out=tmp_path,
                            run_id="every"))
    report = json.loads((result.run_dir / "report.json").read_text(encoding="utf-8"))["endpoints"]
    assert report["create"]["requests"] == 6 and report["create"]["failed"] == 0
    for name in ("entity", "find", "count", "update", "replace", "delete"):
        assert report[name]["requests"] >= 6 and report[name]["failed"] == 0, (name, report[name]["failures"])
    assert report["bulk of two"]["records"] == 6 and report["bulk of two"]["failed"] == 6
    assert result.nothing_lost and result.ledger_count == 6     # the bulk records were deleted again


def test_paced_tasks_keep_their_own_rates_whatever_endpoint_the_stages_are_written_in(tmp_path: Path) -> None:
    """``loadgen run`` writes its stages in create/s; a file pacing only ``find`` (fixed 4/s) and ``bulkCreate``
    (``--bulk-rate``) still runs each at its own rate, not at the create rate."""
    locustfile = tmp_path / "own_rates.py"
    locustfile.write_text('''
from loadgen.locust.users import CaptureUser, paced


class OwnRates(CaptureUser):
    @paced("find", rate=4)
    def find(self) -> None:
        self.capture.find("email is not null", max_results=1)

    @paced("bulkCreate")
    def bulk(self) -> None:
        self.capture.bulk_create(2)
''', encoding="utf-8")
    result = run(RunOptions(scenario="create", locustfile=str(locustfile), duration=5, create_rate=20, bulk_rate=1,
                            out=tmp_path, run_id="own-rates"))
    finds, bulks = result.recorder.endpoints["find"].requests, result.recorder.endpoints["bulkCreate"].requests
    assert 17 <= finds <= 22, finds          # 4/s for 5 s, not 20/s
    assert 4 <= bulks <= 6, bulks            # 1/s for 5 s
    # --scenario create targets creates, which this file never sends: no 0% "achieved", a warning instead
    assert "create" not in result.meta.targets
    assert any("sent no create request" in w for w in result.report.warnings), result.report.warnings


def test_a_typo_in_paced_is_one_line_naming_the_file_and_the_near_endpoint(tmp_path: Path) -> None:
    locustfile = tmp_path / "typo.py"
    locustfile.write_text('''
from loadgen.locust.users import CaptureUser, paced


class Typo(CaptureUser):
    @paced("creat")
    def create(self) -> None:
        self.capture.create()
''', encoding="utf-8")
    with pytest.raises(UsageError) as info:
        run(RunOptions(scenario="create", locustfile=str(locustfile), duration=2, out=tmp_path, run_id="typo"))
    assert str(info.value).startswith("typo.py: @paced('creat'): unknown endpoint 'creat' (did you mean 'create'?)")
    assert "loadgen.errors" not in str(info.value)

"""`loadgen run` and `loadgen cleanup` end to end: rate accuracy, distributed runs, nothing lost, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from locust_support import ROOT, locust_args, records, sandbox_env

from loadgen.cleaner import cleanup
from loadgen.errors import RuntimeFailure, UsageError
from loadgen.ledger import merge_ledgers, read_ledger
from loadgen.locust.live import LiveFile, LiveSnapshot
from loadgen.runfolder import CLEANUP_PROGRESS, LIVE
from loadgen.runner import RunOptions, run
from loadgen.sandbox import Sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Callable[[Sandbox], None]:
    def use(sandbox: Sandbox) -> None:
        monkeypatch.setenv("CAPTURE_CLIENT_ID", sandbox.client_id)
        monkeypatch.setenv("CAPTURE_CLIENT_SECRET", sandbox.client_secret)
    return use


def test_rate_accuracy_200_creates_per_second(sandbox_factory: Callable[..., Sandbox], tmp_path: Path,
                                              credentials: Callable[[Sandbox], None]) -> None:
    sandbox = sandbox_factory()
    credentials(sandbox)
    result = run(RunOptions(url=sandbox.url, scenario="create", duration=20, create_rate=200, out=tmp_path,
                            run_id="rate"))
    created = records(sandbox)                      # the sandbox's own count
    assert abs(created / 20 - 200) <= 200 * 0.03
    times = sorted(e.time for e in read_ledger(result.run_dir / "ledger.jsonl").entries.values())
    span = times[-1] - times[0]
    assert abs(span - 20) <= 20 * 0.03              # spread over the whole 20 s, not a burst
    # the ledger's completion times, per second: no second far off (a shared 2-core box stalls briefly)
    per_second = Counter(int(t - times[0]) for t in times)
    steady = [per_second[s] for s in range(2, 18)]
    assert min(steady) >= 160 and max(steady) <= 240, steady
    assert sum(steady) == pytest.approx(16 * 200, rel=0.03)
    assert result.ledger_count == created and not result.meta.dropped


def test_progress_gets_the_live_view_each_tick_and_it_ends_on_the_reports_numbers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[LiveSnapshot] = []

    def progress(elapsed: float, duration: float, live: LiveSnapshot | None) -> None:
        if live is not None and (not seen or live != seen[-1]):
            seen.append(live)

    result = run(RunOptions(scenario="mixed", duration=4, create_rate=30, bulk_rate=1, bulk_size=5, out=tmp_path,
                            run_id="live", sandbox_options={"faults": {"error_rate": 0.2}}), progress=progress)
    running = [snap for snap in seen if snap.state == "running" and snap.requests]
    assert len(running) >= 2, seen     # a fresh snapshot about every second, while the load runs
    # the target is the schedule's over the same seconds: never above 30 creates + 1 x 5 records per second
    target = running[-1].target("target_records_per_s")
    assert running[-1].records_per_s > 0 and target is not None and 0 < target <= 35.0 + 1e-9
    final = LiveFile(result.run_dir / LIVE).read()
    assert final is not None
    assert {e.name: (e.requests, e.records, e.failures, e.dropped) for e in final.endpoints} == {
        name: (d.requests, d.records, dict(d.failures), d.dropped) for name, d in result.recorder.endpoints.items()}
    assert final.failures and all(label.startswith("500") for label in final.failures)
    narrow = final.line(80)
    assert len(narrow) <= 80 and f"500 x{final.failures['500 unexpected_error']}" in narrow
    # the summary on an 80-column terminal: every line fits, and the failures by code are still there
    from loadgen.console import print_run_summary

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    print_run_summary(result)
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)    # the terminal's colours
    assert max(len(line) for line in out.splitlines()) <= 80, out
    create = next(e for e in final.endpoints if e.name == "create")
    assert f"{create.failures['500 unexpected_error']} x 500" in out and "unexpected_error" in out, out
    assert "p95" in out and "p50" not in out, out     # p50 and p99 made room; p95 stays


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_master_and_two_workers_share_the_rate(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    env = sandbox_env(sandbox)
    port = str(_free_port())
    locustfile = str(ROOT / "locustfiles" / "mixed.py")
    log = (tmp_path / "locust.err").open("w")
    master = subprocess.Popen(
        [*locust_args("mixed.py", sandbox, tmp_path, "--create-rate", "100", "--bulk-rate", "2", "--bulk-size", "10",
                      "--stages", "0s:100,6s:100", "--ledger-dir", str(tmp_path / "ledger"), users=8),
         "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1", "--master-bind-port", port],
        env=env, stdout=subprocess.DEVNULL, stderr=log)
    workers = [subprocess.Popen([sys.executable, "-m", "locust", "-f", locustfile, "--worker", "--master-host",
                                 "127.0.0.1", "--master-port", port, "--ledger-dir", str(tmp_path / "ledger")],
                                env=env, stdout=subprocess.DEVNULL, stderr=log)
               for _ in range(2)]
    try:
        assert master.wait(timeout=90) == 0, (tmp_path / "locust.err").read_text()[-2000:]
        for worker in workers:
            worker.wait(timeout=30)
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log.close()
    merged = merge_ledgers(tmp_path)
    entries = list(read_ledger(tmp_path / "ledger.jsonl").entries.values())
    emails = [e.value for e in entries]
    assert len(emails) == len(set(emails)) == len(merged.entries) == records(sandbox)   # no duplicates, none lost
    assert {e.worker for e in entries} == {0, 1} and not merged.damage
    requests = sandbox.stats()["requests"]
    assert requests["entity.create"] == 600 and requests["entity.bulkCreate"] == 12   # 100/s and 2/s for 6 s
    summary = json.loads((tmp_path / "locust_run.json").read_text())
    assert summary["workers"] == 2 and summary["stop_reasons"] == ["the last stage ended"]
    recorder = json.loads((tmp_path / "recorder.json").read_text())
    assert recorder["endpoints"]["create"]["requests"] == 600


def test_cli_run_with_the_embedded_sandbox_and_two_workers(tmp_path: Path) -> None:
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "loadgen"), "run", "--duration", "3s", "--workers", "2",
                           "--create-rate", "40", "--bulk-rate", "2", "--bulk-size", "20", "--out", str(tmp_path),
                           "--run-id", "demo", "--threshold", "create.p95<60s", "--threshold", "create.p50<0.001ms"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 3, proc.stderr[-2000:] + proc.stdout[-2000:]     # the second threshold fails
    lines = [line for line in proc.stderr.splitlines() if "req/s" in line]
    assert 1 <= len(lines) <= 3, proc.stderr     # not a terminal: one live line per 10 s, no redraws
    assert " 0.0/" not in lines[0]                # the first once answers came, not an all-zero one
    assert "threshold create.p95<60s: pass" in proc.stdout and "threshold create.p50<0.001ms: FAIL" in proc.stdout
    run_dir = tmp_path / "demo"
    meta = json.loads((tmp_path / "demo" / "meta.json").read_text())
    sent = 240 - meta["dropped"].get("create", 0) - 20 * meta["dropped"].get("bulkCreate", 0)
    assert f"ledger {sent} records, sandbox {sent}: nothing lost" in proc.stdout
    assert f"report: {run_dir / 'report.html'}" in proc.stdout
    assert str(run_dir / 'report.md') in proc.stdout and str(run_dir / 'report.json') in proc.stdout
    for name in ("ledger.jsonl", "ledger/worker-0.jsonl", "ledger/worker-1.jsonl", "locust_stats.csv",
                 "locust.html", "recorder.json", "meta.json", "report.json", "report.html", "report.md",
                 "sandbox.db"):
        assert (run_dir / name).exists(), name
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["nothing_lost"] and meta["workers"] == 2 and "secret" not in json.dumps(meta).lower()
    result = cleanup(run_dir, rate=None)
    assert (result.deleted, result.skipped, result.failed) == (sent, 0, 0)


SLOW_REPORTS = '''
"""Workers of a loaded machine: their stats reports come seldom, and the last one late."""
import gevent
import locust.runners
from locust import events
from locust.runners import WorkerRunner

from loadgen.locust.users import MixedUser

locust.runners.WORKER_REPORT_INTERVAL = 60.0   # no periodic report in a short run: it all rides in the last one


@events.test_stop.add_listener
def _stop_slowly(environment, **_):
    if isinstance(environment.runner, WorkerRunner):
        gevent.sleep(1.5)   # the report a worker sends when told to quit comes after the master stopped listening


class Mixed(MixedUser):
    """create and bulkCreate."""
'''


def test_a_short_distributed_run_on_a_loaded_machine_loses_no_request(tmp_path: Path) -> None:
    """The master quits once its workers are done, and Locust gives their final stats reports half a second:
    a loaded machine's workers reported later, and a 3 s run lost all it sent ("no request was sent").
    Nor may a worker busy setting up go silent long enough for the master to stop the test without it."""
    locustfile = tmp_path / "slow_reports.py"
    locustfile.write_text(SLOW_REPORTS, encoding="utf-8")
    result = run(RunOptions(duration=3, workers=2, create_rate=40, bulk_rate=2, bulk_size=20,
                            out=tmp_path, run_id="loaded", locustfile=str(locustfile)))
    counted = {name: data.requests + data.dropped for name, data in result.recorder.endpoints.items()}
    assert counted == {"create": 120, "bulkCreate": 6}, counted       # 40/s and 2/s for 3 s, none missing
    assert result.nothing_lost and result.ledger_count > 0
    assert "failed to send heartbeat" not in (tmp_path / "loaded" / "locust.log").read_text(encoding="utf-8")


def _run_until_ctrl_c(run_dir: Path, after: float, *options: str) -> str:
    """``loadgen run`` into ``run_dir`` for 60 s, Ctrl-C'd ``after`` seconds past its first ledger lines;
    its output, once it has stopped with 130."""
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "loadgen"), "run", "--duration", "60s", *options,
                             "--out", str(run_dir.parent), "--run-id", run_dir.name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    while not list(run_dir.glob("ledger/worker-*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)         # what a terminal's Ctrl-C does: the whole group
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err[-2000:]
    return out


def test_ctrl_c_stops_gracefully_and_writes_everything(tmp_path: Path) -> None:
    """Every record the sandbox created is in the ledger after a terminal's Ctrl-C (SIGINT to the whole process
    group), and the report says it stopped early."""
    run_dir = tmp_path / "cc"
    out = _run_until_ctrl_c(run_dir, 2.0, "--scenario", "mixed", "--create-rate", "100", "--bulk-rate", "3",
                            "--bulk-size", "50")
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["interrupted"] and 0 < meta["ledger_records"] < 10000
    report = json.loads((run_dir / "report.json").read_text())
    assert any("stopped early by Ctrl-C" in w for w in report["warnings"]), report["warnings"]
    # the sandbox runs in its own session and stops last: every request got its answer, every record is ledgered
    assert meta["unanswered"] == 0 and meta["nothing_lost"], meta
    assert meta["server_records"] == meta["ledger_records"] and "nothing lost" in out
    assert "stopped early by Ctrl-C" in (run_dir / "report.md").read_text()
    assert (run_dir / "report.html").exists() and (run_dir / "locust.html").exists()
    # judged on the time it ran, to the fraction of a second: never more work than the schedule offered then
    assert all(e["achieved_ratio"] is None or e["achieved_ratio"] <= 1 for e in report["endpoints"].values())


def test_a_run_ended_early_or_by_a_short_ramp_achieves_at_most_what_it_was_offered(tmp_path: Path) -> None:
    """--max-records 300 ends a mixed run in about a second (it showed create 124%, bulkCreate 119%: judged
    against a whole second rounded from 1.2), and --stages 3s:10 offers bulkCreate 0.6 arrivals, of which the
    pacer sends one (166.7% of 0.6)."""
    capped = run(RunOptions(duration=10, max_records=300, out=tmp_path, run_id="capped")).report
    assert capped.run.elapsed_s < 5
    create, bulk = capped.endpoints["create"], capped.endpoints["bulkCreate"]
    assert create.achieved_ratio is not None and 0.9 <= create.achieved_ratio <= 1
    # the last batch was cut to what --max-records left: fewer records than the schedule asked for
    assert bulk.achieved_ratio is not None and bulk.achieved_ratio <= 1
    ramp = run(RunOptions(stages="3s:10", out=tmp_path, run_id="ramp")).report
    assert ramp.endpoints["bulkCreate"].requests == 1
    assert ramp.endpoints["bulkCreate"].achieved_ratio == 1.0
    assert ramp.endpoints["create"].achieved_ratio is not None and 0.9 <= ramp.endpoints["create"].achieved_ratio <= 1


def test_ctrl_c_on_workers_that_report_late_keeps_every_request_in_the_report(tmp_path: Path) -> None:
    """Locust gives the workers' last reports half a second after a Ctrl-C; a loaded machine's workers
    reported later, and the report said no request was recorded while hundreds were ledgered. The master
    asks them to finish first: the report counts every record the ledger holds."""
    (tmp_path / "slow_reports.py").write_text(SLOW_REPORTS, encoding="utf-8")
    run_dir = tmp_path / "late"
    _run_until_ctrl_c(run_dir, 3.0, "--workers", "2", "--create-rate", "40", "--bulk-rate", "1", "--bulk-size", "5",
                      "--locustfile", str(tmp_path / "slow_reports.py"))
    meta = json.loads((run_dir / "meta.json").read_text())
    report = json.loads((run_dir / "report.json").read_text())
    counted = sum(endpoint["records"] for endpoint in report["endpoints"].values())
    assert meta["interrupted"] and meta["nothing_lost"] and counted == meta["ledger_records"] > 0, (counted, meta)
    assert "asking the workers to finish" in (run_dir / "locust.log").read_text(encoding="utf-8")


def test_preflight_fails_fast_with_one_line(sandbox: Sandbox, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTURE_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("CAPTURE_CLIENT_SECRET", "wrong-secret")
    started = time.monotonic()
    with pytest.raises(UsageError, match=r"refused the credentials \(402 invalid_client_credentials\)") as bad:
        run(RunOptions(url=sandbox.url, duration=5, out=tmp_path, run_id="bad-creds"))
    assert "\n" not in str(bad.value) and "wrong-secret" not in str(bad.value)
    with pytest.raises(RuntimeFailure, match="cannot reach"):
        run(RunOptions(url=f"http://127.0.0.1:{_free_port()}", duration=5, out=tmp_path, run_id="nobody"))
    with pytest.raises(UsageError, match="refusing plain http://"):
        run(RunOptions(url="http://capture.example.com", duration=5, out=tmp_path, run_id="clear"))
    assert time.monotonic() - started < 15
    assert not list(tmp_path.iterdir()), "a failed preflight leaves no run folder behind"


def test_cleanup_is_idempotent_and_resumes(sandbox_factory: Callable[..., Sandbox], tmp_path: Path,
                                           credentials: Callable[[Sandbox], None]) -> None:
    sandbox = sandbox_factory()
    credentials(sandbox)
    result = run(RunOptions(url=sandbox.url, scenario="mixed", duration=2, create_rate=30, bulk_rate=1,
                            bulk_size=10, out=tmp_path, run_id="c"))
    assert result.ledger_count == records(sandbox) == 80

    class Stop(Exception):
        pass

    def stop_after_25(progress: object) -> None:
        if getattr(progress, "deleted", 0) >= 25:
            raise Stop

    with pytest.raises(Stop):
        cleanup(result.run_dir, url=sandbox.url, rate=None, progress=stop_after_25)
    assert records(sandbox) == 55
    resumed = cleanup(result.run_dir, url=sandbox.url, rate=None)
    assert (resumed.deleted, resumed.skipped, resumed.failed) == (55, 25, 0)
    assert records(sandbox) == 0
    (result.run_dir / CLEANUP_PROGRESS).unlink()              # forget the progress: every delete now answers 310
    again = cleanup(result.run_dir, url=sandbox.url, rate=200)
    assert (again.deleted, again.skipped, again.failed) == (0, 80, 0)


def test_ctrl_c_in_cleanup_says_how_far_it_got_and_a_second_run_finishes(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path, credentials: Callable[[Sandbox], None]) -> None:
    sandbox = sandbox_factory()
    credentials(sandbox)
    result = run(RunOptions(url=sandbox.url, scenario="create", duration=2, create_rate=40, out=tmp_path, run_id="i"))
    assert records(sandbox) == result.ledger_count == 80
    command = [str(ROOT / ".venv" / "bin" / "loadgen"), "cleanup", str(result.run_dir), "--url", sandbox.url,
               "--rate", "20"]
    proc = subprocess.Popen(command, env=sandbox_env(sandbox), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    progress = result.run_dir / CLEANUP_PROGRESS
    deadline = time.monotonic() + 30
    while (not progress.exists() or progress.read_text().count("\n") < 5) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted: the same command again resumes where this one stopped" in err and "Traceback" not in err
    deleted = int(out.split("deleted ")[1].split(",")[0])
    assert 0 < deleted < 80 and records(sandbox) <= 80 - deleted
    again = subprocess.run(command[:-2], env=sandbox_env(sandbox), capture_output=True, text=True, timeout=60,
                           check=False)
    assert again.returncode == 0, again.stderr
    assert records(sandbox) == 0


def test_a_schema_of_another_entity_type_is_loaded_under_its_own_name(tmp_path: Path) -> None:
    schema = json.loads((ROOT / "profiles" / "user.schema.json").read_text(encoding="utf-8"))
    inner = schema.get("schema", schema)
    inner["name"] = "member"
    path = tmp_path / "member.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    result = run(RunOptions(scenario="create", duration=2, create_rate=20, schema=str(path), out=tmp_path,
                            run_id="m"))
    assert result.ledger_count == result.server_count == 40 and result.nothing_lost
    assert result.meta.type_name == "member" and result.meta.schema_file == "schema.json"
    path.unlink()                      # cleanup needs only the run folder, which holds a copy of the schema
    cleaned = cleanup(result.run_dir, rate=None)      # the embedded sandbox restarted with the member type
    assert (cleaned.deleted, cleaned.skipped, cleaned.refused) == (40, 0, 0) and cleaned.complete
    assert cleanup(result.run_dir, rate=None).skipped == 40


def test_a_bare_attr_defs_list_runs_and_cleans_under_the_type_name_given(tmp_path: Path) -> None:
    schema = json.loads((ROOT / "profiles" / "user.schema.json").read_text(encoding="utf-8"))
    path = tmp_path / "attrs.json"   # as Janrain's SDKs keep a type: the attr_defs list alone, no name
    path.write_text(json.dumps(schema["schema"]["attr_defs"]), encoding="utf-8")
    result = run(RunOptions(scenario="create", duration=2, create_rate=10, schema=str(path), type_name="member",
                            out=tmp_path, run_id="bare"))
    assert result.ledger_count == result.server_count == 20 and result.nothing_lost
    kept = json.loads((result.run_dir / "schema.json").read_text(encoding="utf-8"))
    assert result.meta.type_name == kept["name"] == "member"
    cleaned = cleanup(result.run_dir, rate=None)      # the sandbox restarted from the copy serves "member"
    assert (cleaned.deleted, cleaned.refused) == (20, 0) and cleaned.complete

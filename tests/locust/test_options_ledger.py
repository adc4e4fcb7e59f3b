"""Option validation and the ledger's file handling, without Locust."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen.auth import credentials
from loadgen.errors import UsageError
from loadgen.ledger import Ledger, load_run_ledger, merge_ledgers, read_ledger
from loadgen.locust.options import env_var, settings_from
from loadgen.ramp import Stage


def test_settings_from_locust_options() -> None:
    settings = settings_from({"create_rate": "25", "bulk_size": 10, "stages": "0s:25,10s:25", "max_records": 0,
                              "capture_auth": "SIGNED", "insecure": "true", "run_id": "r-1"})
    assert settings.create_rate == 25.0 and settings.bulk_size == 10
    assert settings.stages == (Stage(0, 25), Stage(10, 25))
    assert settings.max_records is None and settings.capture_auth == "signed" and settings.insecure
    assert settings.ledger_path == Path("runs/r-1/ledger")
    assert env_var("--create-rate") == "LOCUST_CREATE_RATE"


@pytest.mark.parametrize(("options", "message"), [
    ({"capture_auth": "ntlm"}, "--capture-auth must be one of basic, signed, legacy"),
    ({"run_id": "../etc"}, "--run-id '../etc'"),
    ({"create_rate": "fast"}, "--create-rate: expected a number, got 'fast'"),
    ({"bulk_size": 0}, "--bulk-size must be between 1 and 100000"),
    ({"max_records": -1}, "--max-records must be >= 0, got -1"),
    ({"seed": -1}, "--seed must be between 0 and 9223372036854775808, got -1"),
    ({"malformed_share": 2}, "--malformed-share must be between 0 and 1"),
    ({"stages": "30s"}, "bad stage '30s'"),
])
def test_bad_options_are_one_line_usage_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as error:
        settings_from(options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_credentials_come_from_the_environment_only() -> None:
    found = credentials(env={"CAPTURE_CLIENT_ID": "id", "CAPTURE_CLIENT_SECRET": "s"})
    assert (found.client_id, found.secret.reveal()) == ("id", "s")
    with pytest.raises(UsageError, match=r"^no client credentials: CAPTURE_CLIENT_SECRET is not set "):
        credentials(env={"CAPTURE_CLIENT_ID": "id"})


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _write_parts(tmp_path: Path) -> None:
    for worker in (0, 1):
        ledger = Ledger(tmp_path / "ledger", worker, type_name="member", key="email")
        ledger.add(_uuid(worker), worker, f"w{worker}@example.com")
        ledger.add(_uuid(9), 9, None)
        ledger.close()


def test_ledger_lines_are_versioned_and_typed_and_merge_drops_duplicates(tmp_path: Path) -> None:
    _write_parts(tmp_path)
    merged = merge_ledgers(tmp_path)
    assert len(merged.entries) == 3 and not merged.damage and merged.gaps() == 0
    lines = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert {line["v"] for line in lines} == {2} and {line["type"] for line in lines} == {"member"}
    assert sorted(line["uuid"] for line in lines) == [_uuid(0), _uuid(1), _uuid(9)]
    assert {line["value"] for line in lines} == {"w0@example.com", "w1@example.com", None}
    entry = load_run_ledger(tmp_path).entries[_uuid(1)]
    assert (entry.type_name, entry.key, entry.value, entry.worker, entry.n) == ("member", "email",
                                                                                 "w1@example.com", 1, 1)
    # the merged file holds the workers' own lines, byte for byte (it was spaced json.dumps, keys reordered)
    parts = {line for part in (tmp_path / "ledger").glob("worker-*.jsonl") for line in part.read_text().splitlines()}
    assert set((tmp_path / "ledger.jsonl").read_text().splitlines()) <= parts


def test_damaged_lines_are_reported_with_file_and_line_never_skipped(tmp_path: Path) -> None:
    _write_parts(tmp_path)
    part = tmp_path / "ledger" / "worker-1.jsonl"
    lines = part.read_text().splitlines(keepends=True)
    part.write_text(lines[0] + "garbage\n" + lines[1][:40])          # a bad line, then a torn last line
    merged = merge_ledgers(tmp_path)
    assert [(d.path.name, d.line, d.reason) for d in merged.damage] == [
        ("worker-1.jsonl", 2, "not JSON"), ("worker-1.jsonl", 3, "torn last line")]
    assert not (tmp_path / "ledger.jsonl").exists(), "a damaged ledger is left as it is, not rewritten"
    assert merged.describe_damage().startswith("2 unreadable ledger lines (")
    assert f"{part}:3: torn last line" in merged.describe_damage()
    # a line that went missing from the middle of a worker's numbering is a gap
    part.write_text(lines[1])
    assert load_run_ledger(tmp_path).gaps() == 1


def test_the_union_of_the_merged_ledger_and_every_part_is_read(tmp_path: Path) -> None:
    _write_parts(tmp_path)
    merge_ledgers(tmp_path)
    extra = Ledger(tmp_path / "ledger", 2, type_name="member", key="email")
    extra.add(_uuid(2), 2, "late@example.com")                      # a part that arrived after the merge
    extra.close()
    assert sorted(load_run_ledger(tmp_path).entries) == [_uuid(0), _uuid(1), _uuid(2), _uuid(9)]


def test_a_ledger_of_another_format_is_refused_in_one_line_naming_both_formats(tmp_path: Path) -> None:
    """Not "a ledger of capture-loadgen 0.1.0 or older; clean it with that release" from 0.1.0 itself."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(json.dumps({"uuid": _uuid(1), "id": 1, "email": "a@example.com", "time": 1.0, "worker": 0})
                      + "\n")
    with pytest.raises(UsageError) as old:
        load_run_ledger(tmp_path)
    assert str(old.value) == (f"{ledger}:1: no ledger format version (a ledger of an early development build, which "
                              "recorded no entity type); this release reads ledger format version 2 only and will "
                              "not guess which records these are")
    ledger.write_text('{"v": 3, "uuid": "x"}\n')
    with pytest.raises(UsageError, match=r"ledger.jsonl:1: ledger format version 3; this release reads ledger "
                                         r"format version 2 only "):
        load_run_ledger(tmp_path)


def test_a_run_without_a_ledger_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="holds no ledger"):
        load_run_ledger(tmp_path)
    with pytest.raises(UsageError, match="no run folder"):
        load_run_ledger(tmp_path / "missing")


def test_run_plan_turns_a_duration_into_one_step_stage() -> None:
    from loadgen.runner import RunOptions, locust_command, plan_stages, targets

    opts = RunOptions(duration=30, create_rate=50, bulk_rate=2, bulk_size=100)
    stages, duration = plan_stages(opts)
    assert stages == (Stage(0, 50), Stage(30, 50)) and duration == 30
    assert targets(opts, stages) == {"create": {"requests_per_s": 50, "records_per_s": 50},
                                     "bulkCreate": {"requests_per_s": 2, "records_per_s": 200}}
    ramp = RunOptions(stages="30s:10,60s:50,30s:50,10s:0")
    assert plan_stages(ramp)[1] == 130
    cmd = locust_command(opts, locustfile=Path("mixed.py"), url="https://x.example", run_dir=Path("runs/r"),
                         run_id="r", stages=stages, duration=30, users=10)
    assert cmd[cmd.index("--stages") + 1] == "0s:50,30s:50" and "--processes" not in cmd
    assert not any("secret" in part.lower() for part in cmd)


def test_run_rejects_a_bad_schema_before_starting(tmp_path: Path) -> None:
    from loadgen.runner import RunOptions, run

    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(UsageError):
        run(RunOptions(schema=str(bad), out=tmp_path / "runs", duration=5))
    assert not (tmp_path / "runs").exists()


def test_the_master_ledger_counts_what_each_worker_reported_but_never_sent(tmp_path: Path) -> None:
    from loadgen.ledger import MasterLedger
    from loadgen.runfolder import WorkerAccount

    lines: list[str] = []
    part = Ledger(tmp_path / "ledger", 0, type_name="user", key="email", sink=lines.extend)
    for n in range(3):
        part.add(_uuid(n), n, f"u{n}@example.com")
    part.close()                                     # the close flushes the batch to the sink
    master = MasterLedger(tmp_path / "ledger.jsonl")
    master.write(0, "node-0", lines, sent=3)
    master.claim(1, 5)                               # worker 1 reported 5 creates; 2 of its lines arrived
    master.write(1, "node-1", lines[:2], sent=2)
    master.close()
    workers, warnings = master.accounting(lost={"node-1"})
    assert workers == {0: WorkerAccount(3, 3, 0, False), 1: WorkerAccount(5, 2, 3, True)}
    assert warnings == [w for w in warnings if w.startswith("worker 1 stopped answering (killed or cut off): 3 "
                                                            "acknowledged creates not confirmed")] and warnings
    assert len(read_ledger(tmp_path / "ledger.jsonl").entries) == 3

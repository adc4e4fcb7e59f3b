"""`loadgen cleanup` against the real sandbox: the run's own type and schema, only our records, damage never silent."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadgen.auth import make_auth
from loadgen.cleaner import BATCH, cleanup
from loadgen.client import CaptureClient, Created
from loadgen.ledger import Ledger
from loadgen.profiles import ProfileFactory
from loadgen.runfolder import LocustSummary, Meta, write_locust_files, write_meta
from loadgen.sandbox import Sandbox, serve
from loadgen.schema import default_schema, load_schema

ROOT = Path(__file__).resolve().parents[1]
LOADGEN = str(ROOT / ".venv" / "bin" / "loadgen")


def member_schema(folder: Path) -> Path:
    """The shipped user schema renamed ``member``: a type cleanup must not mistake for ``user``."""
    schema = json.loads((ROOT / "profiles" / "user.schema.json").read_text(encoding="utf-8"))
    schema.get("schema", schema)["name"] = "member"
    path = folder / "member.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


def client_for(sandbox: Sandbox, type_name: str = "user") -> CaptureClient:
    return CaptureClient(sandbox.url, make_auth("basic", sandbox.client_id, sandbox.client_secret),
                         type_name=type_name)


def create(sandbox: Sandbox, n: int, type_name: str = "user", schema: Path | None = None) -> list[tuple[Created, str]]:
    """``n`` generated records created in the sandbox: (created, email)."""
    factory = ProfileFactory(load_schema(schema) if schema else default_schema(), seed=1, run_id="cl", worker=0)
    records = factory.batch(n)
    with client_for(sandbox, type_name) as client:
        result = client.bulk_create(records)
    assert not result.failed
    return [(done, str(record["email"])) for done, record in zip(result.created, records, strict=True)]


def write_run(run_dir: Path, created: list[tuple[Created, str]], type_name: str = "user", **meta: Any) -> Path:
    """A run folder as `loadgen run` leaves it: one ledger part and meta.json."""
    ledger = Ledger(run_dir / "ledger", 0, type_name=type_name, key="email")
    for done, email in created:
        ledger.add(done.uuid, done.id, email)
    ledger.close()
    write_meta(run_dir, Meta(run_id=run_dir.name, scenario="create", type_name=type_name,
                             ledger_records=len(created), **meta))
    return run_dir


def count(sandbox: Sandbox, type_name: str = "user") -> int:
    with client_for(sandbox, type_name) as client:
        return client.count()


@pytest.fixture
def sandbox_with_env(sandbox_factory: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """A fresh sandbox whose owner client is in CAPTURE_CLIENT_ID/SECRET, as `loadgen cleanup --url` reads them."""
    sandbox = sandbox_factory()
    monkeypatch.setenv("CAPTURE_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("CAPTURE_CLIENT_SECRET", sandbox.client_secret)
    return sandbox


def cli_cleanup(run_dir: Path, sandbox: Sandbox, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAPTURE_CLIENT_ID": sandbox.client_id, "CAPTURE_CLIENT_SECRET": sandbox.client_secret}
    return subprocess.run([LOADGEN, "cleanup", str(run_dir), "--url", sandbox.url, "--rate", "1000", *extra],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_a_run_of_another_type_is_cleaned_in_that_type_by_the_sandbox_restarted_with_its_schema(
        tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    schema = member_schema(tmp_path)
    (run_dir / "schema.json").write_bytes(schema.read_bytes())
    with serve(db=run_dir / "sandbox.db", schema=schema) as sandbox:
        created = create(sandbox, 30, "member", schema)
    write_run(run_dir, created, "member", embedded_sandbox=True, schema_file="schema.json")
    result = cleanup(run_dir, rate=None)
    assert (result.deleted, result.skipped, result.failed, result.refused) == (30, 0, 0, 0) and result.complete
    with serve(db=run_dir / "sandbox.db", schema=schema) as sandbox:
        assert count(sandbox, "member") == 0
    again = cleanup(run_dir, rate=None)
    assert (again.deleted, again.skipped) == (0, 30)


def test_the_wrong_target_type_is_one_line_not_thirty_silent_skips(sandbox_factory: Callable[..., Sandbox],
                                                                   tmp_path: Path) -> None:
    member, plain = sandbox_factory(schema=member_schema(tmp_path)), sandbox_factory()
    run_dir = write_run(tmp_path, create(member, 3, "member", tmp_path / "member.json"), "member")
    proc = cli_cleanup(run_dir, plain)           # a sandbox without the run's type
    assert proc.returncode == 2, proc.stderr
    assert "222 unknown_entity_type" in proc.stderr and "deleted" not in proc.stdout
    assert count(member, "member") == 3


def test_records_that_no_longer_match_their_ledger_line_are_refused(sandbox_factory: Callable[..., Sandbox],
                                                                     tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    created = create(sandbox, 8)
    (a, a_email), (b, _), (c, c_email) = created[0], created[1], created[2]
    flipped = c.uuid[:-1] + ("0" if c.uuid[-1] != "0" else "1")
    tampered = [(Created(b.id, a.uuid), a_email),          # a's uuid with b's id
                (b, "someone.else@example.com"),           # b's ids with another email
                (Created(c.id, flipped), c_email),         # a damaged uuid: not "already gone"
                *created[3:]]
    run_dir = write_run(tmp_path, tampered)
    proc = cli_cleanup(run_dir, sandbox)
    assert proc.returncode == 1, proc.stderr
    assert "deleted 5, skipped 0 (already gone), failed 0, refused 3 of 8" in proc.stdout
    assert "refused: 3 records no longer match their ledger line and were not deleted" in proc.stderr
    assert "email differs" in proc.stderr and "someone.else" not in proc.stderr   # values are not printed
    assert f"{flipped}: no record has its uuid, but one holds its id" in proc.stderr
    with client_for(sandbox) as client:                       # the refused records are still there
        assert {r["uuid"] for r in client.find(attributes=["uuid"])} == {a.uuid, b.uuid, c.uuid}


def test_records_are_checked_in_batches_of_one_find(sandbox_with_env: Sandbox, tmp_path: Path) -> None:
    sandbox = sandbox_with_env
    run_dir = write_run(tmp_path, create(sandbox, 2 * BATCH + 10))
    before = stats(sandbox)["requests"].get("entity.find", 0)
    result = cleanup(run_dir, url=sandbox.url, rate=None)
    assert result.deleted == 2 * BATCH + 10 and result.complete
    assert stats(sandbox)["requests"]["entity.find"] - before == 3
    assert count(sandbox) == 0


def stats(sandbox: Sandbox) -> dict[str, Any]:
    """The sandbox's admin stats, asked as its owner client."""
    response = httpx.get(f"{sandbox.url}/_sandbox/stats",
                         auth=make_auth("basic", sandbox.client_id, sandbox.client_secret), timeout=10)
    result: dict[str, Any] = response.json()
    return result


def _damage(part: Path) -> None:
    """Three kinds of damage: a garbage line, a line deleted from the middle, a torn last line."""
    lines = part.read_text().splitlines(keepends=True)
    lines[3] = "\x00\x00garbage\n"
    del lines[6]
    lines[-1] = lines[-1][:50]
    part.write_text("".join(lines))


def test_damaged_ledger_lines_are_reported_and_cleanup_exits_non_zero(sandbox_factory: Callable[..., Sandbox],
                                                                       tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    run_dir = write_run(tmp_path, create(sandbox, 12))
    part = run_dir / "ledger" / "worker-0.jsonl"
    _damage(part)
    proc = cli_cleanup(run_dir, sandbox)
    assert proc.returncode == 1, proc.stderr
    assert "deleted 9, skipped 0 (already gone), failed 0, refused 0 of 9" in proc.stdout
    assert "ledger damage: 2 unreadable ledger lines" in proc.stderr
    assert f"{part}:4: not JSON" in proc.stderr and f"{part}:11: torn last line" in proc.stderr
    assert "at least 3 records the run created could not be accounted for" in proc.stderr
    assert count(sandbox) == 3                    # exactly those it said


def test_a_worker_part_makes_up_for_a_damaged_merged_ledger(sandbox_with_env: Sandbox,
                                                            tmp_path: Path) -> None:
    sandbox = sandbox_with_env
    run_dir = write_run(tmp_path, create(sandbox, 12))
    merged = run_dir / "ledger.jsonl"
    merged.write_bytes((run_dir / "ledger" / "worker-0.jsonl").read_bytes())
    _damage(merged)
    result = cleanup(run_dir, url=sandbox.url, rate=None)
    assert result.deleted == 12 and count(sandbox) == 0
    # the damage is still reported (non-zero exit), but every record is accounted for
    assert result.unreadable == 2 and result.unaccounted == 0 and not result.complete
    assert "ledger.jsonl:11: torn last line" in result.damage


def test_a_missing_tail_is_caught_by_the_runs_own_count(sandbox_with_env: Sandbox,
                                                       tmp_path: Path) -> None:
    sandbox = sandbox_with_env
    run_dir = write_run(tmp_path, create(sandbox, 10))
    part = run_dir / "ledger" / "worker-0.jsonl"
    part.write_text("".join(part.read_text().splitlines(keepends=True)[:7]))   # cut at a line end: no trace
    result = cleanup(run_dir, url=sandbox.url, rate=None)
    assert result.deleted == 7 and result.unaccounted == 3 and not result.complete
    assert count(sandbox) == 3
    (run_dir / "meta.json").unlink()                 # Locust's own summary counts the records too
    summary = LocustSummary(run_id="r", workers=1, records=10, dropped={}, workers_cpu={}, unanswered=0,
                            stop_reasons=(), started_at=None, ended_at=0.0, ledger_dir="ledger")
    write_locust_files(run_dir, {}, summary)
    again = cleanup(run_dir, url=sandbox.url, rate=None)
    assert (again.skipped, again.unaccounted) == (7, 3)


@pytest.mark.parametrize("line", ['{"v": 2, "type": "user", "uuid": "x\' or id > 0 or uuid = \'y", "id": 1}'])
def test_a_hostile_uuid_never_reaches_the_filter(sandbox_with_env: Sandbox, tmp_path: Path,
                                                 line: str) -> None:
    sandbox = sandbox_with_env
    run_dir = write_run(tmp_path, create(sandbox, 3))
    with (run_dir / "ledger" / "worker-0.jsonl").open("a") as file:
        file.write(line + "\n")
    result = cleanup(run_dir, url=sandbox.url, rate=None)
    assert result.deleted == 3 and result.unreadable == 1 and "no valid uuid" in result.damage


def test_a_run_stopped_before_its_first_create_has_nothing_to_clean(sandbox_with_env: Sandbox, tmp_path: Path) -> None:
    """Ctrl-C in the set-up leaves no ledger: `run && cleanup` scripts got `holds no ledger`, exit 2."""
    run_dir = tmp_path / "early"
    run_dir.mkdir()
    write_meta(run_dir, Meta(run_id="early", scenario="create", ended_at=1.0, ledger_records=0, interrupted=True))
    done = cli_cleanup(run_dir, sandbox_with_env)
    assert (done.returncode, done.stdout) == (0, "nothing to clean: the run created no record\n"), done.stderr
    # a run that may have created records (an unanswered request) without a ledger is still refused
    write_meta(run_dir, Meta(run_id="early", scenario="create", ended_at=1.0, ledger_records=0, unanswered=1))
    done = cli_cleanup(run_dir, sandbox_with_env)
    assert done.returncode == 2 and "holds no ledger" in done.stderr, done.stderr


def test_a_capacity_search_folder_is_cleaned_step_by_step(sandbox_with_env: Sandbox, tmp_path: Path) -> None:
    search = tmp_path / "cap"
    made = create(sandbox_with_env, 5)
    write_run(search / "step-01-10rps", made[:2])
    write_run(search / "step-02-20rps", made[2:])
    done = cli_cleanup(search, sandbox_with_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "step-01-10rps: deleted 2, skipped 0 (already gone), failed 0, refused 0 of 2 ledgered records",
        "step-02-20rps: deleted 3, skipped 0 (already gone), failed 0, refused 0 of 3 ledgered records"]
    assert count(sandbox_with_env) == 0
    # a step whose Locust failed before meta.json was written still has its ledger: it is cleaned too, and a
    # step with nothing readable is named, not skipped in silence
    made = create(sandbox_with_env, 2)
    write_run(search / "step-03-40rps", made)
    (search / "step-03-40rps" / "meta.json").unlink()
    (search / "step-04-80rps").mkdir()
    done = cli_cleanup(search, sandbox_with_env)
    lines = done.stdout.splitlines()
    assert lines[2] == "step-03-40rps: deleted 2, skipped 0 (already gone), failed 0, refused 0 of 2 ledgered records"
    assert lines[3].startswith("step-04-80rps: error: ") and "holds no ledger" in lines[3], lines
    assert done.returncode == 2 and count(sandbox_with_env) == 0

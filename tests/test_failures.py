"""From failure to fix: failures.jsonl, its curl lines, ``loadgen replay``, the exported pytest file and the
coverage table, against a sandbox whose ``accept_nan`` switch breaks the malformed-JSON properties."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadgen.cli import cli
from loadgen.errors import UsageError
from loadgen.failures import Expected, Failure, describe, read_failures, write_failures
from loadgen.fuzzer import plugin_args
from loadgen.sandbox import Sandbox
from loadgen.strategies import MALFORMED_KINDS
from loadgen.wire import loads_strict

CURL = shutil.which("curl")
LOADGEN = [sys.executable, "-c", "from loadgen.cli import main; main()"]


def _env(sandbox: Sandbox) -> dict[str, str]:
    return {**os.environ, "CAPTURE_CLIENT_ID": sandbox.client_id, "CAPTURE_CLIENT_SECRET": sandbox.client_secret}


def _curl(line: str, sandbox: Sandbox) -> tuple[int, dict[str, object]]:
    env = {"PATH": os.environ["PATH"], "CAPTURE_CLIENT_ID": sandbox.client_id,
           "CAPTURE_CLIENT_SECRET": sandbox.client_secret}
    out = subprocess.run(["bash", "-c", line], capture_output=True, env=env, timeout=30, check=True).stdout
    body = loads_strict(out)
    assert isinstance(body, dict)
    return 200, body


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_from_a_broken_property_to_its_fix(tmp_path: Path, sandbox_factory: Callable[..., Sandbox]) -> None:
    broken = sandbox_factory(faults={"accept_nan": True})
    fixed = sandbox_factory()
    out, tests, junit, db = tmp_path / "out", tmp_path / "reg" / "test_capture_regressions.py", tmp_path / "f.xml", \
        tmp_path / "db"
    tests.parent.mkdir()   # an output's folder must exist (a typo is refused, not made)
    run = subprocess.run([*LOADGEN, "fuzz", "--url", broken.url, "--allow-writes", "--max-examples", "40", "--seed",
                          "1", "--out", str(out), "--junit", str(junit), "--database", str(db),
                          "--export-pytest", str(tests)], cwd=tmp_path, env=_env(broken), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]

    # failures.jsonl: the shrunk malformed example, whose curl line gets the same wrong answer from a real curl
    failures = read_failures(out / "failures.jsonl")
    create = next(f for f in failures if f.operation == "entity.create")
    assert create.kind in ("nan", "infinity", "deep_nesting", "duplicate_key", "lone_surrogate"), create
    assert create.expected == Expected(200, argument="attributes") and create.got != "200 invalid_argument"
    status, body = _curl(create.curl(), broken)
    assert describe(status, body, "") == create.got
    assert "$CAPTURE_CLIENT_SECRET" in create.curl()

    # the coverage table names every mutation kind, in the console, fuzz-report.json and the JUnit properties
    table = run.stdout[run.stdout.index("what the fuzzers exercised"):]
    kinds = " ".join(table[table.index("mutation kinds: "):table.index("expected codes: ")].split())
    assert all(f" {kind} " in kinds for kind in MALFORMED_KINDS), kinds
    assert "operations called: " in table and "attribute paths violated: " in table
    report = json.loads((out / "fuzz-report.json").read_text())
    assert set(MALFORMED_KINDS) <= set(report["coverage"]["kinds"])
    assert report["coverage"]["kinds"][create.kind]["failed"] >= 1
    assert 'name="coverage.kind.nan"' in junit.read_text()
    assert any(db.rglob("*")), "the --database directory holds the failing examples"

    # no secret in anything written down
    for written in (out / "failures.jsonl", out / "fuzz-report.json", junit, tests):
        assert broken.client_secret not in written.read_text(), written

    # replay: STILL FAILING on the broken sandbox, FIXED on a fixed one (and what it created is deleted)
    again = subprocess.run([*LOADGEN, "replay", str(out / "failures.jsonl"), "--junit", str(tmp_path / "r.xml")],
                           env=_env(broken), capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "STILL FAILING" in again.stdout, again.stdout + again.stderr
    replay_junit = (tmp_path / "r.xml").read_text()
    assert f'failures="{len(failures)}"' in replay_junit and broken.client_secret not in replay_junit
    done = subprocess.run([*LOADGEN, "replay", str(out / "failures.jsonl"), "--url", fixed.url],
                          env=_env(fixed), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and f"0 fixed, {len(failures)}" not in done.stdout, done.stdout + done.stderr
    assert all(line.startswith("FIXED") for line in done.stdout.splitlines()[:-1])
    assert broken.stats()["records"].get("user", 0) == 0, "replay deleted what the accepted NaN created"

    # the exported pytest file fails on the broken sandbox and passes on the fixed one
    for target, code in ((broken, 1), (fixed, 0)):
        result = subprocess.run([sys.executable, "-m", "pytest", *plugin_args(), str(tests), "-q", "-p",
                                 "no:cacheprovider", f"--capture-url={target.url}", "--capture-allow-writes"],
                                cwd=tmp_path, env=_env(target), capture_output=True, text=True, timeout=120)
        assert result.returncode == code, result.stdout[-2000:]
        assert f"{len(failures)} {'failed' if code else 'passed'}" in result.stdout


def _failure(**changes: object) -> Failure:
    fields: dict[str, object] = {
        "label": "malformed attributes (entity.create)", "operation": "entity.create",
        "form": "type_name=user&attributes=%7B%22email%22%3ANaN%7D", "expected": Expected(200, argument="attributes"),
        "got": "stat ok", "status": 200, "answer": '{"stat":"ok"}', "url": "http://127.0.0.1:1", "kind": "nan"}
    return Failure(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_damaged_failures_file_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    write_failures(path, [_failure(), _failure(kind="infinity")])
    assert [f.kind for f in read_failures(path)] == ["nan", "infinity"]
    with path.open("a") as f:
        f.write('{"label": "x"}\n')
    with pytest.raises(UsageError, match=r"failures.jsonl:3: not a failure record \(missing field 'expect'\)"):
        read_failures(path)


def test_bytes_that_are_not_utf8_survive_the_record(tmp_path: Path) -> None:
    failure = _failure(form="type_name=user&attributes=%7B%22a%22%3A%22%FF%22%7D")
    assert failure.raw_params() == {"type_name": "user", "attributes": b'{"a":"\xff"}'}
    assert "%FF" in failure.curl()


def test_a_signed_failure_has_a_replay_line_instead_of_curl(tmp_path: Path) -> None:
    failure = _failure(scheme="signed")
    assert failure.curl() == ""
    line = failure.to_json(tmp_path / "failures.jsonl")["replay"]
    assert line.endswith(f"--id {failure.id} --url http://127.0.0.1:1 --auth signed"), line


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_a_legacy_curl_line_sends_the_credentials_as_form_fields(sandbox: Sandbox) -> None:
    failure = _failure(scheme="legacy", url=sandbox.url, form="type_name=user&attributes=%7B%22email%22%3ANaN%7D")
    line = failure.curl()
    assert sandbox.client_secret not in line and "client_secret=$CAPTURE_CLIENT_SECRET" in line
    status, body = _curl(line, sandbox)
    assert failure.expected.met_by(status, body), body


def test_replay_refuses_writes_to_a_real_domain_without_allow_writes(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    write_failures(path, [_failure()])
    result = CliRunner().invoke(cli, ["replay", str(path), "--url", "https://app.example.janraincapture.com"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: replaying these failures on https://app.example.janraincapture.com "
                                     "creates records there (deleted again): add --allow-writes")


def test_a_failure_that_shows_on_some_tries_only_is_flaky_and_fails_the_replay(
        tmp_path: Path, sandbox_factory: Callable[..., Sandbox]) -> None:
    """Half the calls get a random 500: a request tried 3 times is mixed with probability 3/4, so among 8 at
    least one is FLAKY (all 8 not mixed: 1.5e-5)."""
    coin = sandbox_factory(faults={"error_rate": 0.5})
    path = tmp_path / "failures.jsonl"
    write_failures(path, [_failure(url=coin.url, form=f"type_name=user&attributes=%7B%22email%22%3Ax{n}%7D")
                          for n in range(8)])
    result = subprocess.run([*LOADGEN, "replay", str(path)], env=_env(coin), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    flaky = [line for line in result.stdout.splitlines() if line.startswith("FLAKY")]
    assert flaky and "500 unexpected_error" in flaky[0] and "200 invalid_argument" in flaky[0], result.stdout


def test_refused_credentials_are_a_usage_error_of_replay_and_fuzz_alike(tmp_path: Path, sandbox: Sandbox) -> None:
    """Not a verdict: replay once printed ``STILL FAILING ... got 402 invalid_client_credentials`` and exit 1."""
    path = tmp_path / "failures.jsonl"
    write_failures(path, [_failure(url=sandbox.url)])
    env = {**_env(sandbox), "CAPTURE_CLIENT_SECRET": "not-the-secret-9c2d"}
    runs = [subprocess.run([*LOADGEN, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
            for args in (["replay", str(path)], ["fuzz", "--url", sandbox.url, "--allow-writes"])]
    for run, command in zip(runs, ("replay", "preflight"), strict=True):
        assert run.returncode == 2, run.stdout + run.stderr
        assert run.stdout == "" and "not-the-secret-9c2d" not in run.stderr
        assert run.stderr == (f"error: {command}: {sandbox.url} refused the credentials (402 "
                              "invalid_client_credentials); check CAPTURE_CLIENT_ID/CAPTURE_CLIENT_SECRET and --auth\n")

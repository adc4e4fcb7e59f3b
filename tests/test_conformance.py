"""The conformance properties, run the way users run them: ``pytest --pyargs loadgen.conformance``.

Each run is a real pytest in a subprocess, against a real sandbox over HTTP, with a fixed seed and a
modest number of examples. One run uses the sandbox's ``accept_nan`` fault to prove the properties
can fail, and that they report a shrunk example with the server's answer.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from loadgen.auth import BasicAuth
from loadgen.client import CaptureClient
from loadgen.conformance import Fuzzer, matches, plugin_args, stored_form, suite_args
from loadgen.sandbox import Sandbox
from loadgen.schema import default_schema

pytest_plugins = ["pytester"]


def _env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    monkeypatch.setenv("CAPTURE_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("CAPTURE_CLIENT_SECRET", sandbox.client_secret)


def test_all_five_properties_pass_on_the_embedded_sandbox(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(*suite_args(max_examples=40, seed=0), "-q", timeout=240)
    result.assert_outcomes(passed=5)
    out = result.stdout.str()
    assert "capture conformance: embedded sandbox http://127.0.0.1:" in out
    for row in ("malformed attributes (entity.create)", "malformed all_attributes (entity.bulkCreate)",
                "schema violation (entity.create)", "schema violation (entity.bulkCreate)",
                "valid record (entity.create + entity)", "store model (state machine steps)"):
        assert any(line.startswith(row) and line.rstrip().endswith("passed") for line in out.splitlines()), row
    assert " 0 could not be deleted" in out
    created = int(out.split("the fuzzers created ")[1].split(" records")[0])
    assert created > 40


def test_another_schema_file_drives_the_sandbox_and_the_properties(pytester: pytest.Pytester) -> None:
    """A required, unique, case-sensitive alphanumeric key and every attribute type the user type lacks."""
    widget = Path(__file__).parent / "data" / "widget.schema.json"
    result = pytester.runpytest_subprocess(*suite_args(max_examples=20, seed=0), f"--capture-schema={widget}",
                                           "-q", timeout=240)
    result.assert_outcomes(passed=5)
    assert "(widget, seed 0)" in result.stdout.str()


def test_a_sandbox_that_accepts_nan_fails_the_right_property(
        pytester: pytest.Pytester, sandbox_factory: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch) -> None:
    broken = sandbox_factory(faults={"accept_nan": True})
    _env(monkeypatch, broken)
    # Hypothesis's own "ci" profile (loaded where CI is set) turns the example database off; the default
    # profile is what a QA engineer's machine runs, and the replay below needs the database.
    args = [*suite_args(url=broken.url, max_examples=150, seed=0, allow_writes=True), "--hypothesis-profile=default"]
    result = pytester.runpytest_subprocess(*args, "-q", "-k", "malformed_attributes or valid_records", timeout=240)
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    rows = [line.split() for line in out.splitlines() if line.startswith(("malformed attributes", "valid record"))]
    assert [row[-1] for row in rows] == ["FAILED", "passed"], rows
    shrunk = next(line for line in out.splitlines() if "shrunk input:" in line)
    # What Python's lenient parser takes and the strict one refuses: NaN, infinities, lone surrogates, depth.
    assert any(token in shrunk for token in ("NaN", "Infinity", "1e999", "\\ud", "\\uD", "[" * 65)), shrunk
    assert len(shrunk) < 200 and shrunk.count('":') <= 2, f"the failing input was not shrunk: {shrunk}"
    answer = next(line for line in out.splitlines() if "server answer:" in line)
    assert "HTTP 200" in answer and '"code":200' not in answer
    # The failure is kept in Hypothesis's example database: one example with another seed replays it.
    assert any((pytester.path / ".hypothesis" / "examples").iterdir())
    args = [*suite_args(url=broken.url, max_examples=1, seed=99, allow_writes=True), "--hypothesis-profile=default"]
    again = pytester.runpytest_subprocess(*args, "-q", "-k", "malformed_attributes", timeout=240)
    again.assert_outcomes(failed=1)
    assert shrunk in again.stdout.str()


def test_what_a_malformed_example_wrongly_created_is_gone_before_the_next_one(
        sandbox_factory: Callable[..., Sandbox]) -> None:
    """The seed records repeat their emails: a record kept would turn the next example's answer into a 361."""
    broken = sandbox_factory(faults={"accept_nan": True})
    client = CaptureClient(broken.url, BasicAuth(broken.client_id, broken.client_secret))
    fz = Fuzzer(client, default_schema(), settings=settings(), seed=0, remote=False, allow_writes=True, label="")
    try:
        text = '{"email":"x_10@test.org","email":"x_10@test.org"}'  # a duplicate key Python's parser takes
        for _ in range(2):
            answer = fz.send("entity.create", {"attributes": text})
            fz.track(answer, keep=False)
            assert answer.body is not None and answer.body.get("stat") == "ok", answer  # the second: no 361
        assert broken.stats()["records"].get("user", 0) == 0
        assert fz.tracker.cleanup().endswith("created 2 records: 0 deleted, 2 already gone, 0 could not be deleted")
    finally:
        fz.close()
        client.close()


def test_a_store_whose_count_lags_fails_the_state_machine(
        pytester: pytest.Pytester, sandbox_factory: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch) -> None:
    # lagging for longer than the run and its shrinking take: with a 60 s lag, a loaded machine (pytest -n 3)
    # saw the first records show up mid-shrink, and Hypothesis called the failure flaky
    lagging = sandbox_factory(faults={"read_lag": 3600})
    _env(monkeypatch, lagging)
    args = suite_args(url=lagging.url, max_examples=50, seed=0, allow_writes=True)
    result = pytester.runpytest_subprocess(*args, "-q", "-k", "store_model", timeout=240)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "entity.count says 0, the model holds 1 records" in out
    # shrunk to one minimal write: which of the two create rules Hypothesis ends on is its own choice
    assert "state.create(record={})" in out or "state.bulk_create(batch=[{}])" in out, out[-3000:]


def test_with_count_checks_off_a_lagging_count_passes_on_answers_and_reads_by_uuid(
        pytester: pytest.Pytester, sandbox_factory: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch) -> None:
    """What a real domain needs (its count lags by minutes): every property still runs and checks the rest."""
    lagging = sandbox_factory(faults={"read_lag": 60})
    _env(monkeypatch, lagging)
    args = suite_args(url=lagging.url, max_examples=20, seed=0, allow_writes=True, count_checks="off")
    result = pytester.runpytest_subprocess(*args, "-q", timeout=240)
    result.assert_outcomes(passed=5)
    assert "(user, seed 0, count checks off)" in result.stdout.str()
    assert lagging.stats()["records"].get("user", 0) == 0      # and the records it created are gone


def test_writes_to_a_url_need_an_explicit_flag(
        pytester: pytest.Pytester, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, sandbox)
    before = sandbox.stats()["requests"].get("entity.create", 0)
    result = pytester.runpytest_subprocess(*suite_args(url=sandbox.url, max_examples=5, seed=0), timeout=120)
    result.assert_outcomes(failed=5)      # not skipped: a CI job that tested nothing must not look green
    result.stdout.fnmatch_lines(["*pass --capture-allow-writes to allow it*"])
    assert "Traceback" not in result.stdout.str()
    assert sandbox.stats()["requests"].get("entity.create", 0) == before


FAKE_SECRET = "TOPSECRETVALUE-4e1f"


@pytest.mark.parametrize("scheme", ["basic", "signed", "legacy"])
def test_bad_credentials_are_one_line_per_property_and_never_show_the_secret(
        pytester: pytest.Pytester, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    """pytest's long tracebacks print every frame's arguments and locals: the secret must not be among them."""
    monkeypatch.setenv("CAPTURE_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("CAPTURE_CLIENT_SECRET", FAKE_SECRET)
    args = suite_args(url=sandbox.url, auth=scheme, max_examples=5, seed=0, allow_writes=True)
    result = pytester.runpytest_subprocess(*args, "--tb=long", "--showlocals", timeout=120)
    result.assert_outcomes(errors=5)
    out = result.stdout.str() + result.stderr.str()
    assert f"capture: {sandbox.url}: " in out and "invalid_client_credentials" in out
    assert "Traceback" not in out and FAKE_SECRET not in out


def test_a_missing_client_id_is_one_usage_error_before_any_test(
        pytester: pytest.Pytester, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """It once printed a long traceback per property, with ``secret = '...'`` and the whole environment."""
    monkeypatch.delenv("CAPTURE_CLIENT_ID", raising=False)
    monkeypatch.setenv("CAPTURE_CLIENT_SECRET", FAKE_SECRET)
    before = dict(sandbox.stats()["requests"])
    args = suite_args(url=sandbox.url, max_examples=5, seed=0, allow_writes=True)
    result = pytester.runpytest_subprocess(*args, "--tb=long", "--showlocals", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert FAKE_SECRET not in out and "Traceback" not in out and "environ(" not in out
    assert [line for line in out.splitlines() if line.strip()] == [
        "ERROR: capture: no client credentials: CAPTURE_CLIENT_ID is not set (credentials come only from the "
        "environment variables CAPTURE_CLIENT_ID and CAPTURE_CLIENT_SECRET)"]
    assert sandbox.stats()["requests"] == before      # nothing was sent


def test_the_plugin_is_harmless_when_unused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    code = ("import sys, loadgen.pytest_plugin; "
            "print(sorted(m for m in ('httpx', 'locust', 'starlette', 'loadgen.sandbox', 'loadgen.client') "
            "if m in sys.modules))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
    assert "capture conformance" not in result.stdout.str()


@pytest.mark.parametrize(("expected", "actual", "ok"), [
    ({"a": None}, {"a": None, "b": 1}, True),
    ({"a": None}, {"a": []}, True),
    ({"o": None}, {"o": {"x": None, "y": None}}, True),
    ({"p": [{"s": "x"}]}, {"p": [{"id": 7, "s": "x"}]}, True),
    ({"n": 5}, {"n": 5.0}, True),
    ({"b": True}, {"b": 1}, False),
    ({"p": [{"s": "x"}]}, {"p": []}, False),
    ({"s": "x"}, {}, False),
])
def test_read_back_comparison(expected: Any, actual: Any, ok: bool) -> None:
    assert matches(expected, actual) is ok


def test_stored_form_normalises_and_hides_passwords() -> None:
    record = {"birthday": "1881-01-29 00:00:00", "password": "s3cret", "lastLogin": "2015-12-15T07:36:25Z"}
    assert stored_form(record, default_schema()) == {"birthday": "1881-01-29",
                                                     "lastLogin": "2015-12-15 07:36:25 +0000"}


def test_fuzz_command_runs_the_suite_and_prints_the_table(tmp_path: Any) -> None:
    junit = tmp_path / "fuzz.xml"
    run = subprocess.run([sys.executable, "-c", "from loadgen.cli import main; main()", "fuzz", "--max-examples",
                          "5", "--seed", "3", "--junit", str(junit)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "malformed attributes (entity.create)" in run.stdout
    assert "repeat with: loadgen fuzz --seed 3 --max-examples 5" in run.stdout
    assert junit.read_text().count("<testcase ") == 5


def test_fuzz_command_asks_before_writing_to_a_remote_domain() -> None:
    from click.testing import CliRunner

    from loadgen.cli import cli

    result = CliRunner().invoke(cli, ["fuzz", "--url", "https://app.example.janraincapture.com"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: fuzzing https://app.example.janraincapture.com creates records there (deleted at the end): "
        "add --allow-writes"]

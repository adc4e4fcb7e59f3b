"""One vocabulary across the commands: --url/CAPTURE_URL and --auth the same everywhere, errors as flags, one line."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_run import SyntheticRun, write_synthetic_run

from loadgen.auth import make_auth
from loadgen.cli import cli
from loadgen.client import CaptureClient
from loadgen.ledger import Ledger, read_ledger
from loadgen.profiles import ProfileFactory
from loadgen.runfolder import Meta, write_meta
from loadgen.sandbox import Sandbox
from loadgen.schema import default_schema

LOADGEN = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "loadgen")
#: The commands that send requests, with the arguments that make each one complete.
SENDERS = {"ping": [], "run": [], "cleanup": ["RUN_DIR"], "fuzz": []}


def _loadgen(*args: str, cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CAPTURE_", "LOCUST_"))}
    return subprocess.run([LOADGEN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**base, **(env or {})})


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert "Usage:" not in proc.stderr and "Traceback" not in proc.stderr
    return proc.stderr.rstrip("\n")


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--scenario", "nope"], "error: Invalid value for '--scenario': 'nope' is not one of 'mixed', 'create', "
                                    "'bulk_create', 'error_path' (see loadgen run --help)"),
    (["run", "--bogus"], "error: No such option '--bogus'. (Did you mean one of: '--corpus', '--out'?) "
                         "(see loadgen run --help)"),
    (["cleanup"], "error: Missing argument 'RUN_DIR' (see loadgen cleanup --help)"),
    (["cleanup", "somewhere", "--rate", "0"], "error: Invalid value for '--rate': 0.0 is not in the range x>0 "
                                              "(see loadgen cleanup --help)"),
    (["run", "--users", "0"], "error: Invalid value for '--users': 0 is not in the range x>=1 "
                              "(see loadgen run --help)"),
    (["ping", "--auth", "ntlm"], "error: Invalid value for '--auth': 'ntlm' is not one of "
                                 "'basic', 'signed', 'legacy' (see loadgen ping --help)"),
    (["run", "--auth", "signed", "--capture-auth", "basic"],
     "error: --auth signed and --capture-auth basic disagree: give one (see loadgen run --help)"),
    (["sandbox", "--error-rate", "2"], "error: Invalid value for '--error-rate': 2.0 is not in the range 0<=x<=1 "
                                       "(see loadgen sandbox --help)"),
])
def test_click_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _loadgen(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert _one_error_line(proc) == message
    assert not any(tmp_path.iterdir())      # nothing started, nothing written


@pytest.mark.parametrize(("env", "args", "hint"), [
    ({}, ["--auth", "sigend"], "'--auth'"),
    ({"CAPTURE_AUTH": "sigend"}, [], "CAPTURE_AUTH (environment variable)"),
    ({"CAPTURE_AUTH": "basic"}, ["--auth", "sigend"], "'--auth'"),
])
def test_a_bad_auth_names_where_it_came_from(env: dict[str, str], args: list[str], hint: str) -> None:
    """click said "'--auth' (env var: 'CAPTURE_AUTH')" also when the user had typed the flag."""
    result = CliRunner(env=env).invoke(cli, ["ping", "--url", "http://127.0.0.1:9", *args], prog_name="loadgen")
    assert result.exit_code == 2
    assert result.output == (f"error: Invalid value for {hint}: 'sigend' is not one of 'basic', 'signed', 'legacy' "
                             "(see loadgen ping --help)\n")


@pytest.mark.parametrize(("args", "message"), [
    (["cleanup", "nowhere"], "error: nowhere: no run folder here"),
    (["report", "nowhere"], "error: nowhere: no run folder here"),
    (["compare", "nowhere", "elsewhere"], "error: nowhere: no run folder here"),
    (["baseline", "save", "nowhere", "main"], "error: nowhere: no run folder here"),
    (["history", "add", "nowhere"], "error: nowhere: no run folder here"),
])
def test_a_missing_folder_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _loadgen(*args, cwd=tmp_path)
    assert proc.returncode == 2 and _one_error_line(proc) == message


@pytest.mark.parametrize("head", ["", "from loadgen.locust import CreateUser\n"])
def test_a_locustfile_with_a_syntax_error_is_one_line_naming_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head: str) -> None:
    """Before: "it does not use loadgen.locust" when the error came first, else Locust's "stopped without a result"
    after a sandbox and a run folder had been made."""
    (tmp_path / "broken.py").write_text(f"{head}\n\nclass U(CreateUser:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", "--locustfile", "broken.py", "--duration", "2s"], prog_name="loadgen")
    assert result.exit_code == 2
    line = 4 if head else 3
    assert result.output == f"error: --locustfile broken.py:{line}: syntax error: invalid syntax\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.py"]      # no sandbox, no run folder


def test_a_plain_locust_locustfile_is_refused_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("from locust import HttpUser, task\n\n\nclass Plain(HttpUser):\n"
                                       "    @task\n    def home(self) -> None:\n        self.client.get('/')\n")
    proc = _loadgen("run", "--locustfile", "plain.py", "--duration", "2s", cwd=tmp_path)
    assert proc.returncode == 2
    assert _one_error_line(proc).startswith("error: --locustfile plain.py: it does not use loadgen.locust")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.py"]      # no sandbox, no run folder


@pytest.mark.parametrize(("args", "message"), [
    (["--scenario", "create", "--create-rate", "0"], "--create-rate must be > 0: the create scenario would send "
                                                     "nothing"),
    (["--scenario", "bulk_create", "--bulk-rate", "0"], "--bulk-rate must be > 0: the bulk_create scenario would "
                                                        "send nothing"),
    (["--create-rate", "0", "--bulk-rate", "0"], "--create-rate or --bulk-rate must be > 0: the mixed scenario would "
                                                 "send nothing"),
    (["--max-records", "-1"], "--max-records must be >= 0, got -1"),
    (["--stages", "5s:0"], "--stages '5s:0' sends nothing: every stage's rate is 0"),
])
def test_run_errors_speak_flags(tmp_path: Path, args: list[str], message: str) -> None:
    length = [] if "--stages" in args else ["--duration", "5s"]   # the two together are refused on their own
    proc = _loadgen("run", *length, *args, cwd=tmp_path)
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert line == f"error: {message}"
    assert not re.search(r"\b(create_rate|bulk_rate|max_records|base_url)\b", line)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", sorted(SENDERS))
def test_every_command_that_sends_requests_has_the_same_url_and_auth_options(tmp_path: Path, command: str) -> None:
    shown = " ".join(_loadgen(command, "--help", cwd=tmp_path).stdout.split())
    assert "--auth [basic|signed|legacy]" in shown and "CAPTURE_AUTH" in shown
    assert "--url URL" in shown and "CAPTURE_URL" in shown
    assert "--capture-auth" not in shown     # the earlier name still works, unlisted


def test_fuzz_names_capture_url_when_it_would_write_there(tmp_path: Path) -> None:
    proc = _loadgen("fuzz", cwd=tmp_path, env={"CAPTURE_URL": "https://myapp.us.janraincapture.com"})
    assert proc.returncode == 2
    assert _one_error_line(proc) == ("error: fuzzing https://myapp.us.janraincapture.com (from CAPTURE_URL) creates "
                                     "records there (deleted at the end): add --allow-writes (or unset CAPTURE_URL to "
                                     "fuzz an embedded sandbox)")


def _credentials(sandbox: Sandbox, **more: str) -> dict[str, str]:
    return {"CAPTURE_CLIENT_ID": sandbox.client_id, "CAPTURE_CLIENT_SECRET": sandbox.client_secret, **more}


@pytest.mark.slow
def test_run_sends_to_capture_url_and_says_so(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    proc = _loadgen("run", "--scenario", "create", "--create-rate", "10", "--duration", "1s", "--run-id", "env",
                    "--auth", "legacy", cwd=tmp_path, env=_credentials(sandbox, CAPTURE_URL=sandbox.url), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"load: create against {sandbox.url} (from CAPTURE_URL) for 1s" in proc.stderr
    ledgered = read_ledger(tmp_path / "runs" / "env" / "ledger.jsonl").entries
    assert len(ledgered) == int(sandbox.stats()["records"]["user"]) == 10
    assert not (tmp_path / "runs" / "env" / "sandbox.db").exists()      # no embedded sandbox was started


def _ledgered_records(sandbox: Sandbox, run_dir: Path, n: int) -> None:
    """``n`` records created in ``sandbox`` and ledgered in ``run_dir`` as a plain Locust run leaves them."""
    records = ProfileFactory(default_schema(), seed=3, run_id="vocab", worker=0).batch(n)
    with CaptureClient(sandbox.url, make_auth("basic", sandbox.client_id, sandbox.client_secret),
                       type_name="user") as client:
        created = client.bulk_create(records).created
    ledger = Ledger(run_dir / "ledger", 0, type_name="user", key="email")
    for done, record in zip(created, records, strict=True):
        ledger.add(done.uuid, done.id, record["email"])
    ledger.close()


@pytest.mark.parametrize("auth", [["--auth", "basic"], ["--capture-auth", "signed"]])
def test_cleanup_of_a_folder_with_no_host_uses_capture_url(sandbox_factory: Callable[..., Sandbox], tmp_path: Path,
                                                           auth: list[str]) -> None:
    """CAPTURE_URL and CAPTURE_AUTH are read; a flag, the hidden --capture-auth too, beats the variable."""
    sandbox = sandbox_factory(legacy_auth=False)
    _ledgered_records(sandbox, tmp_path / "plain", 5)
    env = _credentials(sandbox, CAPTURE_URL=sandbox.url, CAPTURE_AUTH="legacy")
    refused = _loadgen("cleanup", "plain", "--rate", "1000", cwd=tmp_path, env=env)
    assert refused.returncode == 2, refused.stderr      # legacy from CAPTURE_AUTH, which this sandbox refuses
    assert _one_error_line(refused).startswith(f"error: preflight: {sandbox.url} refused the credentials")
    proc = _loadgen("cleanup", "plain", "--rate", "1000", *auth, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("deleted 5, skipped 0")
    assert int(sandbox.stats()["records"].get("user", 0)) == 0


def test_cleanup_prefers_the_runs_own_host_to_capture_url_and_says_so(sandbox_factory: Callable[..., Sandbox],
                                                                      tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    _ledgered_records(sandbox, tmp_path / "run", 3)
    write_meta(tmp_path / "run", Meta(run_id="run", scenario="create", host=sandbox.url, type_name="user",
                                      ledger_records=3))
    proc = _loadgen("cleanup", "run", "--rate", "1000", cwd=tmp_path,
                    env=_credentials(sandbox, CAPTURE_URL="https://elsewhere.janraincapture.com"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (f"note: CAPTURE_URL is not used: the run's records are on {sandbox.url} (meta.json); "
                           "--url overrides that\n")
    assert proc.stdout.startswith("deleted 3, skipped 0")


def test_compare_of_incompatible_runs_names_each_difference_with_its_values(tmp_path: Path) -> None:
    spec = SyntheticRun(duration_s=30, stall_at=None)
    write_synthetic_run(tmp_path / "a", spec)
    write_synthetic_run(tmp_path / "b", replace(spec, create_rate=80.0, seed=2))
    proc = _loadgen("compare", "a", "b", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        "baseline a  vs  run b",
        "incompatible: targets differ: create.records_per_s: baseline 33.3333, run 66.6667; "
        "create.requests_per_s: baseline 33.3333, run 66.6667",
        "incompatible: stages differ: baseline 10s:40/s 20s:40/s, run 10s:80/s 20s:80/s",
        "runs are incompatible: not compared (use --force to compare anyway)"]


@pytest.mark.slow
def test_fuzz_sends_with_the_auth_scheme_given(tmp_path: Path) -> None:
    proc = _loadgen("fuzz", "--auth", "legacy", "--max-examples", "1", "--seed", "0", cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "passed; repeat with: loadgen fuzz --seed 0 --max-examples 1 --auth legacy"

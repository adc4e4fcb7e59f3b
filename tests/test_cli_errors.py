"""Bad input at the command line: one line on stderr, exit code 2, nothing started and nothing left behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from loadgen.failures import Expected, Failure, write_failures

LOADGEN = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "loadgen")


def _loadgen(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LOADGEN, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
                          env=env)


@pytest.mark.parametrize(("flags", "message"), [
    (["--create-rate", "-1"], "--create-rate must be between"),
    (["--bulk-size", "0"], "--bulk-size must be between"),
    (["--malformed-share", "2"], "--malformed-share must be between"),
    (["--run-id", "../escape"], "--run-id '../escape'"),
    (["--threshold", "creat.p95<1s"], "unknown endpoint 'creat'"),
    (["--duration", "2x"], "bad duration '2x'"),
    (["--schema", str(Path(__file__).parent / "data" / "widget.schema.json")], "too short for unique values"),
    (["--abort-on-fail", "--threshold", "create.p99<1s"], "--abort-on-fail judges windowed gates"),
    (["--threshold", "create.p99[0s]<1s"], "a window is a whole number of seconds"),
    (["--stages", "10s:5", "--warmup", "10s"], "leaves nothing to measure"),
    (["--corpus", str(Path(__file__).parent / "data" / "widget.schema.json")],
     "--corpus feeds the bad requests of the error_path scenario; mixed sends none"),   # was silently dropped
    (["--bulk-size", "5000"], "the embedded sandbox takes at most 2000 records per bulkCreate"),
    (["--stages", "3s:10", "--duration", "5s"], "--duration 5s and --stages '3s:10' both set how long"),
])
def test_run_rejects_bad_options_before_starting_anything(tmp_path: Path, flags: list[str], message: str) -> None:
    length = [] if "--stages" in flags else ["--duration", "5s"]   # the two together are refused on their own
    proc = _loadgen("run", *length, "--out", "runs", *flags, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "escape").exists()


def test_fuzz_against_an_unreachable_domain_is_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CAPTURE_CLIENT_ID": "qa", "CAPTURE_CLIENT_SECRET": "s3cret-value-xyz"}
    proc = _loadgen("fuzz", "--url", "https://127.0.0.1:9", "--allow-writes", cwd=tmp_path, env=env)
    assert proc.returncode == 1  # a runtime failure, not a misuse
    assert proc.stderr.startswith("error: preflight: cannot reach https://127.0.0.1:9") and proc.stderr.count("\n") == 1
    assert "s3cret-value-xyz" not in proc.stderr + proc.stdout


def test_sandbox_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    proc = _loadgen("sandbox", "--port", "99999", cwd=tmp_path)
    assert proc.returncode == 2 and "99999 is not in the range" in proc.stderr


def test_an_out_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    proc = _loadgen("run", "--duration", "5s", "--out", str(tmp_path / "file" / "runs"), cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.startswith("error: --out ") and proc.stderr.count("\n") == 1


def test_cleanup_against_an_unreachable_url_fails_fast_in_one_line(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "ledger.jsonl").write_text('{"v": 2, "type": "user", "uuid": "4f0c9b2e-0000-4000-8000-000000000001", '
                                          '"id": 1, "key": null, "value": null, "time": 1.0, "worker": 0, "n": 1}\n',
                                          encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "CAPTURE_CLIENT_ID": "qa", "CAPTURE_CLIENT_SECRET": "s3cret-value-xyz"}
    proc = _loadgen("cleanup", str(run_dir), "--url", "http://127.0.0.1:9", cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: preflight: cannot reach http://127.0.0.1:9") and proc.stderr.count("\n") == 1
    assert "s3cret-value-xyz" not in proc.stderr + proc.stdout


def test_sandbox_schemas_of_one_type_name_are_a_usage_error(tmp_path: Path) -> None:
    """Two bare attr_defs lists given one --type-name would be one type: refused, not the last one kept."""
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text('[{"name": "email", "type": "string"}]', encoding="utf-8")
    proc = _loadgen("sandbox", "--db", ":memory:", "--schema", "a.json", "--schema", "b.json", "--type-name", "member",
                    cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == ("error: two --schema files define the entity type 'member': each type needs its own "
                           "name\n")


def _failures_file(path: Path) -> None:
    write_failures(path, [Failure(label="malformed attributes (entity.create)", operation="entity.create",
                                  form="type_name=user&attributes=%7B%22email%22%3ANaN%7D",
                                  expected=Expected(200, argument="attributes"), got="stat ok", status=200,
                                  answer='{"stat":"ok"}', url="http://127.0.0.1:1")])


OUTPUTS_AT_THE_END = [
    ["run", "--duration", "5s", "--out", "runs", "--history", "nightly"],
    ["fuzz", "--export-pytest", "blocked/test_x.py"],
    ["fuzz", "--junit", "blocked/junit.xml"],
    ["replay", "failures.jsonl", "--junit", "blocked/junit.xml"],
]


@pytest.mark.parametrize("command", OUTPUTS_AT_THE_END)
def test_an_output_written_at_the_end_is_checked_before_the_work(tmp_path: Path, command: list[str]) -> None:
    """A history database, a JUnit file or an exported test that cannot be written fails at once, not
    after a long run has been made for nothing."""
    (tmp_path / "blocked").write_text("a file where a folder should be", encoding="utf-8")
    _failures_file(tmp_path / "failures.jsonl")
    env = {"PATH": "/usr/bin:/bin", "LOADGEN_HISTORY": str(tmp_path / "blocked" / "history.db")}
    proc = _loadgen(*command, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "blocked" in proc.stderr, proc.stderr
    assert "cannot write: the folder blocked is a file, not a folder" in proc.stderr.replace(f"{tmp_path}/", ""), \
        proc.stderr
    assert proc.stderr.count("\n") == 1 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", [*OUTPUTS_AT_THE_END, ["generate", "-n", "3", "-o", "blocked/users.jsonl"],
                                     ["compare", "a", "b", "--junit", "blocked/c.xml"],
                                     ["history", "check", "main", "--junit", "blocked/h.xml"]])
def test_an_output_into_a_folder_that_does_not_exist_is_refused_not_made(tmp_path: Path, command: list[str]) -> None:
    """A typo in an output path (``-o /nonexistent/dir/x.jsonl``) built that tree of folders; like ``cp`` and
    ``curl -o``, the folder must exist (only the tool's own ``runs/`` and ``./baselines`` are made)."""
    _failures_file(tmp_path / "failures.jsonl")
    env = {"PATH": "/usr/bin:/bin", "LOADGEN_HISTORY": str(tmp_path / "blocked" / "history.db")}
    proc = _loadgen(*command, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write: the folder" in proc.stderr and "blocked does not exist" in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "blocked").exists() and not (tmp_path / "runs").exists()


def test_replay_against_a_url_nobody_listens_on_is_a_tool_error_not_a_verdict(tmp_path: Path) -> None:
    """Connection refused says nothing about the failure: one line, no STILL FAILING."""
    _failures_file(tmp_path / "failures.jsonl")
    env = {"PATH": "/usr/bin:/bin", "CAPTURE_CLIENT_ID": "qa", "CAPTURE_CLIENT_SECRET": "s3cret-value-xyz"}
    proc = _loadgen("replay", "failures.jsonl", cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == "error: entity.create: cannot connect to http://127.0.0.1:1: ConnectError\n"
    assert "STILL FAILING" not in proc.stdout and "s3cret-value-xyz" not in proc.stdout + proc.stderr

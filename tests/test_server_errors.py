"""A server that answers some 500s (the sandbox's error-rate fault): short answers, retried reads, no flaky noise."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loadgen import retry as retry_module
from loadgen.errors import RuntimeFailure
from loadgen.preflight import preflight
from loadgen.runner import RunOptions, run
from loadgen.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]


def test_fuzz_names_the_properties_that_saw_server_errors_in_a_few_lines(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    flaky = sandbox_factory(faults={"error_rate": 0.15})
    env = {**os.environ, "CAPTURE_CLIENT_ID": flaky.client_id, "CAPTURE_CLIENT_SECRET": flaky.client_secret}
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "loadgen"), "fuzz", "--url", flaky.url, "--allow-writes",
                           "--max-examples", "10", "--seed", "3"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=240, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Flaky" not in out and "Traceback" not in out and "During handling" not in out
    assert len(out.splitlines()) < 60, out   # the coverage table (what the fuzzers exercised) is about 12
    rows = [line for line in out.splitlines() if line.endswith("SERVER ERROR")]
    assert rows, out                                   # the properties that saw one, by name
    answers = [line for line in out.splitlines() if line.startswith("    server answer: /entity")]
    assert len(answers) == len(rows) and all('"code":500' in line and "HTTP 200" in line for line in answers)
    assert "0 could not be deleted" in out             # the records they created are still cleaned up


def test_preflight_retries_transient_server_errors(sandbox_factory: Callable[..., Sandbox],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = sandbox_factory(faults={"error_rate": 0.5})
    monkeypatch.setattr(retry_module, "TRANSIENT_ATTEMPTS", 30)     # 2 reads failing 30 times in a row: never
    monkeypatch.setattr(retry_module, "TRANSIENT_BACKOFF", 0.001)
    for _ in range(5):
        assert preflight(flaky.url, flaky.client_id, flaky.client_secret, scheme="basic", type_name="user",
                         insecure=False) == 0


def test_preflight_gives_up_after_a_few_tries_in_one_line_quoting_the_answer(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = sandbox_factory(faults={"error_rate": 1.0, "error_code": 504})
    monkeypatch.setenv("CAPTURE_CLIENT_ID", broken.client_id)
    monkeypatch.setenv("CAPTURE_CLIENT_SECRET", broken.client_secret)
    started = time.monotonic()
    with pytest.raises(RuntimeFailure) as error:
        run(RunOptions(url=broken.url, duration=5, out=tmp_path, run_id="broken"))
    message = str(error.value)
    assert message.startswith(f"preflight: {broken.url} answered a server error 4 times in a row, the last: "
                              "504 timeout: the API call timed out (sandbox fault)"), message
    assert "\n" not in message and broken.client_secret not in message
    assert 3.4 < time.monotonic() - started < 20           # 0.5 + 1 + 2 s of backoff
    assert not list(tmp_path.iterdir())

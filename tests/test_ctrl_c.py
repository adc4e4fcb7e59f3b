"""Ctrl-C in the middle of `loadgen generate` and `loadgen fuzz`: exit 130, one clear line, nothing lost.

Each command runs in its own process group, and the SIGINT goes to the whole group, as a terminal sends it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loadgen.conformance import suite_args
from loadgen.sandbox import Sandbox

LOADGEN = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "loadgen")


def _start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``loadgen ARGS`` run by this interpreter (so also from a checkout whose .venv is elsewhere)."""
    return subprocess.Popen([sys.executable, "-c", "from loadgen.cli import main; main()", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_generate_leaves_a_well_formed_file_of_whole_profiles(tmp_path: Path, jobs: str) -> None:
    """With 2 jobs the workers write into the file themselves: what a later chunk wrote before an earlier
    one was done is cut away, and the array is closed after the last whole chunk (so the file's size
    shows how far the workers got, not what is whole: Ctrl-C waits for several chunks' worth)."""
    out = tmp_path / "users.json"
    proc = _start("generate", "--count", "10000000", "--format", "json", "--output", str(out), "--jobs", jobs,
                  cwd=tmp_path)
    deadline = time.monotonic() + 30
    while (not out.exists() or out.stat().st_size < 5_000_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip() == f"interrupted: {out} holds the profiles written before Ctrl-C"
    profiles = json.loads(out.read_text(encoding="utf-8"))
    assert 100 < len(profiles) < 10_000_000 and all("@" in p["email"] for p in profiles)


def test_ctrl_c_while_a_chunk_waits_on_a_slow_reader_still_writes_it_whole(tmp_path: Path) -> None:
    """The pipe is full after the reader's first 64 KB, so the Ctrl-C lands in the middle of the first chunk's
    write: it is raised once the chunk is written (before, the array ended in the middle of a profile)."""
    with _start("generate", "--count", "1000000", "--format", "json", cwd=tmp_path) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.read(1000)
        time.sleep(0.5)   # the writer blocks on the full pipe, inside the first chunk
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.stdout.read()   # through the same reader (communicate reads the pipe, not what it holds)
        assert proc.wait(timeout=60) == 130, proc.stderr.read()
    profiles = json.loads(first + rest)
    assert len(profiles) == 1000 and all("@" in p["email"] for p in profiles)


def test_ctrl_c_that_also_ends_the_reader_is_still_an_interruption(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches ``loadgen generate`` and the reader of its pipe: the broken pipe of the
    closing ``]`` hid the Ctrl-C (exit 0, as for ``| head``, which has all it wanted)."""
    read, write = os.pipe()
    with subprocess.Popen([sys.executable, "-c", "from loadgen.cli import main; main()", "generate", "--count",
                           "10000000", "--format", "json"], cwd=tmp_path, stdout=write, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as proc:
        os.close(write)
        os.read(read, 1000)
        time.sleep(0.5)    # blocked on the full pipe
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.2)
        os.close(read)     # the reader is gone too
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err


def test_fuzz_stops_between_requests_and_deletes_what_it_created(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    env = {**os.environ, "CAPTURE_CLIENT_ID": sandbox.client_id, "CAPTURE_CLIENT_SECRET": sandbox.client_secret}
    proc = _start("fuzz", "--url", sandbox.url, "--allow-writes", "--max-examples", "500", "--seed", "1",
                  cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    while int(sandbox.stats()["records"].get("user", 0)) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    rows = [line for line in out.splitlines() if line.rstrip().endswith("interrupted")]
    assert len(rows) == 1 and "FAILED" not in out, out[-3000:]
    created = int(out.split("the fuzzers created ")[1].split(" records")[0])
    assert created >= 5 and " 0 could not be deleted" in out, out[-2000:]
    assert int(sandbox.stats()["records"].get("user", 0)) == 0
    assert out.rstrip().splitlines()[-1].startswith("interrupted; repeat with: loadgen fuzz --seed 1")
    # pytest's "!!! KeyboardInterrupt !!!" banner and the line that raised it were printed once
    for shown in ("KeyboardInterrupt", "Traceback", "fuzzer.py", "!!!"):
        assert shown not in out + err, (out + err)[-3000:]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the child in Linux's /proc")
def test_fuzz_ctrl_c_while_its_pytest_starts_is_kept_for_the_first_property(tmp_path: Path) -> None:
    """A Ctrl-C while the child loads pytest's plugins and starts the sandbox printed a traceback (the
    interpreter's or pytest's banner): the child now ignores it until a property listens, and the parent
    says it again every second, so the run stops at the first property, without a traceback."""
    proc = _start("fuzz", "--max-examples", "5000", "--seed", "1", cwd=tmp_path)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 30
    while not (child := children.read_text().split()) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    started = time.monotonic()
    try:
        out, err = proc.communicate(timeout=120)
    finally:   # in a session of its own: a failed test must not leave it fuzzing
        for pid in child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    assert time.monotonic() - started < 60   # 5,000 examples per property would take many minutes
    rows = [line.split()[-1] for line in out.splitlines() if line.startswith(("malformed", "schema", "valid", "store"))]
    assert rows and rows[0] == "interrupted" and set(rows[1:]) <= {"not", "run"} | {"interrupted"}, out[-3000:]
    assert out.rstrip().splitlines()[-1].startswith("interrupted; repeat with: loadgen fuzz --seed 1")
    for shown in ("KeyboardInterrupt", "Traceback", "!!!"):
        assert shown not in out + err, (out + err)[-3000:]


def test_ctrl_c_ends_the_plugins_properties_as_interrupted_without_a_traceback(
        sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    """The plugin run alone (no ``loadgen fuzz`` around it): exit status "interrupted" (2), never a pass."""
    sandbox = sandbox_factory()
    env = {**os.environ, "CAPTURE_CLIENT_ID": sandbox.client_id, "CAPTURE_CLIENT_SECRET": sandbox.client_secret}
    args = suite_args(url=sandbox.url, allow_writes=True, max_examples=5000, seed=1)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args, "-q"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while int(sandbox.stats()["requests"].get("entity.create", 0)) < 20 and time.monotonic() < deadline:
        time.sleep(0.1)     # the first property is under way
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, (out + err)[-3000:]
    assert "malformed attributes (entity.create)" in out and "interrupted" in out
    for shown in ("KeyboardInterrupt", "Traceback", "fuzzer.py", "!!!"):
        assert shown not in out + err, (out + err)[-3000:]


def _waiting_parent(on_sigint: str, grace: float) -> subprocess.Popen[str]:
    """A process in ``wait_child`` on a child (own session) whose SIGINT handler is ``on_sigint``; it prints
    ``waiting`` from inside the wait, then the result."""
    child = ("import signal, sys, time\n"
             f"signal.signal(signal.SIGINT, {on_sigint})\n"
             "print('ready', flush=True)\n"
             "time.sleep(60)\n")
    script = ("import subprocess, sys\n"
              "from loadgen.child import wait_child\n"
              "def start():\n"
              f"    child = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE,"
              " start_new_session=True)\n"
              "    child.stdout.readline()\n"
              "    return child\n"
              f"print(wait_child(start, grace={grace}, tick=lambda: print('waiting', flush=True)), flush=True)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None and parent.stdout.readline().strip() == "waiting"
    return parent


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_reaches_a_child_in_its_own_session_once_as_ctrl_c(sig: signal.Signals) -> None:
    """``wait_child`` (run's Locust, fuzz's pytest): a SIGTERM or a closed terminal stops the child cleanly too."""
    with _waiting_parent("lambda *_: sys.exit(7)", grace=10) as parent:
        parent.send_signal(sig)
        out, _ = parent.communicate(timeout=30)
    assert out.strip().splitlines()[-1] == "(7, True)" and parent.returncode == 0


def test_a_second_ctrl_c_only_warns_and_a_third_gives_up_on_the_child() -> None:
    with _waiting_parent("signal.SIG_IGN", grace=60) as parent:   # a child slow to stop cleanly
        assert parent.stderr is not None
        parent.send_signal(signal.SIGINT)
        assert parent.stderr.readline() == "\n"
        assert parent.stderr.readline().startswith("stopping cleanly: in-flight requests get their answers")
        parent.send_signal(signal.SIGINT)
        assert "Ctrl-C again abandons the in-flight requests" in parent.stderr.readline()
        started = time.monotonic()
        parent.send_signal(signal.SIGINT)
        out, _ = parent.communicate(timeout=30)
    assert out.strip().splitlines()[-1] == f"({-signal.SIGTERM}, True)" and time.monotonic() - started < 10


def test_ctrl_c_during_a_prefill_says_what_was_seeded_and_cleanup_removes_it(tmp_path: Path) -> None:
    """meta.json is written before the prefill, so the records it seeded are cleaned up from the folder."""
    proc = subprocess.Popen([LOADGEN, "run", "--duration", "10s", "--prefill", "3000", "--prefill-rate", "4",
                             "--out", str(tmp_path), "--run-id", "cut"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    folder = tmp_path / "cut"
    deadline = time.monotonic() + 60
    while not (folder / "ledger").exists() and time.monotonic() < deadline:   # the prefill has begun
        time.sleep(0.2)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    line = next(line for line in out.splitlines() if "--prefill: interrupted after" in line)
    seeded = int(line.split("after ")[1].split()[0])
    assert seeded > 0 and f"loadgen cleanup {folder} removes them" in line
    cleaned = subprocess.run([LOADGEN, "cleanup", str(folder)], capture_output=True, text=True, timeout=120,
                             check=False)
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"deleted {seeded:,}" in cleaned.stdout + cleaned.stderr

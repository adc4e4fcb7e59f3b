"""Starting and stopping: serve() in a thread and a process, and the ``loadgen sandbox`` command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from loadgen.errors import RuntimeFailure
from loadgen.sandbox import Sandbox, serve
from loadgen.schema import load_schema

LOADGEN = str(Path(sys.executable).with_name("loadgen"))


def test_serve_in_a_process_keeps_the_file(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with serve(db=db, process=True) as sb:
        assert sb.pid is not None and sb.pid != os.getpid()
        body = httpx.post(f"{sb.url}/entity.create", data={"type_name": "user", "attributes": '{"email": "p@x.com"}'},
                          auth=(sb.client_id, sb.client_secret)).json()
        assert body["stat"] == "ok"
        assert "secret" not in repr(sb) and sb.client_secret not in repr(sb)
    with serve(db=db) as sb2:
        assert sb2.stats()["records"]["user"] == 1


def test_a_sandbox_process_ignores_the_terminals_ctrl_c_and_stops_with_its_parent(tmp_path: Path) -> None:
    """Own session: a Ctrl-C to the parent's group leaves it answering; a parent killed with -9 takes it along."""
    code = ("import time\nfrom loadgen.sandbox import serve\n"
            f"with serve(db={str(tmp_path / 's.db')!r}, process=True) as sb:\n"
            "    print(sb.pid, sb.url, flush=True)\n    time.sleep(120)\n")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                          start_new_session=True) as parent:
        assert parent.stdout is not None
        pid_text, url = parent.stdout.readline().split()
        pid = int(pid_text)
        assert os.getsid(pid) == pid != os.getsid(parent.pid)
        parent.send_signal(signal.SIGSTOP)                 # the parent cannot stop it meanwhile
        os.killpg(parent.pid, signal.SIGINT)               # what a terminal's Ctrl-C sends to the parent's group
        time.sleep(0.5)
        assert httpx.get(f"{url}/_sandbox/stats", timeout=5).status_code == 200
        parent.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:   # gone: nobody listens (a dead, unreaped process may linger as a zombie)
        try:
            httpx.get(f"{url}/_sandbox/stats", timeout=1)
        except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):   # refused, or reset as it died
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the sandbox outlived its parent")


def test_serve_with_another_schema_and_busy_port(sandbox: Sandbox) -> None:
    schema = load_schema({"name": "pet", "attr_defs": [{"name": "tag", "type": "string", "length": 8,
                                                        "constraints": ["unique"], "case-sensitive": True}]})
    with serve(schema=schema) as sb:
        auth = (sb.client_id, sb.client_secret)
        call = {"type_name": "pet", "attributes": '{"tag": "Rex"}'}
        assert httpx.post(f"{sb.url}/entity.create", data=call, auth=auth).json()["stat"] == "ok"
        other = {"type_name": "pet", "attributes": '{"tag": "rex"}'}   # case-sensitive: not a duplicate
        assert httpx.post(f"{sb.url}/entity.create", data=other, auth=auth).json()["stat"] == "ok"
        assert httpx.post(f"{sb.url}/entity.create", data=call, auth=auth).json()["code"] == 361
        assert httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"}, auth=auth).json()["code"] == 222
    port = int(sandbox.url.rsplit(":", 1)[1])
    with pytest.raises(RuntimeFailure, match="cannot listen"), serve(port=port):
        pass


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], list[str], float]:
    start = time.monotonic()
    proc = subprocess.Popen([LOADGEN, "sandbox", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while not any(line.startswith(("client_secret:", "clients:")) for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc, lines, time.monotonic() - start


def _stop(proc: subprocess.Popen[str]) -> str:
    """Ctrl-C the server and return the rest of its output; never leave it running."""
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return out


def _client(lines: list[str]) -> tuple[str, str]:
    found = dict(line.strip().split(": ", 1) for line in lines if line.startswith(("client_id:", "client_secret:")))
    return found["client_id"], found["client_secret"]


def test_cli_starts_fast_prints_the_demo_client_and_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    proc, lines, elapsed = _start_cli("--db", str(db))
    try:
        url = re.search(r"sandbox: (http://[\d.]+:\d+)", "".join(lines))
        assert url is not None
        client_id, secret = _client(lines)
        deadline = time.monotonic() + 5
        while True:
            try:
                body = httpx.post(f"{url.group(1)}/entity.count", data={"type_name": "user"},
                                  auth=(client_id, secret)).json()
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        assert body["stat"] == "ok"
        assert elapsed < 2.0
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert "sandbox: stopped" in out
    again, lines2, _ = _start_cli("--db", str(db))      # same client at the next start
    _stop(again)
    assert _client(lines2) == (client_id, secret)


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "clients.toml"
    bad.write_text("[[client]]\nid = 'x'\n")
    result = subprocess.run([LOADGEN, "sandbox", "--clients", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "secret" in result.stderr
    result = subprocess.run([LOADGEN, "sandbox", "--latency", "soon", "--db", ":memory:"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and "latency" in result.stderr
    not_a_db = tmp_path / "junk.db"
    not_a_db.write_bytes(b"this is not SQLite " * 10)
    for db in [str(not_a_db), str(tmp_path / "missing" / "dir" / "x.db")]:
        result = subprocess.run([LOADGEN, "sandbox", "--db", db, "--port", "0"], capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 2 and result.stderr.startswith(f"error: --db {db}:"), result.stderr

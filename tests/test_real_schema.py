"""The shipped default schema is the real classic ``user`` type, end to end over real HTTP.

Janrain's own bulk loader lost 127 of 300 sample records against a sandbox whose lengths were guesses
(``primaryAddress.zip`` 32, the real one is 100): what the factory makes for the real schema must be
stored by the sandbox and read back unchanged.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from loadgen.auth import make_auth
from loadgen.client import CaptureClient
from loadgen.profiles import Profile, ProfileFactory
from loadgen.sandbox import Sandbox, SandboxConfig
from loadgen.schema import SYSTEM_ATTRIBUTES, default_schema, normalize, validate

SHIPPED = Path(__file__).resolve().parent.parent / "profiles" / "user.schema.json"
TODAY = date(2026, 6, 1)


def test_the_shipped_schema_is_the_reference_as_janrain_ships_it() -> None:
    body = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert body["stat"] == "ok" and body["schema"]["name"] == "user"
    defs = {d["name"]: d for d in body["schema"]["attr_defs"]}
    assert defs["email"]["constraints"] == ["unique"] and defs["email"]["length"] == 256
    zip_def = next(d for d in defs["primaryAddress"]["attr_defs"] if d["name"] == "zip")
    assert zip_def["length"] == 100


def _stored(value: Any) -> Any:
    """A read-back value without what the server adds: nulls, empty plurals and objects, element ids."""
    if isinstance(value, dict):
        out = {k: _stored(v) for k, v in value.items() if k != "id"}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def test_2000_real_schema_profiles_round_trip_through_the_sandbox(sandbox: Sandbox) -> None:
    schema = default_schema()
    profile = Profile(plurals={**Profile().plurals, "profiles": (0, 1)})  # the deep plural too
    records = ProfileFactory(schema, profile, seed=5, run_id="roundtrip", today=TODAY).batch(2000)
    assert all(validate(r, schema) == [] for r in records)
    assert any(r.get("profiles") for r in records) and any("profiles" not in r for r in records)
    sandbox.reset()
    auth = make_auth("basic", sandbox.client_id, sandbox.client_secret)
    with CaptureClient(sandbox.url, auth, timeout=60) as client:
        results = list(client.bulk_create_all(records, batch_size=SandboxConfig().max_batch))
        assert [f for r in results for f in r.failed] == []
        uuids = [c.uuid for r in results for c in r.created]
        assert len(uuids) == len(records)
        stored = {r["uuid"]: r for r in client.find(page_size=1000)}
    assert len(stored) == len(records)
    for uuid, record in zip(uuids, records, strict=True):
        expected = {k: v for k, v in normalize(record, schema).items() if k != "password"}
        back = {k: v for k, v in stored[uuid].items() if k not in SYSTEM_ATTRIBUTES and k != "password"}
        assert _stored(back) == expected, uuid


def test_the_sandbox_serves_a_bare_attr_defs_list_under_its_type_name(tmp_path: Path) -> None:
    """``loadgen sandbox --schema`` takes the list an SDK keeps; the type is --type-name, else the file name."""
    (tmp_path / "member.schema.json").write_text(json.dumps(json.loads(SHIPPED.read_text())["schema"]["attr_defs"]))
    loadgen = str(Path(sys.executable).parent / "loadgen")
    for extra, name in (([], "member"), (["--type-name", "person"], "person")):
        proc = subprocess.Popen([loadgen, "sandbox", "--port", "0", "--db", ":memory:", "--schema",
                                 "member.schema.json", *extra], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            while len(lines) < 10 and not (lines and lines[-1].startswith(("sandbox:", "error:"))):
                lines.append(proc.stdout.readline())  # uvicorn's own lines come first; "" if it exited
                if not lines[-1]:
                    break
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
        banner = lines[-1].rstrip()
        assert banner.startswith("sandbox: http://127.0.0.1:") and banner.endswith(f"types: {name}"), lines

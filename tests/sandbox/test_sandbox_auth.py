"""Authentication and permissions over real HTTP: Basic, janrain-signed, legacy form credentials."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadgen import signing
from loadgen.errors import UsageError
from loadgen.sandbox import ClientSpec, Sandbox, load_clients
from loadgen.sandbox.auth import PERMISSIONS

Factory = Callable[..., Sandbox]
PARAMS = {"type_name": "user", "param3": "one=1\ntwo=2,three=3", "b": "10"}


def _signed_post(sb: Sandbox, path: str, params: dict[str, str], *, secret: str | None = None,
                 when: datetime | None = None, sort_keys: bool = False, trailing: bool = False) -> dict[str, Any]:
    date = (when or datetime.now(UTC)).strftime(signing.SIGNED_DATE_FORMAT)
    sig = signing.signature(secret or sb.client_secret, path, date, params, sort_keys=sort_keys,
                         trailing_newline=trailing)
    headers = {"Date": date, "Authorization": f"Signature {sb.client_id}:{sig}"}
    response = httpx.post(sb.url + path, data=params, headers=headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_basic_auth(sandbox: Sandbox) -> None:
    ok = httpx.post(f"{sandbox.url}/entityType", data={"type_name": "user"},
                    auth=(sandbox.client_id, sandbox.client_secret)).json()
    assert ok["stat"] == "ok"
    for auth in [(sandbox.client_id, "wrong"), ("nobody", sandbox.client_secret)]:
        assert httpx.post(f"{sandbox.url}/entityType", data={"type_name": "user"}, auth=auth).json()["code"] == 402
    for header in ["Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode()]:
        body = httpx.post(f"{sandbox.url}/entityType", data={"type_name": "user"},
                          headers={"Authorization": header}).json()
        assert body["code"] == 402


def test_signed_auth_accepts_both_sort_orders_and_empty_forms(sandbox: Sandbox) -> None:
    # keys sorted vs k=v strings sorted differ here: "b=10" vs "b2=..." ordering
    params = {"type_name": "user", "b": "1", "b2": "2", "b=": "3"}
    for sort_keys in (False, True):
        assert _signed_post(sandbox, "/entityType", params, sort_keys=sort_keys)["stat"] == "ok"
    for trailing in (False, True):
        date = datetime.now(UTC).strftime(signing.SIGNED_DATE_FORMAT)
        sig = signing.signature(sandbox.client_secret, "/entity.count", date, {"type_name": "user"},
                             trailing_newline=trailing)
        body = httpx.get(f"{sandbox.url}/entity.count", params={"type_name": "user"},
                         headers={"Date": date, "Authorization": f"Signature {sandbox.client_id}:{sig}"}).json()
        assert body["stat"] == "ok"
    # an empty parameter list, both forms: the call then fails on parameters, not on auth
    for trailing in (False, True):
        body = _signed_post(sandbox, "/entityType", {}, trailing=trailing)
        assert body["code"] == 100


def test_signed_auth_rejects_bad_signature_date_and_skew(sandbox: Sandbox) -> None:
    assert _signed_post(sandbox, "/entityType", PARAMS, secret="wrong")["code"] == 402
    old = datetime.now(UTC) - timedelta(minutes=16)
    assert _signed_post(sandbox, "/entityType", PARAMS, when=old)["code"] == 402
    near = datetime.now(UTC) + timedelta(minutes=14)
    assert _signed_post(sandbox, "/entityType", PARAMS, when=near)["stat"] == "ok"
    # tampering with a signed parameter breaks the signature
    date = datetime.now(UTC).strftime(signing.SIGNED_DATE_FORMAT)
    sig = signing.signature(sandbox.client_secret, "/entityType", date, PARAMS)
    tampered = {**PARAMS, "b": "11"}
    headers = {"Date": date, "Authorization": f"Signature {sandbox.client_id}:{sig}"}
    assert httpx.post(f"{sandbox.url}/entityType", data=tampered, headers=headers).json()["code"] == 402
    no_date = {"Authorization": f"Signature {sandbox.client_id}:{sig}"}
    assert httpx.post(f"{sandbox.url}/entityType", data=PARAMS, headers=no_date).json()["code"] == 402


def test_skew_is_configurable(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(skew=60)
    assert _signed_post(sb, "/entityType", PARAMS, when=datetime.now(UTC) - timedelta(minutes=2))["code"] == 402
    assert _signed_post(sb, "/entityType", PARAMS)["stat"] == "ok"


def test_other_scheme_is_205_and_missing_credentials_402(sandbox: Sandbox) -> None:
    body = httpx.post(f"{sandbox.url}/entityType", data={"type_name": "user"},
                      headers={"Authorization": "Bearer abc"}).json()
    assert body["code"] == 205 and body["error"] == "invalid_auth_method"
    assert httpx.post(f"{sandbox.url}/entityType", data={"type_name": "user"}).json()["code"] == 402


def test_legacy_credentials_switch(sandbox: Sandbox, sandbox_factory: Factory) -> None:
    form = {"type_name": "user", "client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    assert httpx.post(f"{sandbox.url}/entityType", data=form).json()["stat"] == "ok"
    assert httpx.post(f"{sandbox.url}/entityType", data={**form, "client_secret": "x"}).json()["code"] == 402
    off = sandbox_factory(legacy_auth=False)
    form = {"type_name": "user", "client_id": off.client_id, "client_secret": off.client_secret}
    assert httpx.post(f"{off.url}/entityType", data=form).json()["code"] == 205


@pytest.mark.parametrize("feature", ["owner", "direct_access", "direct_read_access", "access_issuer",
                                     "login_client"])
def test_permission_table(sandbox_factory: Factory, feature: str) -> None:
    sb = sandbox_factory(clients=(ClientSpec("c1", "s1", frozenset({feature})),))
    assert sb.client_id == "c1"
    writes = feature in ("owner", "direct_access")
    reads = writes or feature == "direct_read_access"
    for op, allowed in PERMISSIONS.items():
        body = httpx.post(f"{sb.url}/{op}", data={"type_name": "user"}, auth=("c1", "s1")).json()
        may = feature in allowed
        assert may == ((op == "entityType") or (reads if op in ("entity", "entity.find", "entity.count")
                                                 else writes))
        if may:
            assert body.get("code") != 403, (op, body)
        else:
            assert body["code"] == 403 and body["error"] == "client_permission_error", (op, body)


def test_clients_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_factory: Factory) -> None:
    path = tmp_path / "clients.toml"
    path.write_text('[faults]\nread_lag = 0.5\n\n[[client]]\nid = "w"\nsecret_env = "W_SECRET"\n'
                    'features = ["owner"]\n\n[[client]]\nid = "r"\nsecret = "rs"\nfeatures = ["direct_read_access"]\n'
                    '[client.faults]\nconcurrency_limit = 3\n')
    monkeypatch.setenv("W_SECRET", "ws")
    clients, faults = load_clients(path)
    assert [c.client_id for c in clients] == ["w", "r"] and faults is not None and faults.read_lag == 0.5
    assert clients[1].faults is not None and clients[1].faults.concurrency_limit == 3
    assert "ws" not in repr(clients) and "rs" not in repr(clients)
    sb = sandbox_factory(clients=clients)
    assert httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"}, auth=("r", "rs")).json()["stat"] == "ok"
    body = httpx.post(f"{sb.url}/entity.create", data={"type_name": "user", "attributes": "{}"},
                      auth=("r", "rs")).json()
    assert body["code"] == 403
    for text, message in [("[[client]]\nid = 'x'\n", "secret"), ("nonsense", "TOML"),
                          ("[[client]]\nid='x'\nsecret='y'\nfeatures=['root']\n", "root"),
                          ("[[client]]\nid='x'\nsecret='y'\n[client.faults]\nerror_rate = 2\n", "error_rate")]:
        path.write_text(text)
        with pytest.raises(UsageError, match=message):
            load_clients(path)


def _janrain_style_call(sb: Sandbox, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """A signer written from janrain-python-api's algorithm, independently of ``loadgen.wire``:
    JSON-encode non-string values, booleans as true/false, sign the sorted k=v lines with HMAC-SHA1."""
    import hashlib
    import hmac
    import json

    form = {k: (("true" if v else "false") if isinstance(v, bool) else v if isinstance(v, str) else json.dumps(v))
            for k, v in params.items()}
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = path + "\n" + date + "\n" + "".join(sorted(f"{k}={v}\n" for k, v in form.items()))
    digest = hmac.new(sb.client_secret.encode(), text.encode(), hashlib.sha1).digest()
    headers = {"Date": date, "Authorization": f"Signature {sb.client_id}:{base64.b64encode(digest).decode()}"}
    response = httpx.post(sb.url + path, data=form, headers=headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_a_dataload_style_session(sandbox: Sandbox) -> None:
    """What Janrain's bulk loader does: signed bulkCreate, per-record failures read off uuid_results,
    count at the end, delete by uuid to roll back."""
    sandbox.reset()
    batch = [{"email": "dl1@x.com", "givenName": "A", "birthday": "1881-01-29 00:00:00"},
             {"email": "DL1@x.com"}, {"email": "dl2@x.com", "emailVerified": "2015-12-15T07:36:25Z"}]
    body = _janrain_style_call(sandbox, "/entity.bulkCreate", {"type_name": "user", "all_attributes": batch})
    failed = [r for r in body["uuid_results"] if isinstance(r, dict) and r["stat"] == "error"]
    created = [u for u in body["uuid_results"] if isinstance(u, str)]
    assert len(failed) == 1 and failed[0]["code"] == 361 and len(created) == 2
    assert _janrain_style_call(sandbox, "/entity.count", {"type_name": "user"})["total_count"] == 2
    found = _janrain_style_call(sandbox, "/entity.find", {"type_name": "user", "filter": "email = 'dl2@x.com'"})
    assert found["results"][0]["emailVerified"] == "2015-12-15 07:36:25 +0000"  # no fraction sent, none back
    update = {"type_name": "user", "uuid": created[0], "attributes": {"familyName": "Z"}, "include_record": True}
    assert _janrain_style_call(sandbox, "/entity.update", update)["stat"] == "ok"
    for uuid in created:
        assert _janrain_style_call(sandbox, "/entity.delete", {"type_name": "user", "uuid": uuid})["stat"] == "ok"
    assert _janrain_style_call(sandbox, "/entity.count", {"type_name": "user"})["total_count"] == 0

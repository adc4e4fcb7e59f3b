"""The client against the real sandbox over real HTTP on 127.0.0.1, with every auth scheme."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from typing import Any

import pytest

from loadgen.auth import make_auth
from loadgen.client import AsyncCaptureClient, CaptureClient, Created, Retry
from loadgen.errors import AuthError, CaptureError, NotFoundError, RateLimitError
from loadgen.sandbox import Sandbox

SCHEMES = ["basic", "signed", "legacy"]


def client_for(sandbox: Sandbox, scheme: str = "basic", **kwargs: Any) -> CaptureClient:
    return CaptureClient(sandbox.url, make_auth(scheme, sandbox.client_id, sandbox.client_secret), **kwargs)


def people(n: int, tag: str) -> list[dict[str, Any]]:
    return [{"email": f"{tag}.{i}@example.com", "givenName": f"Given{i}", "familyName": "Sandbox"}
            for i in range(n)]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_full_cycle_with_each_auth_scheme(sandbox: Sandbox, scheme: str) -> None:
    sandbox.reset()
    with client_for(sandbox, scheme) as client:
        created = client.create({"email": f"{scheme}@example.com", "givenName": "Ada"}, include_record=True)
        assert created.record is not None and created.record["givenName"] == "Ada"
        assert client.entity(uuid=created.uuid)["id"] == created.id
        assert client.entity(key=("email", f"{scheme}@example.com"))["uuid"] == created.uuid

        batch = people(4, scheme)
        batch.insert(2, {"email": f"{scheme}.0@EXAMPLE.com"})  # duplicate (case-insensitive) inside the batch
        result = client.bulk_create(batch)
        assert [type(o) for o in result.outcomes] == [Created, Created, CaptureError, Created, Created]
        [(position, error)] = result.failed
        assert (position, error.code, error.attribute_name) == (2, 361, "/email")

        assert client.count() == 5
        assert client.count(f"email = '{scheme}.1@example.com'") == 1
        found = list(client.find(page_size=2))
        assert [r["id"] for r in found] == sorted(r["id"] for r in found)
        assert {r["uuid"] for r in found} == {created.uuid} | {c.uuid for c in result.created}

        client.delete(uuid=created.uuid)
        with pytest.raises(NotFoundError):
            client.entity(uuid=created.uuid)
        assert client.count() == 4
    assert sandbox.stats()["records"]["user"] == 4


@pytest.mark.parametrize("scheme", SCHEMES)
def test_bad_credentials_raise_auth_error(sandbox: Sandbox, scheme: str) -> None:
    auth = make_auth(scheme, sandbox.client_id, sandbox.client_secret + "-wrong")
    with CaptureClient(sandbox.url, auth) as client, pytest.raises(AuthError) as info:
        client.count()
    assert info.value.code == 402 and info.value.http_status == 200
    assert len(info.value.request_id or "") == 16


def test_no_secret_in_messages_or_logs_over_real_http(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts = []
    for scheme in SCHEMES:
        with client_for(sandbox, scheme) as client:
            client.count()
            texts.append(repr(client))
        bad = make_auth(scheme, sandbox.client_id, sandbox.client_secret + "-wrong")
        with CaptureClient(sandbox.url, bad) as client, pytest.raises(AuthError) as info:
            client.create({"email": "nobody@example.com"})
        texts.append(str(info.value))
    texts += [record.getMessage() for record in caplog.records]
    assert any(record.name.startswith("httpx") for record in caplog.records)
    token = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
    assert texts and all(sandbox.client_secret not in text and token not in text for text in texts)


def test_entity_type_and_update(sandbox: Sandbox) -> None:
    with client_for(sandbox) as client:
        schema = client.entity_type()
        assert schema["name"] == "user" and any(a["name"] == "email" for a in schema["attr_defs"])
        created = client.create({"email": "update.me@example.com", "givenName": "Old"})
        client.update({"givenName": "New"}, id=created.id)
        record = client.entity(id=created.id)
        assert (record["givenName"], record["email"]) == ("New", "update.me@example.com")
        client.replace({"email": "update.me@example.com"}, uuid=created.uuid)
        assert client.entity(id=created.id)["givenName"] is None


def test_bulk_create_all_sync_and_async(sandbox: Sandbox) -> None:
    sandbox.reset()
    with client_for(sandbox) as client:
        results = list(client.bulk_create_all(people(120, "sync"), batch_size=25, concurrency=3))
        assert [r.start for r in results] == [0, 25, 50, 75, 100]
        assert sum(len(r.created) for r in results) == 120

    async def load() -> int:
        auth = make_auth("signed", sandbox.client_id, sandbox.client_secret)
        async with AsyncCaptureClient(sandbox.url, auth, max_concurrency=4) as client:
            created = 0
            async for result in client.bulk_create_all(people(120, "async"), batch_size=20, concurrency=6):
                created += len(result.created)
            assert await client.count() == 240
            return created

    assert asyncio.run(load()) == 120


def _hammer(client: AsyncCaptureClient, calls: int) -> Callable[[], Any]:
    async def run() -> list[int]:
        async with client:
            return await asyncio.gather(*(client.count() for _ in range(calls)))
    return run


def test_retry_rides_out_the_simultaneous_call_limit(sandbox_factory: Callable[..., Sandbox]) -> None:
    limited = sandbox_factory(faults={"concurrency_limit": 1, "latency": "20"})
    auth = make_auth("basic", limited.client_id, limited.client_secret)
    with pytest.raises(RateLimitError):
        asyncio.run(_hammer(AsyncCaptureClient(limited.url, auth), 4)())
    patient = AsyncCaptureClient(limited.url, auth, retry=Retry(attempts=20, backoff=0.01, max_backoff=0.1))
    assert asyncio.run(_hammer(patient, 4)()) == [0, 0, 0, 0]
    assert limited.stats()["errors"].get("510", 0) >= 3


def test_ping_command_checks_url_and_credentials(sandbox: Sandbox) -> None:
    from click.testing import CliRunner

    from loadgen.cli import cli

    env = {"CAPTURE_URL": sandbox.url, "CAPTURE_CLIENT_ID": sandbox.client_id,
           "CAPTURE_CLIENT_SECRET": sandbox.client_secret, "CAPTURE_AUTH": "signed"}
    ok = CliRunner().invoke(cli, ["ping"], env=env)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"ok: {sandbox.url} (signed auth as {sandbox.client_id}): user has ")
    bad = CliRunner().invoke(cli, ["ping", "--auth", "basic"], env={**env, "CAPTURE_CLIENT_SECRET": "nope"})
    assert bad.exit_code == 2      # as run's and cleanup's preflight: refused credentials are the user's to fix
    assert bad.output.startswith(f"error: preflight: {sandbox.url} refused the credentials (402 ")
    assert bad.output.count("\n") == 1
    missing = CliRunner().invoke(cli, ["ping"], env={**env, "CAPTURE_URL": ""})
    assert (missing.exit_code, missing.output) == (2, "error: no Capture URL: pass --url or set CAPTURE_URL\n")


def test_parts_of_a_record_and_include_record_sync_and_async(sandbox: Sandbox) -> None:
    sandbox.reset()
    with client_for(sandbox) as client:
        created = client.create({"email": "parts@example.com", "primaryAddress": {"city": "Lyon"},
                                 "statuses": [{"status": "one"}]})
        assert client.entity(uuid=created.uuid, attribute_name="primaryAddress")["city"] == "Lyon"
        assert client.entity(uuid=created.uuid, attribute_name="/primaryAddress/zip") is None
        record = client.update([{"status": "two"}], uuid=created.uuid, attribute_name="statuses",
                               include_record=True)
        assert record is not None and [s["status"] for s in record["statuses"]] == ["one", "two"]
        first = record["statuses"][0]["id"]
        assert client.replace({"status": "uno"}, id=created.id, attribute_name=f"statuses#{first}") is None
        assert client.entity(uuid=created.uuid, attribute_name=f"statuses#{first}")["status"] == "uno"
        client.delete(uuid=created.uuid, attribute_name=f"statuses#{first}")
        with pytest.raises(NotFoundError):
            client.entity(uuid=created.uuid, attribute_name=f"statuses#{first}")
        with pytest.raises(CaptureError) as info:
            client.entity(uuid=created.uuid, attribute_name="/nope")
        assert (info.value.code, info.value.attribute_name) == (223, "/nope")

    async def run() -> list[str]:
        async with AsyncCaptureClient(sandbox.url, make_auth("basic", sandbox.client_id, sandbox.client_secret)) as ac:
            whole = await ac.replace({"email": "parts@example.com", "givenName": "Async"}, uuid=created.uuid,
                                     include_record=True)
            assert whole is not None and whole["statuses"] == [] and whole["uuid"] == created.uuid
            await ac.update("Renamed", uuid=created.uuid, attribute_name="givenName")
            await ac.delete(uuid=created.uuid, attribute_name="email")
            return [await ac.entity(uuid=created.uuid, attribute_name=name) for name in ("givenName", "email")]

    assert asyncio.run(run()) == ["Renamed", None]

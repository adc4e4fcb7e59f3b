"""Fault modes (latency, error rate, 510 concurrency limit, read lag, accept_nan) and the admin switch."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from loadgen.errors import UsageError
from loadgen.sandbox import ClientSpec, Faults, Sandbox
from loadgen.sandbox.faults import parse_latency

Factory = Callable[..., Sandbox]


def _post(sb: Sandbox, op: str, **form: str) -> httpx.Response:
    return httpx.post(f"{sb.url}/{op}", data=form, auth=(sb.client_id, sb.client_secret), timeout=30)


def test_latency_specs() -> None:
    rng = random.Random(1)
    assert parse_latency("25")(rng) == 0.025
    assert all(0.01 <= parse_latency("uniform:10-50")(rng) <= 0.05 for _ in range(100))
    assert parse_latency("normal:5,50")(rng) >= 0
    mean = sum(parse_latency("exp:20")(rng) for _ in range(2000)) / 2000
    assert 0.015 < mean < 0.025
    for bad in ["fast", "uniform:50-10", "exp:"]:
        with pytest.raises(UsageError):
            parse_latency(bad)
    with pytest.raises(UsageError):
        Faults(error_rate=1.5)


def test_added_latency(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(faults={"latency": "150"})
    start = time.perf_counter()
    assert _post(sb, "entity.count", type_name="user").json()["stat"] == "ok"
    assert time.perf_counter() - start >= 0.15


@pytest.mark.parametrize("code", [500, 504])
def test_error_rate_writes_nothing(sandbox_factory: Factory, code: int) -> None:
    sb = sandbox_factory(faults={"error_rate": 1.0, "error_code": code})
    body = _post(sb, "entity.create", type_name="user", attributes='{"email": "a@x.com"}').json()
    assert body["stat"] == "error" and body["code"] == code
    assert sb.stats()["records"]["user"] == 0


def test_error_rate_is_a_rate(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(faults={"error_rate": 0.3})
    with httpx.Client(base_url=sb.url, auth=(sb.client_id, sb.client_secret)) as c:
        codes = [c.post("/entity.count", data={"type_name": "user"}).json().get("code") for _ in range(200)]
    assert 30 <= codes.count(500) <= 90 and codes.count(None) == 200 - codes.count(500)


@pytest.mark.parametrize("http_status", [False, True])
def test_concurrency_limit_answers_510(sandbox_factory: Factory, http_status: bool) -> None:
    sb = sandbox_factory(faults={"concurrency_limit": 2, "latency": "800", "limit_http_status": http_status})

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(auth=(sb.client_id, sb.client_secret), timeout=30) as c:
            return await asyncio.gather(*(c.post(f"{sb.url}/entity.count", data={"type_name": "user"})
                                          for _ in range(6)))

    responses = asyncio.run(burst())
    limited = [r for r in responses if r.json().get("code") == 510]
    assert len(limited) == 4 and sum(r.json()["stat"] == "ok" for r in responses) == 2
    assert all(r.json()["error"] == "api_limit_error" for r in limited)
    assert {r.status_code for r in limited} == {510 if http_status else 200}


def test_per_client_faults_override(sandbox_factory: Factory) -> None:
    clients = (ClientSpec("calm", "s1"), ClientSpec("flaky", "s2", faults=Faults(error_rate=1.0)))
    sb = sandbox_factory(clients=clients)
    calm = httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"}, auth=("calm", "s1")).json()
    flaky = httpx.post(f"{sb.url}/entity.count", data={"type_name": "user"}, auth=("flaky", "s2")).json()
    assert calm["stat"] == "ok" and flaky["code"] == 500


def test_read_after_write_lag(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(faults={"read_lag": 0.6})
    made = _post(sb, "entity.create", type_name="user", attributes='{"email": "lag@x.com"}').json()
    assert _post(sb, "entity.count", type_name="user").json()["total_count"] == 0
    assert _post(sb, "entity.find", type_name="user").json()["results"] == []
    assert _post(sb, "entity", type_name="user", uuid=made["uuid"]).json()["stat"] == "ok"  # by uuid: at once
    time.sleep(0.7)
    assert _post(sb, "entity.count", type_name="user").json()["total_count"] == 1


def test_accept_nan_breaks_strict_parsing_on_purpose(sandbox_factory: Factory) -> None:
    strict = sandbox_factory()
    broken = sandbox_factory(faults={"accept_nan": True})
    form = {"type_name": "user", "attributes": '{"email": "n@x.com", "aboutMe": NaN}'}
    assert _post(strict, "entity.create", **form).json()["code"] == 200
    assert _post(broken, "entity.create", **form).json()["code"] != 200


def test_admin_endpoints_only_with_admin(sandbox_factory: Factory) -> None:
    sb = sandbox_factory(admin=False)
    body = httpx.get(f"{sb.url}/_sandbox/stats").json()
    assert body["stat"] == "error"
    with pytest.raises(UsageError):
        sb.stats()
    with pytest.raises(UsageError):
        sb.reset()


def test_reset_clears_records_and_counters(sandbox: Sandbox) -> None:
    sandbox.reset()
    _post(sandbox, "entity.create", type_name="user", attributes='{"email": "r@x.com"}')
    assert sandbox.stats()["records"]["user"] == 1
    sandbox.reset()
    stats: dict[str, Any] = sandbox.stats()
    assert stats == {"records": {"user": 0}, "requests": {}, "errors": {}}

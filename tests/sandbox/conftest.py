"""Helpers for the sandbox tests: a Basic-auth httpx client per sandbox and a one-call helper."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from loadgen.sandbox import Sandbox

Call = Callable[..., dict[str, Any]]


def caller(sb: Sandbox, client: httpx.Client) -> Call:
    """``call("entity.create", type_name="user", attributes={...})``: dict/list values are JSON-encoded."""
    def call(op: str, *, method: str = "POST", **params: Any) -> dict[str, Any]:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        response = client.get(f"/{op}", params=form) if method == "GET" else client.post(f"/{op}", data=form)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body
    return call


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, auth=(sandbox.client_id, sandbox.client_secret), timeout=30) as c:
        yield c


@pytest.fixture
def call(sandbox: Sandbox, http: httpx.Client) -> Call:
    sandbox.reset()
    return caller(sandbox, http)

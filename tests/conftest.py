"""Shared fixtures: a real sandbox on a free 127.0.0.1 port, over real HTTP.

``sandbox`` is one server for the whole session (``:memory:`` database, admin endpoints on); a test
that needs an empty store calls ``sandbox.reset()``. ``sandbox_factory`` starts dedicated servers
with ``SandboxConfig`` overrides (``faults={"read_lag": 1}``, ``legacy_auth=False``, ``clients=...``)
and stops them when the test ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from loadgen.sandbox import Sandbox, serve

# `loadgen run`, `fuzz` and `cleanup` read CAPTURE_URL and CAPTURE_AUTH: a developer's own settings must never
# aim the tests' runs at a real app. Tests that want them set them for their own child process.
for _name in ("CAPTURE_URL", "CAPTURE_AUTH"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with serve(db=":memory:", admin=True) as running:
        yield running


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    with ExitStack() as stack:
        def start(**overrides: Any) -> Sandbox:
            overrides.setdefault("db", ":memory:")
            overrides.setdefault("admin", True)
            return stack.enter_context(serve(**overrides))
        yield start

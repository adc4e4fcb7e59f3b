"""Sandbox settings: the server's knobs, its API clients and their fault modes.

``clients.toml`` (passed with ``--clients``) lists the API clients the sandbox accepts, each with its
features (the permission table of capture-api.md) and, optionally, faults of its own::

    # global fault defaults for every client that has no [client.faults] table (all optional)
    [faults]
    latency = "uniform:2-10"     # ms: "25" (fixed), "uniform:LO-HI", "exp:MEAN", "normal:MEAN,SD"
    error_rate = 0.0             # share of calls answered 500 unexpected_error (or 504, see error_code)
    error_code = 500             # 500 or 504
    concurrency_limit = 0        # simultaneous calls per client above which 510 api_limit_error (0 = off)
    limit_http_status = false    # answer the 510 error object with HTTP status 510 as well
    read_lag = 0.0               # seconds before a new record shows up in entity.find / entity.count

    [[client]]
    id = "loadtest"
    secret = "change-me"          # or secret_env = "LOADGEN_SECRET" to read it from the environment
    features = ["owner"]          # owner, direct_access, direct_read_access, access_issuer, login_client

    [[client]]
    id = "reader"
    secret_env = "READER_SECRET"
    features = ["direct_read_access"]
    [client.faults]
    concurrency_limit = 2

Without a clients file, one owner client is created at first start and kept in the database.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.errors import UsageError
from loadgen.sandbox.faults import Faults
from loadgen.schema import Schema

#: Features a client may hold (capture-api.md, "Client permissions").
FEATURES = frozenset({"owner", "direct_access", "direct_read_access", "access_issuer", "login_client"})


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One API client. The secret never appears in a repr."""

    client_id: str
    secret: str = field(repr=False)
    features: frozenset[str] = frozenset({"owner"})
    faults: Faults | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.features) - FEATURES)
        if unknown:
            raise UsageError(f"client {self.client_id!r}: unknown feature {unknown[0]!r} "
                             f"(expected one of {', '.join(sorted(FEATURES))})")
        if not self.client_id or not self.secret:
            raise UsageError("a client needs a non-empty id and secret")


@dataclass(frozen=True)
class SandboxConfig:
    """Everything ``create_app`` and the server need. ``schemas`` empty means the shipped ``user`` schema.

    The limits keep one hostile client from hurting the others: ``max_body`` bytes per request body
    (2,000 realistic records of about 1.5 KB take 4-9 MB as a form), ``max_batch`` records per bulkCreate
    (Janrain's datalib sends 2,000), ``max_connections`` open connections (more are answered 503),
    ``header_timeout`` seconds to send a request's headers (also an idle new connection's limit),
    ``body_timeout`` seconds to send its body, ``keep_alive`` seconds an idle connection stays open,
    ``write_timeout`` seconds a client may leave an answer unread, and ``max_unread`` bytes of answers
    that slow readers may hold in the server altogether (the largest holder is disconnected first).
    """

    schemas: tuple[Schema, ...] = ()
    db: str = "sandbox.db"
    clients: tuple[ClientSpec, ...] = ()
    skew: float = 900.0
    legacy_auth: bool = True
    admin: bool = False
    max_batch: int = 2000
    max_body: int = 16 * 1024 * 1024
    max_results: int = 10_000
    max_connections: int = 1000
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: int = 5
    write_timeout: float = 30.0
    max_unread: int = 256 * 1024 * 1024
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.skew) and self.skew > 0):
            raise UsageError(f"--skew must be a number of seconds above 0, got {self.skew!r}")
        for name in ("max_batch", "max_body", "max_results", "max_connections", "keep_alive", "max_unread"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be a whole number above 0, got {value!r}")
        for name in ("header_timeout", "body_timeout", "write_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be a number of seconds above 0, got {value!r}")

    def replace(self, **changes: Any) -> SandboxConfig:
        """A copy with ``changes``; ``faults`` may be given as a mapping of fault fields."""
        faults = changes.get("faults")
        if isinstance(faults, Mapping):
            changes["faults"] = dataclasses.replace(self.faults, **faults)
        known = {f.name for f in dataclasses.fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise UsageError(f"unknown sandbox setting {bad[0]!r}")
        return dataclasses.replace(self, **changes)


def _faults_from(table: object, where: str) -> Faults:
    if not isinstance(table, Mapping):
        raise UsageError(f"{where}: [faults] must be a table")
    names = {f.name for f in dataclasses.fields(Faults)}
    bad = sorted(set(table) - names)
    if bad:
        raise UsageError(f"{where}: unknown fault setting {bad[0]!r}")
    try:
        return Faults(**table)
    except TypeError as exc:
        raise UsageError(f"{where}: {exc}") from None


def load_clients(path: str | os.PathLike[str]) -> tuple[tuple[ClientSpec, ...], Faults | None]:
    """Parse a clients.toml file: its clients and its global ``[faults]`` table (None if absent)."""
    where = str(path)
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{where}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: not valid TOML: {exc}") from None
    faults = _faults_from(doc["faults"], where) if "faults" in doc else None
    entries = doc.get("client", [])
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{where}: expected at least one [[client]] table")
    clients: list[ClientSpec] = []
    for n, entry in enumerate(entries):
        here = f"{where}: client[{n}]"
        if not isinstance(entry, Mapping):
            raise UsageError(f"{here}: must be a table")
        bad = sorted(set(entry) - {"id", "secret", "secret_env", "features", "faults"})
        if bad:
            raise UsageError(f"{here}: unknown key {bad[0]!r}")
        secret = entry.get("secret")
        if "secret_env" in entry:
            secret = os.environ.get(str(entry["secret_env"]))
            if not secret:
                raise UsageError(f"{here}: environment variable {entry['secret_env']!r} is not set")
        features = entry.get("features", ["owner"])
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise UsageError(f"{here}: features must be a list of strings")
        if not isinstance(entry.get("id"), str) or not isinstance(secret, str):
            raise UsageError(f"{here}: needs a string id and a secret (or secret_env)")
        client_faults = _faults_from(entry["faults"], here) if "faults" in entry else None
        clients.append(ClientSpec(entry["id"], secret, frozenset(features), client_faults))
    ids = [c.client_id for c in clients]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        raise UsageError(f"{where}: client id {dup!r} appears twice")
    return tuple(clients), faults

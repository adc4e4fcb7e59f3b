"""The custom Locust options of the Capture scenarios, and their validated form.

They are added through ``events.init_command_line_parser`` (see ``hooks.py``), so each one shows in
``locust --help`` and the web UI, and can be set in ``locust.conf`` or as a ``LOCUST_*`` variable.
Credentials never travel as options (options reach the web UI and the workers' spawn messages): they
come from ``CAPTURE_CLIENT_ID`` / ``CAPTURE_CLIENT_SECRET`` on every machine that sends load.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.errors import UsageError
from loadgen.ramp import Stage, parse_stages
from loadgen.runfolder import LEDGER_PARTS
from loadgen.scenarios import (
    AUTH_SCHEMES,
    DEFAULT_AUTH,
    DEFAULT_BULK_RATE,
    DEFAULT_BULK_SIZE,
    DEFAULT_CREATE_RATE,
    DEFAULT_MALFORMED_SHARE,
)

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")

#: (flag, type, default, help). ``bool`` flags are ``store_true``.
OPTIONS: tuple[tuple[str, type, Any, str], ...] = (
    ("--create-rate", float, DEFAULT_CREATE_RATE, "entity.create requests/s across the whole swarm"),
    ("--bulk-rate", float, DEFAULT_BULK_RATE, "entity.bulkCreate requests/s across the whole swarm"),
    ("--bulk-size", int, DEFAULT_BULK_SIZE, "records per entity.bulkCreate"),
    ("--stages", str, "", "ramp, k6 style: '30s:10,60s:50,30s:50,10s:0' (requests/s of the main "
                          "endpoint; other endpoints keep their ratio). The run ends with the last stage"),
    ("--stages-in", str, "", "the endpoint whose requests/s --stages are written in (default: create when "
                             "paced, else the first paced endpoint; loadgen run sets its scenario's)"),
    ("--malformed-share", float, DEFAULT_MALFORMED_SHARE, "error_path: share of create arrivals sent malformed"),
    ("--corpus", str, "", "error_path: a failures.jsonl whose recorded bad entity.create requests join the "
                          "malformed share"),
    ("--schema", str, "", "entity type schema JSON (default: the shipped user schema)"),
    ("--capture-profile", str, "", "profile TOML for the generated users (default: built-in; "
                                   "Locust already owns --profile)"),
    ("--seed", int, 0, "seed of the profile generators (each worker and run gets its own stream)"),
    ("--run-id", str, "", "run id (default: a timestamp); namespaces emails and names the run folder"),
    ("--run-dir", str, "", "run folder for recorder.json and the ledger (default: runs/<run-id>)"),
    ("--ledger-dir", str, "", "where each worker appends worker-<n>.jsonl (default: <run-dir>/ledger)"),
    ("--max-records", int, 0, "stop cleanly once this many records were created (0: no limit)"),
    ("--capture-auth", str, DEFAULT_AUTH,
     " | ".join(AUTH_SCHEMES) + " (credentials: CAPTURE_CLIENT_ID/CAPTURE_CLIENT_SECRET)"),
    ("--type-name", str, "user", "entity type to create"),
    ("--insecure", bool, False, "allow plain http:// to a non-loopback host (credentials in clear!)"),
    ("--warmup", float, 0.0, "seconds at the start that are recorded and drawn but left out of the summary "
                             "and the gates"),
    ("--gates", str, "", "';'-separated gates judged during the run with --abort-on-fail, e.g. "
                         "'create.p99[30s]<300ms;error_rate[30s]<1%%' (only windowed ones are judged live)"),
    ("--abort-on-fail", bool, False, "stop the run as soon as a window of a --gates gate fails"),
    ("--abort-delay", float, 0.0, "seconds after the warm-up before --abort-on-fail stops a run"),
)


def env_var(flag: str) -> str:
    return "LOCUST_" + flag.lstrip("-").replace("-", "_").upper()


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass(frozen=True)
class Settings:
    """The validated options of one run (the same on every worker)."""

    create_rate: float = DEFAULT_CREATE_RATE
    bulk_rate: float = DEFAULT_BULK_RATE
    bulk_size: int = DEFAULT_BULK_SIZE
    stages: tuple[Stage, ...] = ()
    #: the endpoint whose requests/s the stages are written in ("": the locustfile's main paced endpoint)
    stages_in: str = ""
    malformed_share: float = DEFAULT_MALFORMED_SHARE
    #: a failures.jsonl (``loadgen fuzz``'s, or a run's) whose bad requests join the error path's catalogue
    corpus: str = ""
    schema: str = ""
    profile: str = ""
    seed: int = 0
    run_id: str = ""
    run_dir: str = ""
    ledger_dir: str = ""
    max_records: int | None = None
    capture_auth: str = DEFAULT_AUTH
    type_name: str = "user"
    insecure: bool = False
    warmup_s: float = 0.0
    gates: tuple[str, ...] = ()
    abort_on_fail: bool = False
    abort_delay_s: float = 0.0

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir or os.path.join("runs", self.run_id or "local"))

    @property
    def ledger_path(self) -> Path:
        return Path(self.ledger_dir) if self.ledger_dir else self.run_path / LEDGER_PARTS


def _number(name: str, value: Any, kind: type, low: float, high: float = math.inf) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{name}: expected a number, got {value!r}") from None
    if not (low <= number <= high) or (kind is float and not math.isfinite(number)):
        raise UsageError(f"--{name} must be {_range(kind, low, high)}, got {value!r}")
    return number


def _range(kind: type, low: float, high: float) -> str:
    """``>= 0`` or ``between 1 and 100000``, in the flag's own units (no ``inf``, no ``9.22337e+18``)."""
    def shown(x: float) -> str:
        return str(int(x)) if kind is int else f"{x:g}"

    return f">= {shown(low)}" if math.isinf(high) else f"between {shown(low)} and {shown(high)}"


def settings_from(options: object | Mapping[str, Any]) -> Settings:
    """Validate Locust's parsed options (a namespace, or a mapping) into :class:`Settings`."""
    raw: Mapping[str, Any] = options if isinstance(options, Mapping) else vars(options)

    def get(key: str, default: Any) -> Any:
        value = raw.get(key)
        return default if value is None or value == "" else value

    auth = str(get("capture_auth", DEFAULT_AUTH)).lower()
    if auth not in AUTH_SCHEMES:
        raise UsageError(f"--capture-auth must be one of {', '.join(AUTH_SCHEMES)}, got {auth!r}")
    run_id = str(get("run_id", ""))
    if run_id and not _RUN_ID.fullmatch(run_id):
        raise UsageError(f"--run-id {run_id!r}: use letters, digits, '.', '_' or '-' (at most 80)")
    stages_text = str(get("stages", ""))
    max_records = _number("max-records", get("max_records", 0), int, 0)
    insecure = get("insecure", False)
    gates = tuple(g.strip() for g in str(get("gates", "")).split(";") if g.strip())
    if gates:
        from loadgen.report.thresholds import parse_thresholds

        parse_thresholds(gates)
    return Settings(
        create_rate=_number("create-rate", get("create_rate", DEFAULT_CREATE_RATE), float, 0, 1e6),
        bulk_rate=_number("bulk-rate", get("bulk_rate", DEFAULT_BULK_RATE), float, 0, 1e5),
        bulk_size=_number("bulk-size", get("bulk_size", DEFAULT_BULK_SIZE), int, 1, 100_000),
        stages=parse_stages(stages_text) if stages_text.strip() else (), stages_in=str(get("stages_in", "")),
        malformed_share=_number("malformed-share", get("malformed_share", DEFAULT_MALFORMED_SHARE), float, 0, 1),
        corpus=str(get("corpus", "")), schema=str(get("schema", "")), profile=str(get("capture_profile", "")),
        seed=_number("seed", get("seed", 0), int, 0, 2**63),
        run_id=run_id, run_dir=str(get("run_dir", "")), ledger_dir=str(get("ledger_dir", "")),
        max_records=max_records or None, capture_auth=auth,
        type_name=str(get("type_name", "user")),
        insecure=_flag(insecure), warmup_s=_number("warmup", get("warmup", 0.0), float, 0),
        gates=gates, abort_on_fail=_flag(get("abort_on_fail", False)),
        abort_delay_s=_number("abort-delay", get("abort_delay", 0.0), float, 0),
    )


def _flag(value: Any) -> bool:
    """A store_true option, or its ``LOCUST_*`` variable's text."""
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


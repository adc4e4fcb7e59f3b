"""The run folder in one place: the name of every file a run writes, and the typed ``meta.json``.

``loadgen run`` writes a folder per run; ``loadgen report``, ``compare`` and ``cleanup`` read it
back later, maybe on another machine or with a newer release. So the layout is named here once
(no path literal elsewhere), and ``meta.json`` is a :class:`Meta` dataclass with ``to_json`` and
``from_json``: a reader gets typed attributes, and a foreign, newer or damaged file is one line
naming the file and the field (a :class:`MetaFormatError`, a ``UsageError``: exit 2), never a
``KeyError`` deep inside a command. The ledger's format lives beside it in :mod:`loadgen.ledger`.

Capability level: imports only the core, never Locust, the sandbox or the report package (which
reads run folders through this module).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen._fields import (
    FieldError,
    Fields,
    as_bool,
    as_int,
    as_num,
    as_str,
    dict_of,
    or_null,
    tuple_of,
)
from loadgen.errors import UsageError
from loadgen.ramp import Stage

#: ``loadgen run``'s plan and outcome (:class:`Meta`).
META = "meta.json"
#: The run's merged ledger, or the master's in a distributed run (:mod:`loadgen.ledger`).
LEDGER = "ledger.jsonl"
#: The folder of each Locust process's own ledger part, ``ledger/worker-<n>.jsonl``.
LEDGER_PARTS = "ledger"
#: Clean-up's progress: one line per settled uuid, so an interrupted clean-up resumes.
CLEANUP_PROGRESS = "cleanup.jsonl"
#: The HDR histograms the Locust process recorded (``Recorder.snapshot()``).
RECORDER = "recorder.json"
#: The Locust process's own account of the run (records, dropped arrivals, CPU, stop reasons).
LOCUST_RUN = "locust_run.json"
#: The live view of a running test, rewritten every second (``loadgen.locust.live.LiveSnapshot``).
LIVE = "live.json"
#: Locust's log, its stderr, its HTML page and the prefix of its CSV files.
LOCUST_LOG = "locust.log"
LOCUST_STDERR = "locust.stderr"
LOCUST_HTML = "locust.html"
LOCUST_CSV = "locust"
#: The run's ``--schema``, copied: clean-up restarts the embedded sandbox with it.
SCHEMA = "schema.json"
#: The embedded sandbox's database: clean-up restarts the sandbox over it.
SANDBOX_DB = "sandbox.db"
#: The reports, ``report.json`` first: the HTML and Markdown are drawn from it.
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
#: Failing requests, one JSON line each (``loadgen/failures.py``): written by ``run`` and ``fuzz``, read by ``replay``
FAILURES = "failures.jsonl"
#: ``loadgen fuzz``'s results and what it exercised (``fuzzer.write_fuzz_outputs``)
FUZZ_REPORT = "fuzz-report.json"

META_VERSION = 1
META_KIND = "capture-loadgen.meta"


#: How a ``stop_reasons`` entry of ``--abort-on-fail`` begins (``gate create.p99[30s]<300ms broke at 95s: 412 ms``).
ABORT_PREFIX = "gate "
#: The ledger part number of a run's ``--prefill`` (:mod:`loadgen.prefill`): no Locust process takes it.
PREFILL_WORKER = 9999


def ledger_part(worker: int | str) -> str:
    """The ledger part of one Locust process, relative to the run folder (``"*"``: the pattern of them all)."""
    return f"{LEDGER_PARTS}/worker-{worker}.jsonl"


class MetaFormatError(FieldError):
    """A meta.json this tool cannot read; the message names the file and the field."""


#: Target rates of an endpoint: requests/s, or ``{"requests_per_s": r, "records_per_s": n}``.
Target = float | dict[str, float]


def as_target(value: object, where: str) -> Target:
    return dict_of(as_num)(value, where) if isinstance(value, dict) else as_num(value, where)


_opt_str = or_null(as_str)
_opt_int = or_null(as_int)
_opt_num = or_null(as_num)


@dataclass(frozen=True, slots=True)
class Meta:
    """``meta.json``: what ``loadgen run`` planned (options, targets) and what came of it (counts, warnings).

    Written once the run is over; ``loadgen report --from-recorder`` and ``loadgen cleanup`` read it back.
    """

    run_id: str
    scenario: str
    host: str | None = None            # the target URL as given (the report drops credentials from it)
    targets: dict[str, Target] = field(default_factory=dict)
    stages: tuple[Stage, ...] = ()     # empty: a constant rate
    duration_s: float | None = None
    seed: int | None = None
    profile: str | None = None
    bulk_size: int | None = None
    workers: int | None = None
    users: int | None = None
    max_records: int | None = None
    capture_auth: str = "basic"
    thresholds: tuple[str, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)
    embedded_sandbox: bool = False
    type_name: str = "user"
    schema_file: str | None = None     # the run's --schema, copied into the folder (:data:`SCHEMA`)
    schema_fingerprint: str | None = None
    ledger_version: int | None = None
    started_at: float | None = None    # epoch seconds
    ended_at: float | None = None
    workers_cpu: dict[str, float] = field(default_factory=dict)
    stop_reasons: tuple[str, ...] = ()
    dropped: dict[str, int] = field(default_factory=dict)
    ledger_records: int = 0
    server_records: int | None = None  # the embedded sandbox's count of new records; None: not counted
    nothing_lost: bool | None = None
    locust_exit_code: int | None = None
    interrupted: bool = False
    unanswered: int = 0
    warnings: tuple[str, ...] = ()
    warmup_s: float = 0.0               # the first seconds, drawn but left out of the summary and gates
    store_records: int | None = None    # records of the type in the store when the measured phase began

    def to_json(self) -> dict[str, object]:
        return {"format_version": META_VERSION, "kind": META_KIND, "run_id": self.run_id, "scenario": self.scenario,
                "host": self.host, "targets": dict(self.targets), "stages": [s.to_json() for s in self.stages],
                "duration_s": self.duration_s, "seed": self.seed, "profile": self.profile,
                "bulk_size": self.bulk_size, "workers": self.workers, "users": self.users,
                "max_records": self.max_records, "capture_auth": self.capture_auth,
                "thresholds": list(self.thresholds), "versions": dict(self.versions),
                "embedded_sandbox": self.embedded_sandbox, "type_name": self.type_name,
                "schema_file": self.schema_file, "schema_fingerprint": self.schema_fingerprint,
                "ledger_version": self.ledger_version, "started_at": self.started_at, "ended_at": self.ended_at,
                "workers_cpu": dict(self.workers_cpu), "stop_reasons": list(self.stop_reasons),
                "dropped": dict(self.dropped), "ledger_records": self.ledger_records,
                "server_records": self.server_records, "nothing_lost": self.nothing_lost,
                "locust_exit_code": self.locust_exit_code, "interrupted": self.interrupted,
                "unanswered": self.unanswered, "warnings": list(self.warnings), "warmup_s": self.warmup_s,
                "store_records": self.store_records}

    @classmethod
    def from_json(cls, data: object, source: str = META) -> Meta:
        """Check and read a loaded meta.json; anything off is one :class:`MetaFormatError` line.

        A file without ``format_version`` (capture-loadgen 0.1.0 wrote those) is read when it
        has the ``run_id`` and ``scenario`` every release wrote, a missing field taking its default.
        """
        if not isinstance(data, dict) or not (data.get("kind") == META_KIND or _older(data)):
            raise MetaFormatError(f"{source}: not a capture-loadgen meta.json (no 'kind': {META_KIND!r})")
        version = data.get("format_version", 0)
        if version not in (0, META_VERSION):
            age = "a newer" if isinstance(version, int) and version > META_VERSION else "another"
            raise MetaFormatError(f"{source}: meta.json format_version {version!r} is not supported (this tool "
                                  f"reads {META_VERSION}; the file comes from {age} capture-loadgen)")
        try:
            o = Fields(data, "", defaults=_DEFAULTS if version == 0 else None)
            return cls(
                run_id=o.get("run_id", as_str), scenario=o.get("scenario", as_str), host=o.get("host", _opt_str),
                targets=o.get("targets", dict_of(as_target)), stages=o.get("stages", tuple_of(Stage.from_json)),
                duration_s=o.get("duration_s", _opt_num), seed=o.get("seed", _opt_int),
                profile=o.get("profile", _opt_str), bulk_size=o.get("bulk_size", _opt_int),
                workers=o.get("workers", _opt_int), users=o.get("users", _opt_int),
                max_records=o.get("max_records", _opt_int), capture_auth=o.get("capture_auth", as_str),
                thresholds=o.get("thresholds", tuple_of(as_str)), versions=o.get("versions", dict_of(as_str)),
                embedded_sandbox=o.get("embedded_sandbox", as_bool), type_name=o.get("type_name", as_str),
                schema_file=o.get("schema_file", _opt_str), schema_fingerprint=o.get("schema_fingerprint", _opt_str),
                ledger_version=o.get("ledger_version", _opt_int), started_at=o.get("started_at", _opt_num),
                ended_at=o.get("ended_at", _opt_num), workers_cpu=o.get("workers_cpu", dict_of(as_num)),
                stop_reasons=o.get("stop_reasons", tuple_of(as_str)), dropped=o.get("dropped", dict_of(as_int)),
                ledger_records=o.get("ledger_records", as_int), server_records=o.get("server_records", _opt_int),
                nothing_lost=o.get("nothing_lost", or_null(as_bool)),
                locust_exit_code=o.get("locust_exit_code", _opt_int), interrupted=o.get("interrupted", as_bool),
                unanswered=o.get("unanswered", as_int), warnings=o.get("warnings", tuple_of(as_str)),
                # fields added since: a meta.json of an earlier run has none
                warmup_s=as_num(data.get("warmup_s", 0.0), "warmup_s"),
                store_records=_opt_int(data.get("store_records"), "store_records"))
        except FieldError as exc:
            raise MetaFormatError(f"{source}: {exc}") from None


def _older(data: dict[str, object]) -> bool:
    """A meta.json written before ``format_version`` existed (it has no ``kind`` but a run id and scenario)."""
    return "kind" not in data and "format_version" not in data and "run_id" in data and "scenario" in data


class SummaryFormatError(FieldError):
    """A locust_run.json this tool cannot read; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class WorkerAccount:
    """What the master knows of one worker's ledger: creates it reported, lines received, the difference."""

    reported: int
    received: int
    unconfirmed: int
    missing: bool      # the worker stopped answering during the run

    def to_json(self) -> dict[str, object]:
        return {"reported": self.reported, "received": self.received, "unconfirmed": self.unconfirmed,
                "missing": self.missing}

    @classmethod
    def from_json(cls, data: object, where: str) -> WorkerAccount:
        o = Fields(data, where)
        return cls(o.get("reported", as_int), o.get("received", as_int), o.get("unconfirmed", as_int),
                   o.get("missing", as_bool))


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    """A distributed run's ledger as the master kept it: its file, the lines received, each worker's account."""

    file: str
    received: int
    workers: dict[str, WorkerAccount]

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "received": self.received,
                "workers": {key: account.to_json() for key, account in self.workers.items()}}

    @classmethod
    def from_json(cls, data: object, where: str) -> LedgerAccount:
        o = Fields(data, where)
        return cls(o.get("file", as_str), o.get("received", as_int),
                   o.get("workers", dict_of(WorkerAccount.from_json)))


@dataclass(frozen=True, slots=True)
class LocustSummary:
    """``locust_run.json``: the Locust process's own account of the run, read by ``loadgen run`` and ``cleanup``.

    Written by the master (or the only) Locust process; ``ledger`` and ``ledger_warnings`` only by the
    master of a distributed run. ``scenario`` (the locustfile's name), ``host`` and ``users`` (Locust's
    ``-u``) let a report of a plain ``locust`` run, which has no meta.json, say what ran (older files lack them).
    """

    run_id: str
    workers: int
    records: int
    dropped: dict[str, int]
    workers_cpu: dict[str, float]
    unanswered: int
    stop_reasons: tuple[str, ...]
    started_at: float | None
    ended_at: float
    ledger_dir: str
    ledger: LedgerAccount | None = None
    ledger_warnings: tuple[str, ...] = ()
    scenario: str = ""
    host: str | None = None
    users: int | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "run_id": self.run_id, "workers": self.workers, "records": self.records, "dropped": dict(self.dropped),
            "workers_cpu": dict(self.workers_cpu), "unanswered": self.unanswered,
            "stop_reasons": list(self.stop_reasons), "started_at": self.started_at, "ended_at": self.ended_at,
            "ledger_dir": self.ledger_dir, "scenario": self.scenario, "host": self.host, "users": self.users}
        if self.ledger is not None:
            data.update(ledger=self.ledger.to_json(), ledger_warnings=list(self.ledger_warnings))
        return data

    @classmethod
    def from_json(cls, data: object, source: str = LOCUST_RUN) -> LocustSummary:
        """Check and read a loaded locust_run.json; anything off is one :class:`SummaryFormatError` line."""
        try:
            o = Fields(data, "")
            ledger = o.get("ledger", or_null(LedgerAccount.from_json)) if "ledger" in o.data else None
            return cls(
                run_id=o.get("run_id", as_str), workers=o.get("workers", as_int), records=o.get("records", as_int),
                dropped=o.get("dropped", dict_of(as_int)), workers_cpu=o.get("workers_cpu", dict_of(as_num)),
                unanswered=o.get("unanswered", as_int), stop_reasons=o.get("stop_reasons", tuple_of(as_str)),
                started_at=o.get("started_at", _opt_num), ended_at=o.get("ended_at", as_num),
                ledger_dir=o.get("ledger_dir", as_str), ledger=ledger,
                ledger_warnings=o.get("ledger_warnings", tuple_of(as_str)) if ledger is not None else (),
                scenario=o.get("scenario", as_str) if "scenario" in o.data else "",
                host=o.get("host", _opt_str) if "host" in o.data else None,
                users=o.get("users", _opt_int) if "users" in o.data else None)
        except FieldError as exc:
            raise SummaryFormatError(f"{source}: {exc}") from None

    def as_meta(self) -> Meta:
        """What a plain ``locust`` run (no ``loadgen run``, so no meta.json) tells of itself, as a :class:`Meta`."""
        return Meta(run_id=self.run_id, scenario=self.scenario, host=self.host, users=self.users,
                    workers=self.workers, started_at=self.started_at, ended_at=self.ended_at,
                    workers_cpu=dict(self.workers_cpu), stop_reasons=self.stop_reasons, dropped=dict(self.dropped),
                    ledger_records=self.records, unanswered=self.unanswered)


#: The JSON of each field's default: what an older meta.json without the field is read as.
_DEFAULTS: dict[str, object] = {key: value for key, value in Meta(run_id="", scenario="").to_json().items()
                                if key not in ("format_version", "kind", "run_id", "scenario")}


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The recorder.json Locust's process wrote (``Recorder.snapshot()``); ``{}`` when missing or torn."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` as an existing run folder, or the one line every command says when it is not one."""
    folder = Path(path)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no run folder here")
    return folder


def read_meta(run_dir: str | os.PathLike[str]) -> Meta | None:
    """The run folder's meta.json, checked (:meth:`Meta.from_json`); None when the folder has none."""
    path = Path(run_dir) / META
    return Meta.from_json(load_json(path, MetaFormatError), str(path)) if path.exists() else None


def read_summary(run_dir: str | os.PathLike[str]) -> LocustSummary | None:
    """The run folder's locust_run.json, checked; None when Locust wrote none (a run stopped before its end)."""
    path = Path(run_dir) / LOCUST_RUN
    return LocustSummary.from_json(load_json(path, SummaryFormatError), str(path)) if path.exists() else None


def load_json(path: Path, error: type[UsageError] = UsageError) -> object:
    """The JSON of one of the run folder's files, or ``error`` with one line saying why it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise error(f"{path}: not valid JSON ({exc})") from None


def write_meta(run_dir: str | os.PathLike[str], meta: Meta) -> Path:
    """Write meta.json in one atomic replace (a reader never sees half of it)."""
    return _write(Path(run_dir) / META, json.dumps(meta.to_json(), indent=2))


def write_locust_files(run_dir: str | os.PathLike[str], recorder: dict[str, Any], summary: LocustSummary) -> None:
    """What Locust's master (or only) process leaves in the run folder: :data:`RECORDER` and :data:`LOCUST_RUN`."""
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / RECORDER, json.dumps(recorder))
    _write(folder / LOCUST_RUN, json.dumps(summary.to_json(), indent=2))


def write_live(run_dir: str | os.PathLike[str], snapshot: dict[str, object]) -> Path:
    """Write :data:`LIVE` in one atomic replace: ``loadgen run`` reads it while Locust rewrites it."""
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return _write(folder / LIVE, json.dumps(snapshot))


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path

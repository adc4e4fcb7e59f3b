"""The history of runs: every run's report.json (summary, encoded HDR histograms, per-second series) in SQLite.

A baseline is a series, not one run: a 3% slip per week never fails a two-run gate and one noisy run
can fail it. So each run added here is kept whole (zlib-compressed report.json, nothing recomputed)
under a *name* (``main``, ``release-2.4``) and a *compatibility key*: scenario, target, schema
fingerprint, store size and load plan (rates and stages). Runs with different keys never share a
series: a change of rate or schema would read as a change point. ``loadgen history check`` and
``report`` (:mod:`loadgen.report.changes`, :mod:`loadgen.report.trend`) read the series back;
``loadgen baseline save`` pins one run of a name (:mod:`loadgen.report.baselines`).

The file is ``baselines/history.db`` unless ``LOADGEN_HISTORY`` (or ``--db``) names another, so a
team can commit it next to the code it guards, as it did with baseline folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from loadgen.errors import RuntimeFailure, UsageError
from loadgen.report.build import load_report
from loadgen.report.compare import STORE_FACTOR, STORE_FLOOR
from loadgen.report.compare import _target as comparable_target
from loadgen.report.document import Report
from loadgen.report.model import iso_utc
from loadgen.runfolder import REPORT_HTML, REPORT_JSON, read_meta, run_folder

ENV_VAR = "LOADGEN_HISTORY"
#: The folder of named baselines, where the file lives by default.
BASELINES_ENV_VAR = "LOADGEN_BASELINES"
#: Where the file lives when neither ``--db`` nor ``LOADGEN_HISTORY`` says: beside the named baselines.
DEFAULT_NAME = "history.db"
_DEFAULT_FOLDER = "baselines"
#: What a run's key says when its report does not know the size of the store it ran against (yet).
UNKNOWN = "unknown"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    series_key TEXT NOT NULL,
    scenario TEXT NOT NULL,
    target TEXT NOT NULL,
    schema_fingerprint TEXT NOT NULL,
    store_size TEXT NOT NULL,
    load_plan TEXT NOT NULL,
    run_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    added_at TEXT NOT NULL,
    commit_sha TEXT,
    branch TEXT,
    note TEXT,
    source TEXT NOT NULL,
    baseline INTEGER NOT NULL DEFAULT 0,
    report BLOB NOT NULL,
    UNIQUE (name, run_id)
);
CREATE INDEX IF NOT EXISTS runs_series ON runs (name, series_key, started_at);
"""
_COLUMNS = ("id, name, series_key, scenario, target, schema_fingerprint, store_size, load_plan, run_id, started_at, "
            "added_at, commit_sha, branch, note, source, baseline")


def history_path(db: str | os.PathLike[str] | None = None, baselines_dir: str | os.PathLike[str] | None = None) -> Path:
    """``--db``, else ``$LOADGEN_HISTORY``, else ``history.db`` in the baselines folder (``./baselines``)."""
    if db:
        return Path(db)
    if baselines_dir is None and os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return folder_of_baselines(baselines_dir) / DEFAULT_NAME


def named_file(db: str | os.PathLike[str] | None = None, baselines_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether :func:`history_path` gives a file the user named (``--db``, ``$LOADGEN_HISTORY``), whose folder
    must exist, rather than ``history.db`` in the baselines folder, a folder the tool makes when missing."""
    return history_path(db, baselines_dir) != folder_of_baselines(baselines_dir) / DEFAULT_NAME


def folder_of_baselines(root: str | os.PathLike[str] | None = None) -> Path:
    """``--baselines-dir``, else ``$LOADGEN_BASELINES``, else ``./baselines``."""
    return Path(root or os.environ.get(BASELINES_ENV_VAR) or _DEFAULT_FOLDER)


def check_name(name: str, what: str = "history name") -> str:
    if not _NAME.match(name):
        raise UsageError(f"{what} {name!r}: use letters, digits, '.', '_' or '-' (max 64)")
    return name


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """What must match for two runs to sit in one series; each part is shown as is when they differ."""

    scenario: str
    target: str
    schema_fingerprint: str
    store_size: str
    load_plan: str      # a short digest of the rates and stages asked for

    @property
    def text(self) -> str:
        return (f"scenario={self.scenario} target={self.target} schema={self.schema_fingerprint} "
                f"store={self.store_size} load={self.load_plan}")


def store_size(report: Report) -> str:
    """The size of the store the run met, as a key part: a band of :data:`~loadgen.report.compare.STORE_FACTOR`
    (2x) width above :data:`~loadgen.report.compare.STORE_FLOOR` records (``<20k``, ``20k-40k``...), the width
    within which ``compare`` takes two runs as comparable; ``unknown`` for a report that does not say.
    """
    stored = report.run.store_records
    if stored is None:
        return UNKNOWN
    low = STORE_FLOOR
    while stored >= low * STORE_FACTOR:
        low = int(low * STORE_FACTOR)
    high = int(low * STORE_FACTOR)
    return f"<{high // 1000}k" if low == STORE_FLOOR else f"{low // 1000}k-{high // 1000}k"


def series_key(report: Report) -> SeriesKey:
    run = report.run
    plan = json.dumps({"targets": run.targets, "stages": [s.to_json() for s in run.stages]}, sort_keys=True)
    return SeriesKey(scenario=run.scenario, target=comparable_target(run.host),
                     schema_fingerprint=run.schema_fingerprint or UNKNOWN, store_size=store_size(report),
                     load_plan=hashlib.sha256(plan.encode()).hexdigest()[:10])


@dataclass(frozen=True, slots=True)
class StoredRun:
    """One row of the history without its report (:func:`load_reports` reads those)."""

    id: int
    name: str
    key: SeriesKey
    run_id: str
    started_at: str
    added_at: str
    commit: str | None
    branch: str | None
    note: str | None
    source: str          # the run folder it came from (its report.html is linked when still there)
    baseline: bool

    @property
    def report_html(self) -> Path | None:
        page = Path(self.source) / REPORT_HTML
        return page if page.is_file() else None

    @property
    def label(self) -> str:
        """How a run is named in tables: its commit (short) when known, else its run id."""
        return self.commit[:10] if self.commit else self.run_id


@dataclass(frozen=True, slots=True)
class Series:
    """The runs of one name and key, oldest first."""

    name: str
    key: SeriesKey
    runs: tuple[StoredRun, ...]


def _row(row: sqlite3.Row) -> StoredRun:
    key = SeriesKey(row["scenario"], row["target"], row["schema_fingerprint"], row["store_size"], row["load_plan"])
    return StoredRun(id=row["id"], name=row["name"], key=key, run_id=row["run_id"], started_at=row["started_at"],
                     added_at=row["added_at"], commit=row["commit_sha"], branch=row["branch"], note=row["note"],
                     source=row["source"], baseline=bool(row["baseline"]))


@contextmanager
def _open(path: Path, *, create: bool, make_folder: bool = False) -> Iterator[sqlite3.Connection]:
    """One connection, one transaction; a missing file is a usage error unless ``create``, and its missing
    folder unless ``make_folder`` (the baselines folder, not a folder of a file the user named)."""
    if not create and not path.is_file():
        raise UsageError(f"{path}: no history here (`loadgen history add RUN_DIR` starts one)")
    if not path.parent.is_dir():
        if not make_folder or path.parent.exists():
            raise UsageError(f"{path}: cannot write: the folder {path.parent} does not exist")
        try:   # the baselines folder is made on the first run that keeps history
            path.parent.mkdir(parents=True)
        except OSError as exc:
            raise RuntimeFailure(f"{path}: cannot create its folder: {exc.strerror or exc}") from None
    try:
        with closing(sqlite3.connect(path, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            with conn:
                conn.executescript(_SCHEMA)
                yield conn
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not a loadgen history ({exc})") from None


def add_run(run_dir: str | os.PathLike[str], name: str = "main", *, db: Path, commit: str | None = None,
            branch: str | None = None, note: str | None = None, baseline: bool = False,
            partial: bool = False, make_folder: bool = False) -> StoredRun:
    """Keep a run's report.json under ``name``; adding the same run again replaces it (a rebuilt report).

    ``baseline`` pins it as the name's baseline (one per key; the previous pin is dropped). A run stopped
    by Ctrl-C is refused unless ``partial``: its first seconds alone would read as a change in the series.
    ``make_folder``: ``db`` lies in the baselines folder, made when missing (see :func:`named_file`).
    """
    check_name(name)
    folder = run_folder(run_dir)
    report = load_report(folder)
    if report.summary.requests == 0:  # a zero in every series would read as a change point
        raise UsageError(f"{folder}: the run measured no request; it is not added to the history")
    meta = read_meta(folder)
    if meta is not None and meta.interrupted and not partial:
        raise UsageError(f"{folder}: the run was stopped early by Ctrl-C ({report.run.elapsed_s:.0f} s measured); "
                         "it is not added to the history (--partial adds it anyway)")
    key = series_key(report)
    blob = zlib.compress((folder / REPORT_JSON).read_bytes(), 6)
    with _open(db, create=True, make_folder=make_folder) as conn:
        if baseline:
            conn.execute("UPDATE runs SET baseline = 0 WHERE name = ? AND series_key = ?", (name, key.text))
        else:   # adding a pinned run again (a rebuilt report) keeps its pin
            kept = conn.execute("SELECT baseline FROM runs WHERE name = ? AND run_id = ?",
                                (name, report.run.run_id)).fetchone()
            baseline = bool(kept and kept[0])
        conn.execute(
            "INSERT OR REPLACE INTO runs (name, series_key, scenario, target, schema_fingerprint, store_size, "
            "load_plan, run_id, started_at, added_at, commit_sha, branch, note, source, baseline, report) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, key.text, key.scenario, key.target, key.schema_fingerprint, key.store_size, key.load_plan,
             report.run.run_id, report.run.started_at, iso_utc(), commit, branch, note, str(folder.resolve()),
             int(baseline), blob))
        row = conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE name = ? AND run_id = ?",
                           (name, report.run.run_id)).fetchone()
    return _row(row)


def names(db: Path) -> list[str]:
    if not db.is_file():
        return []
    with _open(db, create=False) as conn:
        return [r[0] for r in conn.execute("SELECT DISTINCT name FROM runs ORDER BY name")]


def series_of(name: str, db: Path) -> list[Series]:
    """Every series kept under ``name`` (one per key), the one with the newest run first."""
    check_name(name)
    with _open(db, create=False) as conn:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE name = ? ORDER BY started_at, id", (name,)).fetchall()
    if not rows:
        known = ", ".join(names(db)) or "none"
        raise UsageError(f"history {name!r} not found in {db} (known: {known})")
    by_key: dict[str, list[StoredRun]] = {}
    for row in rows:
        by_key.setdefault(row["series_key"], []).append(_row(row))
    found = [Series(name, runs[0].key, tuple(runs)) for runs in by_key.values()]
    return sorted(found, key=lambda s: s.runs[-1].started_at, reverse=True)


def load_reports(runs: tuple[StoredRun, ...], db: Path) -> list[Report]:
    """The kept report.json of each run, in the order given."""
    with _open(db, create=False) as conn:
        blobs = {r["id"]: r["report"] for r in conn.execute(
            f"SELECT id, report FROM runs WHERE id IN ({', '.join('?' * len(runs))})", [r.id for r in runs])}
    return [Report.from_json(json.loads(zlib.decompress(blobs[r.id])), f"{db} ({r.name}: {r.run_id})") for r in runs]


def pinned(name: str, db: Path) -> StoredRun | None:
    """The baseline pinned under ``name`` (the newest pin when several keys have one), or None."""
    if not db.is_file():
        return None
    with _open(db, create=False) as conn:
        row = conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE name = ? AND baseline = 1 "
                           "ORDER BY started_at DESC, id DESC LIMIT 1", (name,)).fetchone()
    return _row(row) if row else None


def pinned_names(db: Path) -> list[str]:
    if not db.is_file():
        return []
    with _open(db, create=False) as conn:
        return [r[0] for r in conn.execute("SELECT DISTINCT name FROM runs WHERE baseline = 1 ORDER BY name")]

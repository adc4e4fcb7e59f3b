"""Named baselines: a view on the history (:mod:`loadgen.report.history`), one pinned run per name.

``loadgen baseline save RUN_DIR NAME`` adds the run to the history under NAME and pins it; ``loadgen
compare --baseline NAME RUN_DIR`` compares against the pinned run's kept report.json (histograms and
per-second series included, so nothing else is needed). The history file is ``history.db`` in
``./baselines`` unless ``--baselines-dir``, ``LOADGEN_BASELINES`` or ``LOADGEN_HISTORY`` say otherwise,
so a team can commit it next to the code it guards. A folder ``baselines/<name>/report.json`` saved by
an earlier version is still read, so baselines already committed keep working.
"""

from __future__ import annotations

import os

from loadgen.errors import UsageError
from loadgen.report import history
from loadgen.report.build import load_report
from loadgen.report.document import Report
from loadgen.runfolder import REPORT_JSON

baselines_dir = history.folder_of_baselines


def _folders(root: str | os.PathLike[str] | None) -> list[str]:
    """Names saved as folders by an earlier version (read only)."""
    folder = baselines_dir(root)
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if (p / REPORT_JSON).is_file()]


def list_baselines(root: str | os.PathLike[str] | None = None) -> list[str]:
    return sorted({*history.pinned_names(history.history_path(baselines_dir=root)), *_folders(root)})


def save_baseline(run_dir: str | os.PathLike[str], name: str, *, root: str | os.PathLike[str] | None = None,
                  force: bool = False, partial: bool = False) -> history.StoredRun:
    """Add a run to the history under ``name`` and pin it; replacing an existing pin needs ``force``, a run
    stopped by Ctrl-C ``partial``."""
    history.check_name(name, "baseline name")
    db = history.history_path(baselines_dir=root)
    old = history.pinned(name, db)
    if old is not None and not force:
        raise UsageError(f"baseline {name!r} already exists in {db} (run {old.run_id}; use --force to replace it)")
    return history.add_run(run_dir, name, db=db, baseline=True, partial=partial,
                           make_folder=not history.named_file(baselines_dir=root))


def baseline_report(name: str, root: str | os.PathLike[str] | None = None) -> Report:
    """The pinned run's report of a baseline; an unknown name lists the known ones."""
    history.check_name(name, "baseline name")
    db = history.history_path(baselines_dir=root)
    run = history.pinned(name, db)
    if run is not None:
        return history.load_reports((run,), db)[0]
    if name in _folders(root):
        return load_report(baselines_dir(root) / name)
    known = ", ".join(list_baselines(root)) or "none"
    raise UsageError(f"baseline {name!r} not found in {db} (known: {known})")

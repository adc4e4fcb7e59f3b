"""Named baselines: a folder of saved reports that later runs are compared against.

``baselines/<name>/`` holds the run's report.json (histograms and per-second series included, so
nothing else is needed to compare), its HTML and Markdown, and ``baseline.json`` saying where it came
from. The folder is ``./baselines`` unless ``--baselines-dir`` or ``LOADGEN_BASELINES`` says otherwise,
so a team can commit it next to the code it guards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from loadgen.errors import UsageError
from loadgen.report.build import load_report
from loadgen.report.model import iso_utc
from loadgen.runfolder import REPORT_HTML, REPORT_JSON, REPORT_MD

ENV_VAR = "LOADGEN_BASELINES"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def baselines_dir(root: str | os.PathLike[str] | None = None) -> Path:
    return Path(root or os.environ.get(ENV_VAR) or "baselines")


def list_baselines(root: str | os.PathLike[str] | None = None) -> list[str]:
    folder = baselines_dir(root)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / REPORT_JSON).is_file())


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"baseline name {name!r}: use letters, digits, '.', '_' or '-' (max 64)")
    return name


def save_baseline(run_dir: str | os.PathLike[str], name: str, *, root: str | os.PathLike[str] | None = None,
                  force: bool = False) -> Path:
    """Copy a run's reports to ``<root>/<name>/``; an existing name needs ``force``."""
    _check_name(name)
    report = load_report(run_dir)
    target = baselines_dir(root) / name
    if target.exists() and not force:
        raise UsageError(f"baseline {name!r} already exists in {target.parent} (use --force to replace it)")
    tmp = target.with_name(f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    source = Path(run_dir)
    for file in (REPORT_JSON, REPORT_HTML, REPORT_MD):
        if (source / file).is_file():
            shutil.copy2(source / file, tmp / file)
    info = {"name": name, "run_id": report.run.run_id, "scenario": report.run.scenario,
            "source": str(source.resolve()),
            "saved_at": iso_utc()}
    (tmp / "baseline.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def baseline_path(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of a saved baseline; an unknown name lists the known ones."""
    folder = baselines_dir(root) / _check_name(name)
    if not (folder / REPORT_JSON).is_file():
        known = ", ".join(list_baselines(root)) or "none"
        raise UsageError(f"baseline {name!r} not found in {baselines_dir(root)} (known: {known})")
    return folder

"""Build and rebuild a run's reports: report.json first, then each writer draws from it.

Writers are small modules with ``write(report, run_dir) -> Path`` (JSON here, :mod:`html`,
:mod:`md`); a new format is a new module added to :data:`WRITERS`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from loadgen.errors import UsageError
from loadgen.report import html, md
from loadgen.report.document import Report, ReportFormatError
from loadgen.report.model import make_report
from loadgen.report.recorder import Recorder
from loadgen.report.thresholds import apply_thresholds
from loadgen.runfolder import RECORDER, REPORT_JSON, Meta, load_json, read_meta, read_summary, run_folder


def write_json(report: Report, run_dir: Path) -> Path:
    path = run_dir / REPORT_JSON
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


WRITERS: tuple[Callable[[Report, Path], Path], ...] = (write_json, html.write, md.write)


def write_outputs(report: Report, run_dir: str | os.PathLike[str]) -> list[Path]:
    """Write report.json, report.html and report.md into ``run_dir``; return their paths."""
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return [writer(report, folder) for writer in WRITERS]


def build_report(run_dir: str | os.PathLike[str], recorder: Recorder, meta: Meta) -> Report:
    """Make the report of a finished run, judge its thresholds (``meta.thresholds``) and write all outputs.

    The caller decides the exit code from ``report.verdict`` (or
    :func:`loadgen.report.thresholds.exit_code`).
    """
    report = apply_thresholds(make_report(recorder, meta), meta.thresholds, recorder)
    write_outputs(report, run_dir)
    return report


def load_report(path: str | os.PathLike[str]) -> Report:
    """A report.json (or the run folder holding one), checked field by field (:meth:`Report.from_json`)."""
    file = Path(path)
    if file.suffix != ".json":
        file = run_folder(file) / REPORT_JSON
    if not file.exists():
        raise UsageError(f"{file}: no report here (`loadgen report {file.parent}` builds it from the run's "
                         "recorder.json)")
    return Report.from_json(load_json(file, ReportFormatError), str(file))


def _locust_meta(folder: Path) -> Meta:
    """A plain ``locust`` run has no meta.json: its run id, scenario, host and users come from Locust's own
    locust_run.json (our hooks write it), so its report does not say "unknown host"."""
    summary = read_summary(folder)
    return summary.as_meta() if summary is not None else Meta(run_id=folder.name, scenario="")


def rebuild(run_dir: str | os.PathLike[str], thresholds: Iterable[str] = (),
            *, from_recorder: bool = False) -> Report:
    """Redraw a run folder's HTML and Markdown, judging the run's own thresholds plus ``thresholds``.

    Uses report.json when present; otherwise (or with ``from_recorder``) recomputes it from
    recorder.json and meta.json, which is how a report survives a crash before the end of a run.
    """
    folder = run_folder(run_dir)
    meta = read_meta(folder)
    # windowed gates read the per-second data of recorder.json, when the folder still has it
    recorder = _recorder(folder) if (folder / RECORDER).exists() else None
    if (folder / REPORT_JSON).exists() and not from_recorder:
        report = load_report(folder)
    else:
        if recorder is None:
            raise UsageError(f"{folder}: neither {REPORT_JSON} nor {RECORDER} found")
        report = make_report(recorder, meta or _locust_meta(folder))
    # the run's own gates (meta.json) plus these; an earlier rebuild's extras are replaced, not piled up
    own = list(meta.thresholds) if meta is not None else [t.expression for t in report.thresholds]
    report = apply_thresholds(report, list(dict.fromkeys([*own, *thresholds])), recorder)
    write_outputs(report, folder)
    return report


def _recorder(folder: Path) -> Recorder:
    snapshot = load_json(folder / RECORDER)
    if not isinstance(snapshot, dict):
        raise UsageError(f"{folder / RECORDER}: not a recorder snapshot (a JSON object)")
    return Recorder.from_snapshots([snapshot])

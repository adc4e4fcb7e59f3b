"""Reports of load runs: HDR recording, report.json, HTML/Markdown, thresholds and baselines.

Never imports Locust: everything here works on a run folder, on any machine.
"""

from loadgen.report.baselines import baseline_report, list_baselines, save_baseline
from loadgen.report.build import build_report, load_report, rebuild, write_outputs
from loadgen.report.compare import Comparison, Gate, compare_reports, compare_runs, format_table, junit_xml
from loadgen.report.document import SCHEMA_VERSION, Report, ReportFormatError, Verdict
from loadgen.report.model import make_report
from loadgen.report.recorder import Recorder
from loadgen.report.thresholds import (
    Threshold,
    apply_thresholds,
    evaluate,
    exit_code,
    load_threshold_file,
    parse_threshold,
)

__all__ = [
    "SCHEMA_VERSION",
    "Comparison",
    "Gate",
    "Recorder",
    "Report",
    "ReportFormatError",
    "Threshold",
    "Verdict",
    "apply_thresholds",
    "baseline_report",
    "build_report",
    "compare_reports",
    "compare_runs",
    "evaluate",
    "exit_code",
    "format_table",
    "junit_xml",
    "list_baselines",
    "load_report",
    "load_threshold_file",
    "make_report",
    "parse_threshold",
    "rebuild",
    "save_baseline",
    "write_outputs",
]

"""report.json as a typed document: it round-trips, older files still load byte for byte, bad files are one line."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from synthetic_run import SyntheticRun, synthetic_meta, synthetic_recorders

from loadgen.cli import cli
from loadgen.errors import UsageError
from loadgen.report import Recorder, Report, ReportFormatError, load_report, make_report
from loadgen.report.build import write_json

#: A report.json written before the typed model existed (``loadgen run`` of schema version 1).
V1 = Path(__file__).parent / "data" / "report-v1.json"


def _synthetic() -> Report:
    spec = SyntheticRun(duration_s=12, ramp_s=4, seed=5)
    master = Recorder.from_snapshots(w.snapshot() for w in synthetic_recorders(spec))
    return make_report(master, synthetic_meta(spec, "typed"))


def _through_json(report: Report) -> Report:
    return Report.from_json(json.loads(json.dumps(report.to_json(), allow_nan=False)))


def test_a_built_report_round_trips_through_json() -> None:
    report = _synthetic()
    again = _through_json(report)
    assert again == report
    assert again.endpoints["create"].requests > 0 and again.series.length >= 12  # a real run, not an empty one
    assert again.to_json() == report.to_json()


def test_a_schema_v1_file_written_before_the_model_loads_and_rewrites_byte_for_byte(tmp_path: Path) -> None:
    report = load_report(V1)
    assert report.run.run_id == "v1" and report.verdict == "fail" and report.breaches
    assert report.endpoints["create"].latency.service.p99_9 is not None
    write_json(report, tmp_path)
    assert (tmp_path / "report.json").read_bytes() == V1.read_bytes()


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(V1.read_text(encoding="utf-8"))
    return data


def _drop_p95(d: dict[str, Any]) -> None:
    del d["endpoints"]["create"]["latency"]["service"]["p95"]


def _text_requests(d: dict[str, Any]) -> None:
    d["endpoints"]["bulkCreate"]["requests"] = "12"


def _short_series(d: dict[str, Any]) -> None:
    d["series"]["endpoints"]["malformed"]["p99"].pop()


def _bool_as_count(d: dict[str, Any]) -> None:
    d["summary"]["late"] = True


def _stale_verdict(d: dict[str, Any]) -> None:
    d["verdict"] = "pass"


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda d: d.pop("kind"), "not a capture-loadgen report"),
    (lambda d: d.update(kind="locust.stats"), "not a capture-loadgen report"),
    (lambda d: d.update(schema_version=0), "schema_version 0 is not supported"),
    (lambda d: d.update(schema_version=2), "schema_version 2 is not supported (this tool reads 1; the file "
                                           "comes from a newer capture-loadgen)"),
    (lambda d: d.pop("series"), "field 'series' is missing"),
    (_drop_p95, "field 'endpoints.create.latency.service.p95' is missing"),
    (_text_requests, "field 'endpoints.bulkCreate.requests' must be an integer, got '12'"),
    (_bool_as_count, "field 'summary.late' must be an integer, got True"),
    (_short_series, "field 'series.endpoints.malformed.p99' has 3 values, not series.length 4"),
    (_stale_verdict, "field 'verdict' is 'pass' but its thresholds say 'fail'"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_the_field(
        tmp_path: Path, spoil: Callable[[dict[str, Any]], object], message: str) -> None:
    data = _raw()
    spoil(data)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReportFormatError) as caught:
        load_report(tmp_path)
    text = str(caught.value)
    assert isinstance(caught.value, UsageError) and "\n" not in text
    assert text.startswith(f"{path}: ") and message in text, text


def test_loadgen_report_and_compare_exit_2_on_a_bad_file(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    data = _raw()
    _text_requests(data)
    (folder / "report.json").write_text(json.dumps(data), encoding="utf-8")
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(V1, good / "report.json")
    runner = CliRunner()
    for args in (["report", str(folder)], ["compare", str(good), str(folder)]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert "endpoints.bulkCreate.requests" in result.output and "Traceback" not in result.output

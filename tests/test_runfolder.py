"""The run folder's meta.json: typed, versioned, and one line naming the file and field when it cannot be read."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from synthetic_run import write_synthetic_run

from loadgen.cli import cli
from loadgen.errors import UsageError
from loadgen.ramp import Stage
from loadgen.report import rebuild
from loadgen.runfolder import (
    LEDGER,
    LOCUST_RUN,
    META,
    LedgerAccount,
    LocustSummary,
    Meta,
    MetaFormatError,
    WorkerAccount,
    read_meta,
    read_summary,
    write_locust_files,
    write_meta,
)

FULL = Meta(
    run_id="r1", scenario="mixed", host="http://127.0.0.1:8765", targets={"create": {"requests_per_s": 5.0}},
    stages=(Stage(0.0, 10.0), Stage(30.0, 20.0)), duration_s=30.0, seed=7, profile="default", bulk_size=20,
    workers=2, users=10, max_records=500, capture_auth="signed", thresholds=("create.p95<300ms",),
    versions={"python": "3.11.9"}, embedded_sandbox=True, type_name="member", schema_file="schema.json",
    schema_fingerprint="3f9a", ledger_version=2, started_at=1_764_000_000.5, ended_at=1_764_000_031.0,
    workers_cpu={"0": 41.5}, stop_reasons=("max-records reached",), dropped={"create": 1}, ledger_records=99,
    server_records=99, nothing_lost=True, locust_exit_code=0, interrupted=False, unanswered=0,
    warnings=("a warning",),
)


def test_meta_round_trips_through_its_file(tmp_path: Path) -> None:
    assert Meta.from_json(json.loads(json.dumps(FULL.to_json()))) == FULL
    write_meta(tmp_path, FULL)
    assert read_meta(tmp_path) == FULL
    assert json.loads((tmp_path / META).read_text())["format_version"] == 1


def test_a_folder_without_meta_json_reads_as_none(tmp_path: Path) -> None:
    assert read_meta(tmp_path) is None


def test_an_older_meta_json_without_a_version_still_reads(tmp_path: Path) -> None:
    """Runs written before format_version keep working with `loadgen report` and `cleanup`."""
    (tmp_path / META).write_text(json.dumps({"run_id": "old", "scenario": "create", "host": "http://127.0.0.1:1",
                                             "targets": {"create": 10}, "ledger_records": 3}))
    meta = read_meta(tmp_path)
    assert meta == Meta(run_id="old", scenario="create", host="http://127.0.0.1:1", targets={"create": 10},
                        ledger_records=3)


def _write(text: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / META).write_text(text, encoding="utf-8")
    return write


def _spoil(**changes: Any) -> Callable[[Path], None]:
    data = {**FULL.to_json(), **changes}
    return _write(json.dumps({k: v for k, v in data.items() if v is not ...}))


BAD: list[tuple[Callable[[Path], None], str]] = [
    (_write('{"run_id": "x", "scen'), "not valid JSON"),
    (_write('{"whatever": 1}'), "not a capture-loadgen meta.json"),
    (_write('{"kind": "capture-loadgen.report", "schema_version": 1}'), "not a capture-loadgen meta.json"),
    (_spoil(format_version=2), "meta.json format_version 2 is not supported (this tool reads 1; the file comes "
                               "from a newer capture-loadgen)"),
    (_spoil(ledger_records="3"), "field 'ledger_records' must be an integer, got '3'"),
    (_spoil(stages=[{"duration_s": 1}]), "field 'stages[0].rate' is missing"),
    (_spoil(host=...), "field 'host' is missing"),
    (_write(json.dumps({"run_id": "old", "scenario": "create", "embedded_sandbox": "yes"})),
     "field 'embedded_sandbox' must be true or false"),
]


@pytest.mark.parametrize(("spoil", "message"), BAD)
def test_a_bad_meta_json_is_one_line_naming_the_file_and_the_field(
        tmp_path: Path, spoil: Callable[[Path], None], message: str) -> None:
    spoil(tmp_path)
    with pytest.raises(MetaFormatError) as caught:
        read_meta(tmp_path)
    text = str(caught.value)
    assert isinstance(caught.value, UsageError) and "\n" not in text
    assert text.startswith(f"{tmp_path / META}: ") and message in text, text


def test_report_from_recorder_reads_an_older_meta_json(tmp_path: Path) -> None:
    write_synthetic_run(tmp_path, run_id="before")
    old = {k: v for k, v in json.loads((tmp_path / META).read_text()).items()
           if k not in ("format_version", "kind", "warnings", "ledger_version", "unanswered")}
    (tmp_path / META).write_text(json.dumps(old))
    report = rebuild(tmp_path, from_recorder=True)
    assert report.run.run_id == "before" and report.run.host == "http://127.0.0.1:8765/"


@pytest.mark.parametrize(("spoil", "message"), BAD[1:5])
def test_loadgen_report_and_cleanup_exit_2_with_one_line_on_a_bad_meta_json(
        tmp_path: Path, spoil: Callable[[Path], None], message: str) -> None:
    write_synthetic_run(tmp_path)
    (tmp_path / LEDGER).write_text("", encoding="utf-8")   # an empty ledger: cleanup reads meta.json next
    spoil(tmp_path)
    runner = CliRunner()
    for args in (["report", str(tmp_path)], ["cleanup", str(tmp_path), "--url", "http://127.0.0.1:9"]):
        result = runner.invoke(cli, args)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2, result.output
        assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / META}: ") and message in lines[0], lines


def test_locust_summary_round_trips_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    """locust_run.json as the master of a distributed run writes it, then with a mistyped account."""
    summary = LocustSummary(
        run_id="r1", workers=2, records=10, dropped={"create": 1}, workers_cpu={"0": 12.5}, unanswered=0,
        stop_reasons=("the last stage ended",), started_at=1.0, ended_at=2.0, ledger_dir="ledger",
        ledger=LedgerAccount(LEDGER, 9, {"1": WorkerAccount(reported=5, received=4, unconfirmed=1, missing=True)}),
        ledger_warnings=("worker 1 stopped answering",))
    write_locust_files(tmp_path, {}, summary)
    assert read_summary(tmp_path) == summary
    local = replace(summary, ledger=None, ledger_warnings=())
    assert "ledger" not in local.to_json() and LocustSummary.from_json(local.to_json()) == local
    data = summary.to_json()
    data["ledger"]["workers"]["1"]["missing"] = "yes"  # type: ignore[index]
    (tmp_path / LOCUST_RUN).write_text(json.dumps(data))
    with pytest.raises(UsageError) as caught:
        read_summary(tmp_path)
    assert str(caught.value) == (f"{tmp_path / LOCUST_RUN}: field 'ledger.workers.1.missing' must be true or "
                                 "false, got 'yes'")

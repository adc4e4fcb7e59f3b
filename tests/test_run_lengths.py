"""``loadgen run``'s length: ``--stages`` replace ``--duration``, so the two together are refused, never one
ignored (a run asked for 5 s that lasted the stages' 3 s)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from loadgen.cli import cli


def test_stages_with_an_explicit_duration_is_a_usage_error_naming_both(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--stages", "3s:10", "--duration", "5s", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert "error: --duration 5s and --stages '3s:10' both set how long the run lasts" in result.output
    assert not (tmp_path / "runs").exists()

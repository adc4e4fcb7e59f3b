"""report.html renders offline in headless Chromium (skipped where no Chromium is installed)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from synthetic_run import SyntheticRun, write_synthetic_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium_without_network(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_synthetic_run(run, SyntheticRun(duration_s=20, stall_at=12.0), thresholds=["error_rate<1%"])
    shot = tmp_path / "report.png"
    assert CHROMIUM is not None
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # any fetch would fail
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1280,1600", (run / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    assert len(data) > 60_000  # charts and tables, not a blank page

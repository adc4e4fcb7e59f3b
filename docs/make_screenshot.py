"""Render a synthetic run's report.html in headless Chromium and save docs/report.png.

Usage: .venv/bin/python docs/make_screenshot.py [OUT.png]   (needs `chromium` on PATH)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from loadgen.report.synthetic import SyntheticRun, write_synthetic_run

THRESHOLDS = ["create.p95<8ms", "bulkCreate.records_per_s>150", "error_rate<1%", "create.intended_p99<2s"]


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("report.png")).resolve()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        sys.exit("chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "20261125-183000-mixed"
        write_synthetic_run(run, SyntheticRun(), thresholds=THRESHOLDS)
        profile = Path(tmp) / "chromium-profile"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={out}",
                        "--window-size=1280,2900", (run / "report.html").as_uri()],
                       check=True, capture_output=True, timeout=120)
    sys.stdout.write(f"{out}\n")


if __name__ == "__main__":
    main()

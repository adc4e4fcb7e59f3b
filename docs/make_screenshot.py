"""Run a short real load test against the embedded sandbox and save its report.html as docs/report.png.

The README's picture is of a real run, not a fixture: a 30 s mixed ramp on this machine, labelled with
its run id (the date and the scenario) in the page itself.

Usage: .venv/bin/python docs/make_screenshot.py [OUT.png]   (needs `chromium` on PATH)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

THRESHOLDS = ["create.p95<50ms", "bulkCreate.records_per_s>150", "error_rate<1%", "create.intended_p99<2s"]


def screenshot(page: Path, out: Path, window: str) -> None:
    """``page`` as a PNG at ``out``, rendered by headless Chromium at ``window`` (e.g. "1280,2900")."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        sys.exit("chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={out}",
                        f"--window-size={window}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("report.png")).resolve()
    loadgen = Path(sys.executable).with_name("loadgen")
    with tempfile.TemporaryDirectory() as tmp:
        args = [str(loadgen), "run", "--scenario", "mixed", "--stages", "10s:40,20s:40", "--bulk-rate", "2",
                "--out", tmp, "--run-id", "readme-real-run"]
        for threshold in THRESHOLDS:
            args += ["--threshold", threshold]
        subprocess.run(args, check=False, timeout=300)   # a failed threshold exits 3 and still writes the report
        page = Path(tmp) / "readme-real-run" / "report.html"
        if not page.is_file():
            sys.exit(f"the run wrote no report: {page}")
        screenshot(page, out, "1280,3500")
    sys.stdout.write(f"{out}\n")


if __name__ == "__main__":
    main()

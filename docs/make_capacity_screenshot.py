"""Run a real ``loadgen capacity`` search against the embedded sandbox and save its page as docs/capacity.png.

The sandbox gets a known capacity (2 calls at a time, 50 ms each: 40 creates/s, the excess refused with
510), so the picture shows a real knee: achieved follows offered up to it, errors and latency after.

Usage: .venv/bin/python docs/make_capacity_screenshot.py [OUT.png]   (needs `chromium` on PATH)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ARGS = ["--slo", "error_rate<1%", "--slo", "create.intended_p99<300ms", "--start-rate", "10", "--max-rate", "200",
        "--step", "10s", "--warmup", "2s", "--sandbox-latency", "50", "--sandbox-concurrency-limit", "2"]


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("capacity.png")).resolve()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        sys.exit("chromium not found: apt-get install -y chromium")
    loadgen = Path(sys.executable).with_name("loadgen")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(loadgen), "capacity", *ARGS, "--out", tmp, "--run-id", "readme-capacity"],
                       check=False, timeout=600)
        page = Path(tmp) / "readme-capacity" / "capacity.html"
        if not page.is_file():
            sys.exit(f"the search wrote no page: {page}")
        profile = Path(tmp) / "chromium-profile"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={out}",
                        "--window-size=1280,1150", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    sys.stdout.write(f"{out}\n")


if __name__ == "__main__":
    main()

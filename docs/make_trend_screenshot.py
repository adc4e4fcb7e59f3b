"""Build a history of 30 runs with a known 10% latency step and save its trend page as docs/trend.png.

The runs are the report tests' synthetic runs (``tests/synthetic_run.py``: real Recorders and HDR
histograms, 60 s at 40 create/s each) with a per-run machine factor of 3% and every latency 10% higher
from run 26 on, so the picture shows what ``loadgen history report`` draws for a real regression.

Usage: .venv/bin/python docs/make_trend_screenshot.py [OUT.png]   (needs `chromium` on PATH)
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path

from make_screenshot import screenshot

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from synthetic_run import SyntheticRun, write_synthetic_run  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("trend.png")).resolve()
    loadgen = Path(sys.executable).with_name("loadgen")
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "history.db"
        for i in range(30):
            factor = rng.lognormvariate(0, 0.03) * (1.10 if i >= 25 else 1.0)
            run_dir = folder / "runs" / f"run-{i + 1:02}"
            write_synthetic_run(run_dir, SyntheticRun(seed=i, latency_factor=factor, start=1_764_000_000.0 + i * 86400))
            subprocess.run([str(loadgen), "history", "add", str(run_dir), "--db", str(db), "--commit",
                            f"{rng.getrandbits(40):010x}"], check=True, capture_output=True)
        subprocess.run([str(loadgen), "history", "report", "main", "--db", str(db), "--out", str(folder)],
                       check=False)   # exits 3: the step is a regression within the newest runs
        screenshot(folder / "trend.html", out, "1280,2400")
    sys.stdout.write(f"{out}\n")


if __name__ == "__main__":
    main()

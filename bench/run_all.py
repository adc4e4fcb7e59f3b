"""Run every bench, then one summary table of their paired ratios; exit 1 if any target was missed.

Every bench runs to its end even when an earlier one missed (each is its own process, its ratios
appended to the results file through ``BENCH_RESULTS``); a bench that crashes counts as a miss. The
first line of the results file says when and on what machine they were measured, so ``--readme``
can rewrite the README's speed table from this very run (between its ``bench:begin``/``bench:end``
markers), now or later with ``--no-run``.

    .venv/bin/python bench/run_all.py [--only profiles,fast] [--results runs/bench-results.jsonl]
                                      [--readme README.md] [--no-run]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from _paired import Ratio, Target

BENCHES = ("profiles", "generate", "strategies", "sandbox", "hostile", "locust_overhead", "fast", "history")
HERE = Path(__file__).parent
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def machine() -> str:
    """What the figures were measured on, in one line (cores, CPU model, Python, load when it began)."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, {platform.system()}; "
            f"load average {load} at the start")


def run(benches: list[str], results: Path) -> list[str]:
    """Run each bench with its output shown; the names of those that crashed (no ratio recorded)."""
    results.parent.mkdir(parents=True, exist_ok=True)
    header = {"date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "machine": machine()}
    results.write_text(json.dumps(header) + "\n", encoding="utf-8")
    crashed = []
    for name in benches:
        print(f"\n=== bench/{name}.py", flush=True)
        before = len(read(results)[1])
        done = subprocess.run([sys.executable, str(HERE / f"{name}.py")], env={**os.environ,
                              "BENCH_RESULTS": str(results)}, check=False)
        if len(read(results)[1]) == before:
            print(f"bench/{name}.py recorded no ratio (exit code {done.returncode})", flush=True)
            crashed.append(name)
    return crashed


def read(results: Path) -> tuple[dict[str, str], list[Ratio]]:
    lines = results.read_text(encoding="utf-8").splitlines()
    ratios = []
    for line in lines[1:]:
        data = json.loads(line)
        target = data.pop("target")
        ratios.append(Ratio(**data, target=Target(**target) if target else None))
    return json.loads(lines[0]), ratios


def summary(ratios: list[Ratio], crashed: list[str]) -> str:
    rows = [f"{'bench':<20} {'ratio':<46} {'median':>8} {'spread':>15} {'target':>8}  verdict"]
    rows += [f"{r.bench:<20} {r.name:<46} {r.median:>8.3g} {f'{r.low:.3g}..{r.high:.3g}':>15} "
             f"{r.target or '-'!s:>8}  {r.verdict}" for r in ratios]
    rows += [f"{name + '.py':<20} {'(crashed: no ratio)':<46} {'':>8} {'':>15} {'':>8}  MISSED" for name in crashed]
    return "\n".join(rows)


def markdown(header: dict[str, str], ratios: list[Ratio]) -> str:
    rows = [f"Measured {header['date']} on {header['machine']}.", "",
            "| bench | ratio | median | spread | target | verdict | medians (context only) |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| `bench/{r.bench}` | {r.name} | {r.median:.3g} | {r.low:.3g}-{r.high:.3g} | "
             f"{str(r.target or '-').replace('>=', '≥').replace('<=', '≤')} | {r.verdict} | {r.context} |"
             for r in ratios]
    return "\n".join(rows)


def write_readme(readme: Path, table: str) -> None:
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        sys.exit(f"error: {readme} has no {BEGIN} ... {END} markers")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--results", type=Path, default=Path("runs/bench-results.jsonl"))
    parser.add_argument("--readme", type=Path, help="rewrite this README's speed table from the results")
    parser.add_argument("--no-run", action="store_true", help="only summarise the results file")
    args = parser.parse_args(argv)
    benches = args.only.split(",") if args.only else list(BENCHES)
    unknown = set(benches) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench {sorted(unknown)[0]!r}")
    crashed = [] if args.no_run else run(benches, args.results)
    header, ratios = read(args.results)
    print(f"\n=== summary ({header['date']}, {header['machine']})\n{summary(ratios, crashed)}")
    if args.readme:
        write_readme(args.readme, markdown(header, ratios))
        print(f"wrote the speed table of {args.readme}")
    return 1 if crashed or any(r.verdict == "MISSED" for r in ratios) else 0


if __name__ == "__main__":
    sys.exit(main())

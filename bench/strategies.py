"""How many examples per second each fuzzing strategy generates through Hypothesis's engine.

Usage: .venv/bin/python bench/strategies.py [seconds per measurement, default 2]

Each strategy is driven by ``hypothesis.find`` with a condition that counts calls and stops when
the time is up (generation only: no shrinking, no database), so the figure includes the engine's
own overhead, as in a real test. ``integers()`` is measured alongside as the engine's ceiling on
this machine: compare the ratio, not the absolute numbers, on a shared machine. The target is at
least 2,000 malformed examples per second.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st

from loadgen.schema import default_schema
from loadgen.strategies import bulk_payloads, malformed_json, schema_violations, valid_records, wrong_shape

TARGET = 2000.0


def rate(strategy: st.SearchStrategy[Any], seconds: float) -> float:
    """Examples per second that ``strategy`` yields through the engine for ``seconds``."""
    count = 0
    end = time.perf_counter() + seconds

    def done(_: Any) -> bool:
        nonlocal count
        count += 1
        return time.perf_counter() >= end

    start = time.perf_counter()
    find(strategy, done, settings=settings(max_examples=10**9, database=None, deadline=None,
                                           phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    return count / (time.perf_counter() - start)


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    schema = default_schema()
    ceiling: st.SearchStrategy[Any] = st.integers()
    text, binary = malformed_json(schema), malformed_json(schema, binary=True)
    rate(text, 0.5)  # warm-up: the seed records are serialised once per schema
    rounds: dict[str, list[float]] = {"integers() (engine ceiling)": [], "malformed_json": [],
                                      "malformed_json(binary=True)": []}
    for _ in range(3):  # interleaved, so a burst of load on a shared machine hits all three alike
        for name, strategy in zip(rounds, (ceiling, text, binary), strict=True):
            rounds[name].append(rate(strategy, seconds))
    results = {name: statistics.median(values) for name, values in rounds.items()}
    others: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("wrong_shape", wrong_shape(schema)), ("valid_records", valid_records(schema)),
        ("schema_violations", schema_violations(schema)), ("bulk_payloads", bulk_payloads(schema))]
    for name, strategy in others:
        results[name] = rate(strategy, seconds)
    top = results["integers() (engine ceiling)"]
    print(f"{'strategy':<30} {'examples/s':>11} {'vs ceiling':>10}   (median of 3 for the first three)")
    for name, value in results.items():
        print(f"{name:<30} {value:>11,.0f} {value / top:>10.2f}")
    malformed = results["malformed_json"]
    verdict = "ok" if malformed >= TARGET else "BELOW TARGET"
    print(f"malformed_json: {malformed:,.0f}/s against a target of {TARGET:,.0f}/s: {verdict}")
    return 0 if malformed >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

"""How many examples per second each fuzzing strategy generates through Hypothesis's engine.

Usage: .venv/bin/python bench/strategies.py [seconds per measurement, default 1]

Each strategy is driven by ``hypothesis.find`` with a condition that counts calls and stops when
the time is up (generation only: no shrinking, no database), so the figure includes the engine's
own overhead, as in a real test. ``integers()`` is measured in the same interleaved rounds
(``bench/_paired.py``) as the engine's ceiling on this machine, and only ratios to it are judged. The
target, at least 0.45 of the ceiling for ``malformed_json``, is issue 3's 2,000 examples/s on the
reference machine, whose ceiling was 4,370/s.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from _paired import Target, finish, interleave, ratio
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st

from loadgen.schema import default_schema
from loadgen.strategies import bulk_payloads, malformed_json, schema_violations, valid_records, wrong_shape

TARGET = 0.45
ROUNDS = 5


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
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    schema = default_schema()
    subjects: dict[str, st.SearchStrategy[Any]] = {
        "integers()": st.integers(), "malformed_json": malformed_json(schema),
        "malformed_json(binary=True)": malformed_json(schema, binary=True), "wrong_shape": wrong_shape(schema),
        "valid_records": valid_records(schema), "schema_violations": schema_violations(schema),
        "bulk_payloads": bulk_payloads(schema)}
    # the warm-up serialises the seed records once per schema
    values = interleave({name: (lambda s=strategy: rate(s, seconds)) for name, strategy in subjects.items()},
                        ROUNDS, "examples/s")
    return finish([ratio("strategies.py", f"{name} / integers()", values, name, "integers()",
                         Target(TARGET) if name == "malformed_json" else None, "examples/s")
                   for name in subjects if name != "integers()"])


if __name__ == "__main__":
    sys.exit(main())

"""``loadgen generate`` end to end against the factory alone, and 2 jobs against 1.

Factory-only makes the profiles and drops them, ``SLICE`` at a time (the factory's best pace: a
thousand profiles alive at once are slower to make, which the bench prints too); end to end makes,
serialises and writes them to a file in one of the formats, chunk by chunk as
``loadgen.generation.write`` does with one job. Both are timed in this process's CPU seconds, one core,
the subjects taking turns chunk by chunk (a round of ``--count`` profiles each; ``bench/_paired.py``'s
``interleave_steps``: this VM's speed drifts by half within seconds, so whole-subject turns of a second
each compared the drift): target >= 0.8 of the factory's rate for JSONL, CSV and form bodies. Then
``--jobs 2`` against ``--jobs 1`` on JSONL, in wall time (the point of jobs): target >= 1.6x on 2 cores,
which a machine busy with other work cannot give.

    .venv/bin/python bench/generate.py [--rounds 5] [--count 50000] [--jobs-rounds 9]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from _paired import Ratio, Target, finish, interleave, interleave_steps, ratio

from loadgen.generation import CHUNK, SLICE, Generation, _Encoder, write
from loadgen.profiles import Profile
from loadgen.schema import default_schema

TODAY = date(2026, 11, 25)


def timed(work: Callable[[], None], count: int, clock: Callable[[], float]) -> Callable[[], float]:
    def run() -> float:
        start = clock()
        work()
        return count / (clock() - start)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=50_000, help="profiles per subject per round")
    parser.add_argument("--jobs-rounds", type=int, default=9,
                        help="rounds of 1 job against 2 (wall time on both cores: its rounds spread widest)")
    args = parser.parse_args()
    schema, profile = default_schema(), Profile()
    results: list[Ratio] = []
    with tempfile.TemporaryDirectory() as tmp:
        def end_to_end(fmt: str, count: int, jobs: int) -> Callable[[], None]:
            gen = Generation(schema, profile, fmt, count, seed=7, today=TODAY)

            def run() -> None:
                with open(Path(tmp) / f"out.{fmt}", "wb") as out:
                    write(gen, out, jobs=jobs)
            return run

        factory = Generation(schema, profile, "jsonl", 0, seed=7, today=TODAY).factory()

        def factory_only(i: int) -> float:
            for _ in factory.chunk_parts(i, CHUNK, SLICE):
                pass
            return CHUNK

        def end_to_end_step(fmt: str) -> Callable[[int], float]:
            """What ``write`` does for one chunk with one job: make it, encode it, write it to a file."""
            encoder = _Encoder(Generation(schema, profile, fmt, 0, seed=7, today=TODAY))
            out = open(Path(tmp) / f"steps.{fmt}", "wb", buffering=1 << 20)  # noqa: SIM115 (closed with tmp)

            def step(i: int) -> float:
                if i == 0:
                    out.seek(0)
                    out.truncate()
                out.writelines(encoder.chunk(i, CHUNK))
                return CHUNK
            return step

        whole = Generation(schema, profile, "jsonl", 0, seed=7, today=TODAY).factory()

        def factory_whole_chunk(i: int) -> float:
            whole.chunk(i, CHUNK)  # the same profiles, all alive at once (how generate made them before)
            return CHUNK

        subjects = {"factory": factory_only, "factory, whole chunk": factory_whole_chunk,
                    **{fmt: end_to_end_step(fmt) for fmt in ("jsonl", "csv", "form")}}
        steps = args.count // CHUNK
        print(f"one core, {steps * CHUNK:,} profiles per subject per round, the subjects taking turns chunk by "
              f"chunk ({CHUNK:,} profiles), rates in profiles per CPU-second")
        values = interleave_steps(subjects, args.rounds, steps, "profiles/CPU-s", time.process_time)
        results += [ratio("generate.py", f"end to end {fmt} / factory", values, fmt, "factory", Target(0.8),
                          "profiles/CPU-s") for fmt in ("jsonl", "csv", "form")]
        results.append(ratio("generate.py", f"factory in parts of {SLICE} / whole chunks", values, "factory",
                             "factory, whole chunk", None, "profiles/CPU-s"))

        count = 2 * args.count
        print(f"\n--jobs 2 against --jobs 1, JSONL, {count:,} profiles, profiles per second (wall), "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        values = interleave({f"{jobs} job{'s' if jobs > 1 else ''}": timed(end_to_end("jsonl", count, jobs), count,
                                                                         time.perf_counter) for jobs in (1, 2)},
                            args.jobs_rounds, "profiles/s")
        results.append(ratio("generate.py", "2 jobs / 1 job (jsonl)", values, "2 jobs", "1 job", Target(1.6),
                             "profiles/s"))
    return finish(results)


if __name__ == "__main__":
    sys.exit(main())

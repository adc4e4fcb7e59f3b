"""The phases around a run's measured period: a warm-up before it, gates that may end it early, a prefill.

A baseline report states the application's steady state: the first seconds (cold caches, connection
pools, the JIT of the target) are not it, so ``--warmup`` keeps them out of the summary, the gates and
``compare`` while the charts still draw them (shaded). ``--abort-on-fail`` stops a run as soon as a
window of a windowed gate (``create.p99[30s]<300ms``) fails, judged on the Locust master
(:mod:`loadgen.locust.gates`). ``--prefill`` seeds the store first (:mod:`loadgen.prefill`), because a
unique index and an identity store slow down as they fill: a latency means little without the store
size it was measured at.

``loadgen run`` carries these as one :class:`Phases` value; the Locust child gets them as options.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadgen.errors import UsageError

#: bulkCreate requests/s of a prefill unless told: gentle on a real domain, quick on the sandbox.
DEFAULT_PREFILL_RATE = 5.0
#: records per prefill bulkCreate unless told.
DEFAULT_PREFILL_BATCH = 100


@dataclass(frozen=True, slots=True)
class Phases:
    """``--warmup``, ``--abort-on-fail`` (+ ``--abort-delay``) and ``--prefill`` of one run."""

    warmup: float = 0.0
    abort_on_fail: bool = False
    abort_delay: float = 0.0
    prefill: int = 0
    prefill_rate: float = DEFAULT_PREFILL_RATE     # bulkCreate requests/s
    prefill_batch: int = DEFAULT_PREFILL_BATCH     # records per bulkCreate

    def check(self, run_s: float, *, staged: bool, thresholds: Sequence[str]) -> None:
        """Refuse what cannot work, in one line, before anything starts."""
        from loadgen.report.thresholds import parse_thresholds

        if self.warmup < 0 or self.abort_delay < 0:
            raise UsageError("--warmup and --abort-delay must be >= 0")
        if staged and self.warmup >= run_s:
            raise UsageError(f"--warmup {self.warmup:g}s leaves nothing to measure of --stages' {run_s:g}s")
        if self.abort_on_fail and not any(t.window_s for t in parse_thresholds(thresholds)):
            raise UsageError("--abort-on-fail judges windowed gates while the run goes on: add one, e.g. "
                             "--threshold 'create.p99[30s]<300ms'")
        if self.prefill < 0 or self.prefill_rate <= 0 or not 1 <= self.prefill_batch <= 1000:
            raise UsageError("--prefill must be >= 0, --prefill-rate > 0 and --prefill-batch between 1 and 1000")

    def locust_args(self, thresholds: Sequence[str]) -> list[str]:
        """The Locust child's options for these phases."""
        args = ["--warmup", f"{self.warmup:g}"] if self.warmup else []
        if self.abort_on_fail:
            args += ["--gates", ";".join(thresholds), "--abort-on-fail", "--abort-delay", f"{self.abort_delay:g}"]
        return args

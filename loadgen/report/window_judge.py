"""The judge of windowed gates during a run (``--abort-on-fail``): each window judged once, as it completes.

Apart from the Locust wiring (:mod:`loadgen.locust.gates`, which calls it each second on the master) so it
can be tested, and reasoned about, on a recorder alone. The judgement is the report's own
(:func:`loadgen.report.thresholds.judge_windows`), so the window that stops a run is the one the report names.
"""

from __future__ import annotations

import math
import time

from loadgen.report.recorder import Recorder
from loadgen.report.thresholds import Threshold, format_metric, judge_windows, parse_thresholds
from loadgen.report.windows import measured_seconds
from loadgen.runfolder import ABORT_PREFIX


class WindowJudge:
    """The windowed gates of one run, each judged on the windows that completed since its last look."""

    def __init__(self, gates: tuple[str, ...], delay_s: float) -> None:
        self.gates: list[Threshold] = [t for t in parse_thresholds(gates) if t.window_s is not None]
        self.delay_s = delay_s
        self.judged: dict[str, int] = {}

    def breach(self, recorder: Recorder, until: int) -> str | None:
        """The first broken gate as one line (``gate create.p99[5s]<50ms broke at 12s: 83.1 ms``), or None.

        ``until``: the epoch second up to which every second is complete.
        """
        first, end = measured_seconds(recorder)
        if recorder.measure_from is not None and time.time() < recorder.measure_from:
            return None   # still warming up
        start = first + math.ceil(self.delay_s)
        for gate in self.gates:
            after = max(self.judged.get(gate.expression, 0), start + int(gate.window_s or 1) - 1)
            verdict = judge_windows(recorder, gate, after=after, until=until)
            # judged up to the seconds the recorder holds: a lagging worker report or a stalled target leaves
            # later windows for the next look, not marked judged unseen
            self.judged[gate.expression] = max(after, min(until, end))
            if not verdict.ok and verdict.at_s is not None:
                value = format_metric(gate.metric, verdict.actual or 0.0)
                return f"{ABORT_PREFIX}{gate.expression} broke at {verdict.at_s:.0f}s: {value}"
        return None

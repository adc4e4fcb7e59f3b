"""The judge of windowed gates during a run (``--abort-on-fail``): each window judged once, as it completes.

Apart from the Locust wiring (:mod:`loadgen.locust.gates`, which calls it each second on the master) so it
can be tested, and reasoned about, on a recorder alone. The judgement is the report's own
(:func:`loadgen.report.thresholds.judge_windows`), on the same windows from the same measured start, and
only on seconds whose data is complete: the breach that stops a run is the one the report names, with the
same window and value.
"""

from __future__ import annotations

import math

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
        #: the first breach seen, (window end in seconds after the measured start, stop reason)
        self.first_breach: tuple[float, str] | None = None

    def breach(self, recorder: Recorder, until: int) -> str | None:
        """The first broken gate as one line (``gate create.p99[5s]<50ms broke at 12s: 83.1 ms``), once
        ``--abort-delay`` is over, or None.

        ``until``: the epoch second up to which every second is complete (every worker reported after it).
        Every window is judged, from the measured start, as the report judges them; the delay only holds the
        stop back, so a window that broke during it is the one named, as in the report, not a later one (the
        report fails the gate on it whatever happens next: going on would not mend the verdict).
        """
        first, end = measured_seconds(recorder)
        if recorder.measure_from is not None and until < math.ceil(recorder.measure_from):
            return None   # still warming up
        for gate in self.gates:
            after = self.judged.get(gate.expression, first + int(gate.window_s or 1) - 1)
            verdict = judge_windows(recorder, gate, after=after, until=until)
            # judged up to the seconds the recorder holds: a stalled target leaves later windows for the next look
            self.judged[gate.expression] = max(after, min(until, end))
            if not verdict.ok and verdict.at_s is not None and (
                    self.first_breach is None or verdict.at_s < self.first_breach[0]):
                value = format_metric(gate.metric, verdict.actual or 0.0)
                self.first_breach = (verdict.at_s,
                                     f"{ABORT_PREFIX}{gate.expression} broke at {verdict.at_s:.0f}s: {value}")
        if self.first_breach is None or until - first < math.ceil(self.delay_s):
            return None
        return self.first_breach[1]

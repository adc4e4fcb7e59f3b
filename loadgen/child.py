"""A child process in its own session, and what a Ctrl-C does to it: reach it once, give it time to stop.

``loadgen run`` (Locust) and ``loadgen fuzz`` (pytest) run their work in a child so that a Ctrl-C stops it
cleanly: in-flight requests get their answers, the fuzzers delete what they created.
"""

from __future__ import annotations

import contextlib
import math
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

#: How often a child that only notes Ctrl-C where it can stop (``wait_child``'s ``repeat``) is told again.
_REPEAT = 1.0


def deaf_to_ctrl_c() -> None:
    """A ``preexec_fn``: the child ignores SIGINT (an ignored signal stays ignored across ``exec``) until it
    sets a handler of its own. ``loadgen fuzz``'s pytest sets one only while a property runs, where it can
    stop between two requests: a Ctrl-C that reached it while it loaded its plugins or started the sandbox
    printed a traceback (pytest's, or the interpreter's). (``preexec_fn`` is unsafe in a process with
    threads: ``loadgen fuzz`` has none when it starts its child.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def wait_child(start: Callable[[], subprocess.Popen[Any]], *, grace: float, tick: Callable[[], None] | None = None,
               repeat: bool = False) -> tuple[int, bool]:
    """Start a child in its own session (``start``) and wait for it: (exit code, interrupted).

    A Ctrl-C here (or a SIGTERM, or the terminal's SIGHUP) reaches the child once, as a SIGINT from
    here, and it gets ``grace`` seconds to finish: a second SIGINT, or the kill ``subprocess.run``
    sends, would cut its clean stop short (Locust's in-flight requests, the fuzzers' deletes). The first
    press says it is stopping (a long clean stop must not look like a hang), a second only says it is still
    stopping; a third gives up on the child, which is then terminated, or killed.
    The signals are counted, never raised, so no press can land in the middle of this handling.
    The child is started once they are counted, so a press while it starts is not lost, nor raised
    here, which would leave it running unwatched. With ``repeat`` (a child started :func:`deaf_to_ctrl_c`,
    whose handler only notes a press), the SIGINT is sent again every second until the child ends, so it
    arrives once the child listens.
    """
    presses = 0

    def press(signum: int, frame: object) -> None:
        nonlocal presses
        presses += 1

    seen, deadline, sent = 0, math.inf, math.inf
    with _stop_signals(press), start() as proc:
        while True:
            try:
                return proc.wait(timeout=0.2), seen > 0
            except subprocess.TimeoutExpired:
                pass
            now, count = time.monotonic(), presses
            if (count >= 1 > seen) or (repeat and now > sent + _REPEAT):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)
                sent = now
            if count >= 1 > seen:
                deadline = now + grace
                sys.stderr.write("\nstopping cleanly: in-flight requests get their answers, then the results are "
                                 "written\n")
            if count >= 2 > seen:
                sys.stderr.write("still stopping cleanly; Ctrl-C again abandons the in-flight requests\n")
            seen = count
            if count >= 3 or now > deadline:
                proc.terminate()
                try:
                    return proc.wait(timeout=10), True
                except subprocess.TimeoutExpired:
                    proc.kill()
                    return proc.wait(), True
            if count == 0 and tick is not None:
                tick()


@contextlib.contextmanager
def _stop_signals(handler: Callable[[int, object], None]) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP go to ``handler`` meanwhile: the child is in its own session and sees none."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

"""Create a user, then entity.find it until it shows: time-to-visible as its own metric.

    loadgen run --locustfile locustfiles/examples/time_to_visible.py --scenario create --create-rate 2

New records can take minutes to reach entity.find and entity.count on a real Capture domain. The
report's "time_to_visible" row has its percentiles (ms from the create's answer to the first find
that returned the record); one never seen within the polls counts as a failure of that row.
"""

import time

from locust import run_single_user

from loadgen.locust.users import CaptureUser, paced

POLLS, PAUSE_S = 120, 0.5      # at most a minute per record


class TimeToVisible(CaptureUser):
    @paced("create")
    def create_then_find(self) -> None:
        made = self.capture.create()
        if not made.ok:
            return
        created = time.monotonic()
        for _ in range(POLLS):
            if self.capture.find(f"uuid = '{made.uuid}'", attributes=["uuid"], name="find until visible").results:
                self.capture.measure("time_to_visible", (time.monotonic() - created) * 1000)
                return
            time.sleep(PAUSE_S)   # gevent's sleep: Locust patched the standard library
        self.capture.measure("time_to_visible", (time.monotonic() - created) * 1000, failure="never visible")


if __name__ == "__main__":
    run_single_user(TimeToVisible)

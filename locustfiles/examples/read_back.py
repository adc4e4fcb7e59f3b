"""Create a user, then read it back by uuid: the reliable read-after-write check.

    loadgen run --locustfile locustfiles/examples/read_back.py --scenario create --create-rate 10 --duration 30s

Both calls are in report.json/html/md: "create", and "entity by uuid", whose failures name the
Capture code (a "310 record_not_found" here means the record was not readable right after its create).
"""

from locust import run_single_user

from loadgen.locust.users import CaptureUser, paced


class ReadBack(CaptureUser):
    @paced("create")
    def create_then_read(self) -> None:
        made = self.capture.create()
        if made.ok and made.uuid:
            self.capture.entity(made.uuid, name="entity by uuid")


if __name__ == "__main__":
    run_single_user(ReadBack)

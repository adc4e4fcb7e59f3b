"""Create a user, then update it: a partial entity.update of one attribute, as a delta load does.

    loadgen run --locustfile locustfiles/examples/update_after_create.py --scenario create --create-rate 10

The update goes to the record just created (by uuid) and is reported as "update"; the ledger keeps
the record for cleanup. entity.replace and entity.delete are called the same way.
"""

from locust import run_single_user

from loadgen.locust.users import CaptureUser, paced


class UpdateAfterCreate(CaptureUser):
    @paced("create")
    def create_then_update(self) -> None:
        made = self.capture.create()
        if made.ok and made.uuid:
            self.capture.update(made.uuid, {"aboutMe": "updated by a load test"})


if __name__ == "__main__":
    run_single_user(UpdateAfterCreate)

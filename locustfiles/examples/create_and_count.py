"""A paced create and an ordinary Locust task in one user: adding the task never lowers the create rate.

    loadgen run --locustfile locustfiles/examples/create_and_count.py --scenario create --create-rate 20

The create follows --create-rate across the swarm; between arrivals each user runs its @task after
its own wait_time, as in any Locust user. A create due while every user is busy is served late
(counted from its intended start) or, a second late, counted as DROPPED: raise -u if you see those.
"""

from locust import run_single_user, task
from locust.user.wait_time import between

from loadgen.locust.users import CreateUser


class CreateAndCount(CreateUser):
    wait_time = between(0.05, 0.1)      # between ordinary tasks; creates keep their own pace

    @task
    def count(self) -> None:
        self.capture.count("email is not null", name="count")


if __name__ == "__main__":
    run_single_user(CreateAndCount)

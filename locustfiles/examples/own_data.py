"""Your own data as the profile source: each create sends the next row of a CSV file.

    loadgen run --locustfile locustfiles/examples/own_data.py --scenario create --create-rate 5

Point DATA at your file (one column per top-level string attribute; JSONL works the same with
json.loads per line). The rows are reused in turn; each email gets the run id and a sequence
number in front, so no two creates of a run, or of two runs, collide on the unique email.
"""

import csv
import itertools
from pathlib import Path

from locust import run_single_user

from loadgen.locust.users import CaptureUser, paced

DATA = Path(__file__).with_name("users.csv")
with DATA.open(encoding="utf-8", newline="") as file:
    ROWS = list(csv.DictReader(file))
SEQUENCE = itertools.count()


class OwnData(CaptureUser):
    @paced("create")
    def create_next_row(self) -> None:
        n = next(SEQUENCE)
        row = ROWS[n % len(ROWS)]
        self.capture.create({**row, "email": f"{self.capture.run_id}.{n}.{row['email']}"})


if __name__ == "__main__":
    run_single_user(OwnData)
